"""With REDIS_URL set, a large file's check and apply run on a real Celery worker, enqueued after commit."""

import time
from typing import Any

import pytest
from django.conf import settings

from catalog.imports.dispatch import step_dispatch
from catalog.imports.services import import_apply_start, import_upload
from catalog.models import Dataset, ImportJob, ImportMode, ImportState
from tests.catalog.conftest_imports import VACCINATION_HEADER, csv_bytes, records_of
from tests.conftest import RECORD_KEY, requires_redis


def wait_for(job: ImportJob, state: str) -> ImportJob:
    deadline = time.monotonic() + 30
    while job.state != state and job.state != ImportState.FAILED and time.monotonic() < deadline:
        time.sleep(0.05)
        job.refresh_from_db()
    assert job.state == state, job.error
    return job


@requires_redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_checks_and_applies_a_large_file(vaccinations: Dataset, health_clerk: Any,
                                                       settings: Any) -> None:
    from celery.contrib.testing.worker import start_worker

    from govplatform.celery_app import app

    settings.IMPORT_INLINE_MAX_BYTES = 0  # every file counts as large here
    assert not app.conf.task_always_eager
    app.control.purge()  # wake-ups left in the queue by earlier tests
    content = csv_bytes(VACCINATION_HEADER, *[f"2201011990{i:08d},Name {i},measles,2026-04-01" for i in range(500)],
                        f"{RECORD_KEY},Li Wei,measles,2026-04-02")
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        job = import_upload(dataset=vaccinations, actor=health_clerk, source=content)
        step_dispatch("check", job)
        job = wait_for(job, ImportState.CHECKED)
        assert (job.rows, job.problems) == (501, 0)
        job = import_apply_start(job=job, actor=health_clerk, mode=ImportMode.UPSERT)
        step_dispatch("apply", job)
        job = wait_for(job, ImportState.APPLIED)
    assert (job.created, job.updated) == (500, 1)
    assert len(records_of(vaccinations)) == 501


def test_the_task_is_registered_under_its_name() -> None:
    from govplatform.celery_app import app

    app.loader.import_default_modules()
    assert "catalog.import_step" in app.tasks
    assert (not settings.REDIS_URL) == settings.CELERY_TASK_ALWAYS_EAGER
