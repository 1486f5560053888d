"""Large files: the issue's 440,000-row file (about 50 MB) imports on SQLite and PostgreSQL in bounded
memory, and while an import runs on the embedded database, signed reads keep being served.

These take tens of seconds each: they are the ones the issue was about.
"""

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, connections

from catalog.imports.dispatch import step_run
from catalog.imports.services import import_apply_start, import_report, import_upload, records_import
from catalog.models import Dataset, ImportJob, ImportMode, ImportState, Record
from catalog.selectors import record_get
from tests.catalog.conftest_imports import big_vaccinations_csv
from tests.conftest import RECORD_KEY, record_path

ROWS = 440_000
MEMORY_BOUND_MIB = 150  # the issue measured 750 MiB resident before the import failed

postgres = [pytest.mark.postgres, pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"], reason="needs PostgreSQL via DATABASE_URL")]
sqlite = pytest.mark.skipif("sqlite" not in settings.DATABASES["default"]["ENGINE"],
                            reason="the embedded default's single write lock")


def _status() -> dict[str, int]:
    """This process's resident set and its peak since the last reset, in KiB (Linux)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return {name: int(fields[name].split()[0]) for name in ("VmRSS", "VmHWM")}


def _peak_reset() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = big_vaccinations_csv(tmp_path_factory.mktemp("import") / "vaccinations.csv", ROWS, include=RECORD_KEY)
    assert path.stat().st_size <= settings.IMPORT_MAX_UPLOAD_BYTES  # inside the upload limit, as in the issue
    return path


def _import_the_big_file(dataset: Dataset, actor: Any, big_file: Path) -> None:
    _peak_reset()
    before = _status()["VmRSS"]
    report = records_import(dataset=dataset, source=big_file, actor=actor, mode=ImportMode.REPLACE)
    grown_mib = (_status()["VmHWM"] - before) / 1024
    print(f"\n{connection.vendor}: {ROWS:,} rows, peak RSS {_status()['VmHWM'] / 1024:.0f} MiB, "
          f"{grown_mib:.0f} MiB above the {before / 1024:.0f} MiB before the import")
    assert report.ok, [(p.line, p.message) for p in report.problems[:5]]
    assert (report.rows, report.created, report.updated, report.deleted) == (ROWS, ROWS - 1, 1, 0)
    dataset.refresh_from_db()
    assert Record.objects.filter(dataset=dataset, generation=dataset.records_generation).count() == ROWS
    assert Record.objects.filter(dataset=dataset).count() == ROWS  # the old generation is gone
    assert record_get(dataset=dataset, key=RECORD_KEY).version == 2
    assert grown_mib < MEMORY_BOUND_MIB


@pytest.mark.django_db
@sqlite
def test_the_440000_row_file_imports_on_sqlite(vaccinations: Dataset, health_clerk: Any, big_file: Path) -> None:
    _import_the_big_file(vaccinations, health_clerk, big_file)


@pytest.mark.django_db
@pytest.mark.postgres
@postgres[1]
def test_the_440000_row_file_imports_on_postgresql(vaccinations: Dataset, health_clerk: Any,
                                                   big_file: Path) -> None:
    _import_the_big_file(vaccinations, health_clerk, big_file)


@pytest.mark.django_db
def test_a_file_with_a_duplicate_far_apart_is_reported_in_bounded_memory(vaccinations: Dataset,
                                                                         health_clerk: Any, tmp_path: Path) -> None:
    """The duplicate-key check runs in SQL over the staged rows, not in a dict of every key."""
    path = big_vaccinations_csv(tmp_path / "dup.csv", 100_000)
    with path.open("a") as handle:
        handle.write("220101199000000007,Li,x,2026-04-01\n")
    report = records_import(dataset=vaccinations, source=path, actor=health_clerk)
    assert [(p.line, p.kind, p.other_line) for p in report.problems] == [(100_002, "duplicate_key", 9)]
    assert Record.objects.filter(dataset=vaccinations).count() == 1


@sqlite
@pytest.mark.django_db(transaction=True)
def test_signed_reads_are_served_while_a_large_import_runs(vaccinations: Dataset, health_clerk: Any,
                                                            police_key: Any, police_grant: Any, signed_get: Any,
                                                            tmp_path: Path) -> None:
    """The issue: while a 35,000-row import ran on the embedded database, signed reads failed with 503 for
    20 seconds. The import now holds the write lock a batch at a time, so every read is answered."""
    path = big_vaccinations_csv(tmp_path / "records.csv", 100_000, include=RECORD_KEY)
    failures: list[BaseException] = []

    def run() -> None:
        """What the admin's background steps do (catalog.imports.dispatch), in a thread of this process."""
        try:
            job = import_upload(dataset=Dataset.objects.get(pk=vaccinations.pk), actor=health_clerk, source=path)
            step_run("check", job.pk)
            import_apply_start(job=ImportJob.objects.get(pk=job.pk), actor=health_clerk, mode=ImportMode.UPSERT)
            step_run("apply", job.pk)
        except BaseException as exc:  # reported by the test below
            failures.append(exc)
        finally:
            connections.close_all()

    worker = threading.Thread(target=run)
    statuses: Counter[int] = Counter()
    states: Counter[str] = Counter()
    slowest = 0.0
    worker.start()
    while worker.is_alive():
        started = time.monotonic()
        response = signed_get(record_path())
        slowest = max(slowest, time.monotonic() - started)
        statuses[response.status_code] += 1
        job = ImportJob.objects.filter(dataset=vaccinations).first()
        states[job.state if job else "uploading"] += 1
        # A direct read as well, on this thread's own connection.
        assert record_get(dataset=Dataset.objects.get(pk=vaccinations.pk), key=RECORD_KEY) is not None
    worker.join()
    print(f"\nreads during the import: {dict(statuses)}, by the job's state {dict(states)}, "
          f"slowest {slowest * 1000:.0f} ms")
    assert not failures, failures
    assert set(statuses) == {200}
    assert states[ImportState.CHECKING] and states[ImportState.APPLYING]  # reads ran during both steps
    job = ImportJob.objects.get(dataset=vaccinations)
    assert import_report(job).ok and job.rows == 100_000
