"""The SQL of an import, in batches: each batch is its own short transaction.

A batch is a range of an index (the staged rows' lines, the records' keys), bounded with
``ORDER BY ... LIMIT 1 OFFSET n``: no list of keys is ever sent to the database (SQLite allows only so
many variables in one statement) and none is held in memory. Each batch holds the embedded database's
write lock for a few tens of milliseconds, so reads and other writes keep being served between them.

The statements are the constant templates below; only the tables' and columns' quoted names (from the
models) are put into them, every value is a parameter.
"""

import time
from collections.abc import Callable
from typing import Any

import orjson
from django.db import connection, transaction
from django.utils import timezone

from ..models import ImportRow, Record

BATCH = 5000

_STAGED_BOUND = "SELECT line FROM {staged} WHERE job_id = %s AND line > %s ORDER BY line LIMIT 1 OFFSET %s"
_RECORD_BOUND = ("SELECT {key} FROM {record} WHERE dataset_id = %s AND generation = %s AND {key} > %s "
                 "ORDER BY {key} LIMIT 1 OFFSET %s")
# {upto}: the batch's upper bound, or nothing for the last batch.
# The old version by a correlated subquery: one probe of the unique index per row, whatever the planner
# believes about the tables' sizes.
_STAGE_FILE_ROWS = (
    "INSERT INTO {record} (dataset_id, generation, {key}, data, version, updated_at, deleted_at) "
    "SELECT %s, %s, s.{key}, s.data, COALESCE((SELECT o.version FROM {record} o WHERE o.dataset_id = %s "
    "AND o.generation = %s AND o.{key} = s.{key}), 0) + 1, %s, NULL FROM {staged} s "
    "WHERE s.job_id = %s AND s.line > %s {upto}")
_COPY_UNNAMED = (
    "INSERT INTO {record} (dataset_id, generation, {key}, data, version, updated_at, deleted_at) "
    "SELECT o.dataset_id, %s, o.{key}, o.data, o.version, o.updated_at, o.deleted_at FROM {record} o "
    "WHERE o.dataset_id = %s AND o.generation = %s AND o.{key} > %s {upto} "
    "AND NOT EXISTS (SELECT 1 FROM {staged} s WHERE s.job_id = %s AND s.{key} = o.{key})")
_DELETE_GENERATION = "DELETE FROM {record} WHERE dataset_id = %s AND generation = %s AND {key} > %s {upto}"
_DELETE_STAGED = "DELETE FROM {staged} WHERE job_id = %s AND line > %s {upto}"
_INSERT_STAGED = "INSERT INTO {staged} (job_id, line, {key}, data) VALUES (%s, %s, %s, %s)"
_COPY_STAGED = "COPY {staged} (job_id, line, {key}, data) FROM STDIN"
_GENERATIONS = "SELECT DISTINCT generation FROM {record} WHERE dataset_id = %s AND generation < %s"
_GENERATION_MAX = "SELECT MAX(generation) FROM {record} WHERE dataset_id = %s"
_DUPLICATE_GROUPS = ("(SELECT {key} AS k, MIN(line) AS first_line FROM {staged} WHERE job_id = %s "
                     "GROUP BY {key} HAVING COUNT(*) > 1)")
_DUPLICATES_COUNT = ("SELECT COUNT(*) - COUNT(DISTINCT s.{key}) FROM {staged} s JOIN {groups} d ON d.k = s.{key} "
                     "WHERE s.job_id = %s")
_DUPLICATES = ("SELECT s.line, s.{key}, d.first_line FROM {staged} s JOIN {groups} d ON d.k = s.{key} "
               "WHERE s.job_id = %s AND s.line > d.first_line ORDER BY s.line LIMIT %s")
_EXISTING = ("SELECT COUNT(*) FROM {staged} s JOIN {record} o ON o.dataset_id = %s AND o.generation = %s "
             "AND o.{key} = s.{key} WHERE s.job_id = %s")
_UNNAMED_LIVE = ("SELECT COUNT(*) FROM {record} o WHERE o.dataset_id = %s AND o.generation = %s "
                 "AND o.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM {staged} s WHERE s.job_id = %s "
                 "AND s.{key} = o.{key})")


def _sql(template: str, **parts: str) -> str:
    quote = connection.ops.quote_name
    names = {"record": quote(Record._meta.db_table), "staged": quote(ImportRow._meta.db_table), "key": quote("key")}
    if "groups" in template:
        names["groups"] = _DUPLICATE_GROUPS.format(**names)
    return template.format(**names, **parts)


def _scalar(template: str, params: list[Any]) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(_sql(template), params)
        row = cursor.fetchone()
    return row[0] if row else None


def _execute(template: str, params: list[Any], upto: str = "") -> int:
    with connection.cursor() as cursor:
        cursor.execute(_sql(template, upto=upto), params)
        return max(cursor.rowcount, 0)


def _let_others_write(started: float) -> None:
    """On SQLite, pause as long as the batch held the write lock (at most 50 ms): a waiting writer (a
    signed read records its audit event) polls for the lock and would otherwise rarely find it free."""
    if connection.vendor == "sqlite":
        time.sleep(min(time.monotonic() - started, 0.05))


def _batches(bound: str, params: list[Any], start: Any, column: str, run: Callable[[Any, str, list[Any]], int],
             progress: Callable[[int], None] | None = None) -> int:
    """Call ``run(low, upto, upto_params)`` for consecutive ranges of about BATCH rows of the index, each in
    its own transaction with ``progress(rows so far)``; returns the rows affected."""
    low, total = start, 0
    while True:
        high = _scalar(bound, [*params, low, BATCH - 1])
        upto, upto_params = ("", []) if high is None else (f"AND {column} <= %s", [high])
        started = time.monotonic()
        with transaction.atomic():
            total += run(low, upto, upto_params)
            if progress is not None:
                progress(total)
        _let_others_write(started)
        if high is None:
            return total
        low = high


def statistics_refresh(*, staged: bool = False, records: bool = False) -> None:
    """PostgreSQL: refresh the planner's statistics of a table that just grew or shrank by a whole file
    (autovacuum does so later); with stale ones it believes the table nearly empty and plans each batch
    as a scan of all of it. A sample, so a fraction of a second. SQLite plans by its indexes."""
    if connection.vendor != "postgresql":
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table, wanted in ((ImportRow._meta.db_table, staged), (Record._meta.db_table, records)):
            if wanted:
                cursor.execute(f"ANALYZE {quote(table)}")


def rows_insert(rows: list[tuple[int, int, str, dict[str, Any]]]) -> None:
    """Stage checked rows (job id, line, key, data), the JSON made by orjson: PostgreSQL's COPY, SQLite's
    one prepared statement for the batch (the ORM's bulk_create spends more time building objects and SQL
    than the database spends writing them)."""
    values = ((job_id, line, key, orjson.dumps(data).decode()) for job_id, line, key, data in rows)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(_sql(_COPY_STAGED)) as copy:
                for row in values:
                    copy.write_row(row)
        else:
            cursor.executemany(_sql(_INSERT_STAGED), list(values))


def file_rows_stage(*, job_id: int, dataset_id: int, old: int, new: int, progress: Callable[[int], None]) -> int:
    """Copy the job's staged rows into generation ``new``: version one more than the key's record in
    generation ``old`` (1 for a new key), not deleted, updated now."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())

    def run(low: int, upto: str, upto_params: list[Any]) -> int:
        return _execute(_STAGE_FILE_ROWS, [dataset_id, new, dataset_id, old, now, job_id, low, *upto_params], upto)

    return _batches(_STAGED_BOUND, [job_id], 0, "s.line", run, progress)


def unnamed_rows_copy(*, job_id: int, dataset_id: int, old: int, new: int, progress: Callable[[int], None]) -> int:
    """Upsert: copy the records of generation ``old`` whose key the file does not name into ``new``, as
    they are (version, time, deletion)."""

    def run(low: str, upto: str, upto_params: list[Any]) -> int:
        return _execute(_COPY_UNNAMED, [new, dataset_id, old, low, *upto_params, job_id], upto)

    return _batches(_RECORD_BOUND, [dataset_id, old], "", _sql("o.{key}"), run, progress)


def generation_delete(*, dataset_id: int, generation: int) -> int:
    """Delete one generation of a dataset's records, a batch per transaction."""

    def run(low: str, upto: str, upto_params: list[Any]) -> int:
        return _execute(_DELETE_GENERATION, [dataset_id, generation, low, *upto_params], upto)

    return _batches(_RECORD_BOUND, [dataset_id, generation], "", _sql("{key}"), run)


def staged_delete(*, job_id: int) -> int:
    """Delete the job's staged rows, a batch per transaction."""

    def run(low: int, upto: str, upto_params: list[Any]) -> int:
        return _execute(_DELETE_STAGED, [job_id, low, *upto_params], upto)

    return _batches(_STAGED_BOUND, [job_id], 0, "line", run)


def generations_below(*, dataset_id: int, served: int) -> list[int]:
    """The dataset's generations older than the served one (imports stage newer ones)."""
    with connection.cursor() as cursor:
        cursor.execute(_sql(_GENERATIONS), [dataset_id, served])
        return [row[0] for row in cursor.fetchall()]


def generation_max(*, dataset_id: int) -> int:
    return int(_scalar(_GENERATION_MAX, [dataset_id]) or 0)


def duplicates(*, job_id: int, limit: int) -> tuple[int, list[tuple[int, str, int]]]:
    """Staged rows whose key an earlier line already has: (how many, the first ``limit`` as (line, key,
    first line)). SQL groups them; nothing but the answer is held in memory."""
    count = int(_scalar(_DUPLICATES_COUNT, [job_id, job_id]) or 0)
    if not count:
        return 0, []
    with connection.cursor() as cursor:
        cursor.execute(_sql(_DUPLICATES), [job_id, job_id, limit])
        return count, [(line, key, first) for line, key, first in cursor.fetchall()]


def existing_count(*, job_id: int, dataset_id: int, generation: int) -> int:
    """Staged rows whose key the generation already has (their records are replaced)."""
    return int(_scalar(_EXISTING, [dataset_id, generation, job_id]) or 0)


def unnamed_live_count(*, job_id: int, dataset_id: int, generation: int) -> int:
    """Live (not deleted) records of the generation whose key the file does not name: what "replace all"
    deletes."""
    return int(_scalar(_UNNAMED_LIVE, [dataset_id, generation, job_id]) or 0)
