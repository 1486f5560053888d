"""The Celery worker is killed (SIGKILL) in the middle of sequencing the audit log: no event is lost or
sequenced twice, and the log verifies after another worker finishes the work.

A real worker process on the test database and Redis, as production runs it; the test kills its process
group while checkpoints are being signed, as an OOM killer or a pulled plug would.
"""

import os
import signal
import time
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction

from audit.events import EventType
from audit.models import AuditEvent, Checkpoint, LogLeaf, LogState
from audit.services import Actor, event_record
from tests.conftest import is_postgres, requires_redis
from tests.exchange.test_request_clock_worker import WAIT_SECONDS, process_env, running, venv_command

pytestmark = [requires_redis, pytest.mark.django_db(transaction=True)]

EVENTS = 12_000  # 24 batches of 500, each with its signed checkpoint: the worker is caught in the middle


def worker_command(name: str) -> list[str]:
    return [venv_command("celery"), "-A", "govplatform.celery_app", "--quiet", "worker", "--pool", "solo",
            "--loglevel", "warning", "--hostname", f"{name}-{os.getpid()}@%h", "--without-mingle",
            "--without-gossip", "--without-heartbeat"]


def wait_until(condition: object, what: str, timeout: float = WAIT_SECONDS, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(every)


def test_a_worker_killed_mid_sequencing_loses_nothing_and_sequences_nothing_twice() -> None:
    if not is_postgres():
        pytest.skip("a worker process shares the test database on PostgreSQL")
    from audit.tasks import log_sequence_task
    from govplatform.celery_app import app

    app.control.purge()
    with transaction.atomic():  # one commit, so the worker finds them all waiting
        for n in range(EVENTS):
            event_record(actor=Actor("user", f"clerk-{n % 17}"), action=EventType.USER_LOGGED_IN,
                         object_id=f"clerk-{n % 17}", detail={"ip": "198.51.100.1"})
    assert not LogLeaf.objects.exists()

    env = process_env(AUDIT_CHECKPOINT_INTERVAL="0")  # a checkpoint per batch: the kill lands between two
    with running(worker_command("doomed"), env, cwd=settings.BASE_DIR) as doomed:
        log_sequence_task.delay()
        wait_until(lambda: Checkpoint.objects.exists(), "the first worker signs a checkpoint", every=0.005)
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=10)
    cut = LogLeaf.objects.count()
    assert 0 < cut < EVENTS, f"the worker was not caught mid-way ({cut} of {EVENTS}): the test proves nothing"
    # The batch in flight rolled back with its checkpoint: the log's state, leaves and checkpoints agree.
    assert LogState.objects.get().size == cut
    assert Checkpoint.objects.order_by("-tree_size").first().tree_size == cut  # type: ignore[union-attr]

    app.control.purge()  # the killed worker's unacknowledged message, if Redis redelivers it later
    with running(worker_command("survivor"), env, cwd=settings.BASE_DIR) as survivor:
        log_sequence_task.delay()
        wait_until(lambda: LogLeaf.objects.count() == EVENTS, "the second worker finishes")
        assert survivor.poll() is None

    leaves = list(LogLeaf.objects.order_by("index").values_list("index", "event_id"))
    assert [index for index, _ in leaves] == list(range(EVENTS)), "every index once, no gap"
    assert sorted(event for _, event in leaves) == sorted(AuditEvent.objects.values_list("id", flat=True)), \
        "every event once"
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert f"leaves: {EVENTS}" in out.getvalue() and "OK:" in out.getvalue()
