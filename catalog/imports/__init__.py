"""Onboarding data: upload a file of records, check it (the dry run), then apply it as a new records generation.

- ``readers``: stream CSV (encoding detected from its bytes), XLSX and JSON Lines from disk, a row at a time;
- ``values``: a cell as a field's typed value, and how a value is shown in a report (masked when personal);
- ``inference``: propose a schema (types, lookup key, citizen identifiers) from a file for a new dataset;
- ``staging``: the SQL that copies staged rows into the next generation and deletes old ones, in short batches;
- ``services``: the jobs: upload, check, apply (and the synchronous ``records_import``);
- ``dispatch``: where a long step runs (inline, a thread of this process, or a Celery worker);
- ``template_files``: the CSV and XLSX templates of a dataset.
"""
