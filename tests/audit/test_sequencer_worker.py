"""With REDIS_URL set, the sequencer runs on a real Celery worker, woken after the action commits."""

import time

import pytest
from django.db import transaction

from audit.events import EventType
from audit.models import Checkpoint, LogLeaf
from audit.services import Actor, event_record
from tests.conftest import requires_redis


@requires_redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sequences_an_event_after_its_transaction_commits() -> None:
    from celery.contrib.testing.worker import start_worker

    from govplatform.celery_app import app

    assert not app.conf.task_always_eager
    app.control.purge()  # wake-ups left in the queue by earlier tests
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        with transaction.atomic():
            event = event_record(actor=Actor("user", "clerk"), action=EventType.USER_LOGGED_IN)
            assert not LogLeaf.objects.exists()  # nothing is enqueued before the commit
        deadline = time.monotonic() + 15
        while not LogLeaf.objects.filter(event=event).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert LogLeaf.objects.get(event=event).index == 0
    assert Checkpoint.objects.get().tree_size == 1
