"""An export made by a real Celery worker on Redis, as in production: queued by the signed call, made by the worker
(its progress reaching the total), downloaded once with the digest the log holds. The worker serves the test
database (a transactional test: what it writes is committed and seen here)."""

import hashlib
import os
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.test import Client

from audit.models import AuditEvent
from catalog.models import Dataset, Record
from exchange.models import ExportJob, ExportState, Grant
from registry.models import SystemKey
from tests.conftest import requires_redis, signed_post
from tests.exchange.test_exports import PATH
from tests.exchange.test_request_clock_worker import WAIT_SECONDS, process_env, running, venv_command

pytestmark = pytest.mark.django_db(transaction=True)


@requires_redis
def test_a_real_worker_makes_the_export(police_private_key: Ed25519PrivateKey, police_key: SystemKey,
                                        police_grant: Grant, vaccinations: Dataset, signed_get: Any,
                                        tmp_path: Path) -> None:
    from govplatform.celery_app import app

    assert not app.conf.task_always_eager
    Record.objects.bulk_create([Record(dataset=vaccinations, key=f"k{n:05d}", data={
        "citizen_id": f"k{n:05d}", "vaccine": "measles", "dose_date": "2026-01-01"}) for n in range(4500)])
    app.control.purge()
    created = signed_post(PATH, {"format": "jsonl"}, police_private_key)
    assert created.status_code == 202, created.content
    job = ExportJob.objects.get()
    worker = [venv_command("celery"), "-A", "govplatform.celery_app", "--quiet", "worker", "--pool", "solo",
              "--loglevel", "warning", "--hostname", f"export-{os.getpid()}@%h", "--without-mingle",
              "--without-gossip", "--without-heartbeat"]
    try:
        with running(worker, process_env(), cwd=settings.BASE_DIR) as process:
            deadline = time.monotonic() + WAIT_SECONDS
            while ExportJob.objects.get(pk=job.pk).state not in (ExportState.DONE, ExportState.FAILED):
                assert process.poll() is None, "the worker exited"
                assert time.monotonic() < deadline, "the export was not made in time"
                time.sleep(0.2)
    finally:
        app.control.purge()
    job.refresh_from_db()
    assert (job.state, job.rows_done, job.rows_total) == (ExportState.DONE, 4501, 4501)
    status = signed_get(created.json()["status_url"]).json()
    content = b"".join(Client().get(status["download_url"]).streaming_content)
    assert len(content.splitlines()) == 4501
    assert orjson.loads(content.splitlines()[0])["fields"].keys() == {"vaccine", "dose_date"}
    digest = hashlib.sha256(content).hexdigest()
    assert AuditEvent.objects.get(action="export.completed").detail["file_digest"] == digest == job.file_digest
