"""Figure 5: the platform's import of N CSV rows against PostgreSQL ``COPY`` of the same file, with peak memory.

``python -m bench.import_figure --rows N`` under the bench settings, on the bench database. It writes a
CSV of N vaccination records (the shape of the 440,000-row file of the tests: about 114 bytes a row,
so 1,000,000 rows are about 114 MB; the 50 MB upload limit is lifted for the run), registers a dataset
for it through the catalogue's services, then runs, each in a child process of its own:

- the subject: ``catalog.imports.services.records_import`` (dry run, staging, the switch to the new
  generation, deleting the old one: everything a clerk's "replace all" does), timed inside the child
  from the call to its return;
- the baseline (PostgreSQL only): ``COPY ... FROM STDIN (FORMAT csv, HEADER)`` of the same file into a
  plain table (no index) with psycopg, streamed, timed the same way; run before and after the subject,
  the faster counts.

Each child's peak memory is its own high-water mark (``VmHWM`` of ``/proc/self/status``, read as it
ends), not ``ru_maxrss`` from ``os.wait4``: Linux carries the parent's high-water mark into a child
across fork and exec, so a child of this Django process would show this process's size (``ru_maxrss``
is kept in the JSON beside it). The platform's child also reports how far its resident set rose above
what it was once Django had started. Prints JSON.

``--subject`` and ``--copy`` are the children's entry points.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
HEADER = "citizen_id,full_name,vaccine,dose_date\n"


def write_csv(path: Path, rows: int) -> int:
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(HEADER)
        for i in range(rows):
            handle.write(f"2201011990{i:08d},李伟{i % 97} Zhang Wei Li Hua Wang Fang,"
                         f"hepatitis-b dose {i % 3} at Dongcheng District clinic,2026-04-{1 + i % 28:02d}\n")
    return path.stat().st_size


def _memory_kib() -> dict[str, int]:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return {name: int(fields[name].split()[0]) for name in ("VmRSS", "VmHWM")}


def _child(args: list[str], module: str = "bench.import_figure") -> tuple[dict[str, Any], int]:
    """Run ``python -m <module> <args>``; its JSON and its peak resident set (KiB)."""
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen([sys.executable, "-m", module, *args], cwd=BASE_DIR,
                                   stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        errors = process.stderr.read().decode(errors="replace") if process.stderr else ""
        out.seek(0)
        output = out.read().decode()
    if process.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed ({process.returncode}):\n"
                           f"{output[-2000:]}\n{errors[-3000:]}")
    return json.loads(output), usage.ru_maxrss


def subject(dataset_id: int, user_id: int, path: str) -> dict[str, Any]:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from catalog.imports.services import records_import
    from catalog.models import Dataset

    settings.IMPORT_MAX_UPLOAD_BYTES = 1 << 40  # the bench's file is larger than a clerk's upload may be
    dataset = Dataset.objects.get(pk=dataset_id)
    user = get_user_model().objects.get(pk=user_id)
    start_kib = _memory_kib()["VmRSS"]
    started = time.perf_counter()
    report = records_import(dataset=dataset, source=Path(path), actor=user, mode="replace")
    seconds = time.perf_counter() - started
    job = report.job
    if not report.ok:
        raise RuntimeError(f"the import was not applied: {job.state} {job.error} "
                           f"{[(p.line, p.message) for p in report.problems[:3]]}")
    assert job.checked_at is not None and job.applied_at is not None
    return {"seconds": seconds, "rows": job.rows, "rss_start_kib": start_kib, "rss_peak_kib": _memory_kib()["VmHWM"],
            "check_seconds": (job.checked_at - job.created_at).total_seconds(),
            "apply_seconds": (job.applied_at - job.checked_at).total_seconds()}


def copy(path: str) -> dict[str, Any]:
    """The baseline: psycopg's COPY of the file into a plain table, streamed in 1 MiB chunks."""
    import psycopg

    url = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_import_copy")
        conn.execute("CREATE TABLE bench_import_copy (citizen_id text, full_name text, vaccine text, dose_date date)")
        started = time.perf_counter()
        with conn.cursor() as cursor, Path(path).open("rb") as handle, cursor.copy(
                "COPY bench_import_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as pipe:
            while chunk := handle.read(1024 * 1024):
                pipe.write(chunk)
        seconds = time.perf_counter() - started
        rows = conn.execute("SELECT COUNT(*) FROM bench_import_copy").fetchone()
        conn.execute("DROP TABLE bench_import_copy")
    return {"seconds": seconds, "rows": rows[0] if rows else 0, "rss_peak_kib": _memory_kib()["VmHWM"]}


def bench_dataset() -> tuple[Any, Any]:
    """The ``bench-import`` dataset (registered on first use) and the bench's importing user (Django set up)."""
    from django.contrib.auth import get_user_model

    from catalog.models import Dataset
    from catalog.services import FieldSpec, dataset_register
    from registry.models import Department

    user, _ = get_user_model().objects.get_or_create(username="bench-importer",
                                                     defaults={"is_staff": True, "is_superuser": True})
    owner = Department.objects.order_by("pk").first()
    if owner is None:
        raise RuntimeError("no department: run demo_setup first")
    dataset = Dataset.objects.filter(identifier="bench-import").first() or dataset_register(
        actor=user, owner=owner, identifier="bench-import", title="Bench import", tier="unconditional",
        personal_data=True, fields=[FieldSpec("citizen_id", "string", "personal", True, True),
                                    FieldSpec("full_name", "string", "personal"), FieldSpec("vaccine"),
                                    FieldSpec("dose_date", "date")])
    return dataset, user


def measure(rows: int) -> dict[str, Any]:
    import django

    django.setup()
    from django.conf import settings

    dataset, user = bench_dataset()
    with tempfile.TemporaryDirectory(dir=settings.DATA_DIR) as folder:
        path = Path(folder) / "records.csv"
        size = write_csv(path, rows)
        postgres = bool(os.environ.get("DATABASE_URL"))
        copies = [_child(["--copy", str(path)])] if postgres else []
        platform, platform_peak = _child(["--subject", str(dataset.pk), str(user.pk), str(path)])
        if postgres:
            copies.append(_child(["--copy", str(path)]))
    result: dict[str, Any] = {
        "rows": rows, "file_bytes": size, "database": "postgresql" if postgres else "sqlite",
        "platform": {**platform, "rows_per_second": rows / platform["seconds"], "peak_kib": platform["rss_peak_kib"],
                     "ru_maxrss_kib": platform_peak,
                     "above_start_kib": platform["rss_peak_kib"] - platform["rss_start_kib"]},
    }
    if copies:
        best, maxrss = min(copies, key=lambda c: c[0]["seconds"])
        result["copy"] = {**best, "rows_per_second": rows / best["seconds"], "peak_kib": best["rss_peak_kib"],
                          "ru_maxrss_kib": maxrss, "runs_seconds": [c[0]["seconds"] for c in copies]}
        result["ratio"] = result["platform"]["rows_per_second"] / result["copy"]["rows_per_second"]
        result["memory_ratio"] = result["platform"]["peak_kib"] / result["copy"]["peak_kib"]
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int)
    parser.add_argument("--subject", nargs=3, metavar=("DATASET", "USER", "PATH"))
    parser.add_argument("--copy", metavar="PATH")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    if args.subject:
        result = subject(int(args.subject[0]), int(args.subject[1]), args.subject[2])
    elif args.copy:
        result = copy(args.copy)
    else:
        result = measure(args.rows or 1_000_000)
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
