"""Figure 6: the platform's masked export of N records against PostgreSQL ``COPY ... TO STDOUT``, with peak memory.

``python -m bench.export_figure --rows N`` under the bench settings, on the bench database, after figure
5 (whose ``bench-import`` dataset it exports; with fewer than N records there, it imports N first, as
figure 5 does). A system of another department gets a grant on all four fields with two of them
masked (``full_name`` partial, ``dose_date`` generalised), and an export job of the dataset to CSV is
created for it. Then, each in a child process of its own (peak memory = the child's ``VmHWM``, as in
figure 5):

- the subject: ``exchange.exports.export_run``, what the Celery task runs: every record streamed in
  key order, masked as the read API masks it, written to a 0600 file with its SHA-256, the progress
  updated, the ``export.completed`` event recorded; timed from the call to its return;
- the baseline (PostgreSQL only): psycopg's ``COPY (SELECT key, data FROM catalog_record WHERE ...
  ORDER BY id) TO STDOUT (FORMAT csv)`` of the same records, written to a file; run before and after
  the subject, the faster counts.

Prints JSON. ``--subject`` and ``--copy`` are the children's entry points.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.import_figure import _child as _import_figure_child
from bench.import_figure import _memory_kib, bench_dataset, write_csv


def _child(args: list[str]) -> tuple[dict[str, Any], int]:
    return _import_figure_child(args, module="bench.export_figure")


def subject(job_id: int) -> dict[str, Any]:
    import django

    django.setup()
    from exchange.exports import export_run

    start_kib = _memory_kib()["VmRSS"]
    started = time.perf_counter()
    job = export_run(job_id=job_id)
    seconds = time.perf_counter() - started
    if job.state != "done":
        raise RuntimeError(f"the export did not finish: {job.state} {job.error}")
    return {"seconds": seconds, "rows": job.rows_done, "file_bytes": job.file_size, "rss_start_kib": start_kib,
            "rss_peak_kib": _memory_kib()["VmHWM"]}


def copy(dataset_id: int, generation: int) -> dict[str, Any]:
    import psycopg

    url = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
    query = ("COPY (SELECT key, data FROM catalog_record WHERE dataset_id = %s AND generation = %s AND deleted_at IS "
             "NULL ORDER BY id) TO STDOUT (FORMAT csv)")
    rows = 0
    with psycopg.connect(url, autocommit=True) as conn, tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        with conn.cursor() as cursor, cursor.copy(query, (dataset_id, generation)) as pipe:
            for chunk in pipe:
                out.write(chunk)
                rows += bytes(chunk).count(b"\n")
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": rows, "rss_peak_kib": _memory_kib()["VmHWM"]}


def measure(rows: int) -> dict[str, Any]:
    import django

    django.setup()
    import datetime as dt

    from django.conf import settings
    from django.utils import timezone

    from catalog.imports.services import records_import
    from catalog.models import Record
    from exchange.models import ExportJob, Grant
    from registry.models import Department, System

    dataset, user = bench_dataset()
    owner = dataset.owner
    served = Record.objects.filter(dataset=dataset, generation=dataset.records_generation, deleted_at__isnull=True)
    if served.count() < rows:
        settings.IMPORT_MAX_UPLOAD_BYTES = 1 << 40
        with tempfile.TemporaryDirectory(dir=settings.DATA_DIR) as folder:
            path = Path(folder) / "records.csv"
            write_csv(path, rows)
            records_import(dataset=dataset, source=path, actor=user, mode="replace")
        dataset.refresh_from_db()
    total = Record.objects.filter(dataset=dataset, generation=dataset.records_generation,
                                  deleted_at__isnull=True).count()
    consumer_department = Department.objects.exclude(pk=dataset.owner_id).order_by("pk").first() or owner
    system, _ = System.objects.get_or_create(code="bench-export", defaults={
        "department": consumer_department, "name": "Bench export consumer"})
    now = timezone.now()
    fields = ["citizen_id", "full_name", "vaccine", "dose_date"]
    grant = Grant.objects.create(consumer=system, dataset=dataset, allowed_fields=fields, purpose_code="bench.export",
                                 purpose="Bench", valid_from=now - dt.timedelta(minutes=1),
                                 valid_until=now + dt.timedelta(days=1),
                                 masking={"full_name": "partial", "dose_date": "generalise"})
    job = ExportJob.objects.create(system=system, dataset=dataset, grant=grant, format="csv", fields=fields,
                                   rows_total=total)
    postgres = bool(os.environ.get("DATABASE_URL"))
    copy_args = ["--copy", str(dataset.pk), str(dataset.records_generation)]
    copies = [_child(copy_args)] if postgres else []
    platform, platform_peak = _child(["--subject", str(job.pk)])
    if postgres:
        copies.append(_child(copy_args))
    Path(settings.DATA_DIR, "exports", f"{job.uid}.csv").unlink(missing_ok=True)
    result: dict[str, Any] = {
        "rows": total, "database": "postgresql" if postgres else "sqlite", "masking": grant.masking,
        "platform": {**platform, "rows_per_second": total / platform["seconds"], "peak_kib": platform["rss_peak_kib"],
                     "ru_maxrss_kib": platform_peak,
                     "above_start_kib": platform["rss_peak_kib"] - platform["rss_start_kib"]},
    }
    if copies:
        best, maxrss = min(copies, key=lambda c: c[0]["seconds"])
        result["copy"] = {**best, "rows_per_second": total / best["seconds"], "peak_kib": best["rss_peak_kib"],
                          "ru_maxrss_kib": maxrss, "runs_seconds": [c[0]["seconds"] for c in copies]}
        result["ratio"] = result["platform"]["rows_per_second"] / result["copy"]["rows_per_second"]
        result["memory_ratio"] = result["platform"]["peak_kib"] / result["copy"]["peak_kib"]
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int)
    parser.add_argument("--subject", type=int, metavar="JOB")
    parser.add_argument("--copy", nargs=2, metavar=("DATASET", "GENERATION"))
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    if args.subject:
        result = subject(args.subject)
    elif args.copy:
        result = copy(int(args.copy[0]), int(args.copy[1]))
    else:
        result = measure(args.rows or 1_000_000)
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
