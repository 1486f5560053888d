"""The request clock as each deployment runs it, on an overdue request: a real ``celery beat`` and a real worker on
Redis (production); the task run in-process (the embedded default, Celery eager); and the embedded beat inside
``manage.py runserver`` (the embedded default's periodic work). Each escalates the request once, with its audit
event and the data authority's notification.

The processes serve the test database (transactional tests: what they write is committed and seen here).
"""

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from audit.models import AuditEvent
from catalog.models import Dataset
from core.workdays import working_day_add
from exchange.models import AccessRequest, Purpose
from exchange.services import access_request_file
from notifications.models import Notification, NotificationKind
from registry.models import PlatformRole, PlatformRoleName, System
from tests.conftest import database_env, make_user, requires_redis

pytestmark = pytest.mark.django_db(transaction=True)

#: How long a process may take to start and do its work before the test gives up.
WAIT_SECONDS = 60


def process_env(**variables: str) -> dict[str, str]:
    return {**os.environ, **database_env(), "PLATFORM_SIGNING_KEY_FILE": str(settings.PLATFORM_SIGNING_KEY_FILE),
            "PLATFORM_DATA_DIR": str(settings.DATA_DIR), "PYTHONUNBUFFERED": "1", **variables}


def venv_command(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


@pytest.fixture
def overdue(health_approver: Any, police_clerk: Any, police_system: System, vaccinations: Dataset) -> AccessRequest:
    """A request submitted a month ago, its deadline past; the platform has a data authority."""
    authority = make_user("data-authority", None)
    PlatformRole.objects.create(user=authority, role=PlatformRoleName.DATA_AUTHORITY)
    # The vocabulary's data migration, again: an earlier transactional test's flush emptied the table.
    Purpose.objects.get_or_create(code="law-enforcement.investigation", defaults={
        "label_zh": "案件侦查与办理", "label_en": "Criminal investigation and case handling"})
    request = access_request_file(consumer=police_system, dataset=vaccinations, actor=police_clerk, fields=["vaccine"],
                                  purpose_code="law-enforcement.investigation", purpose="Checking an alibi",
                                  legal_basis="Criminal Procedure Law art. 54")
    submitted = timezone.localdate() - dt.timedelta(days=30)
    AccessRequest.objects.filter(pk=request.pk).update(
        submitted_at=timezone.now() - dt.timedelta(days=30),
        due_date=working_day_add(submitted, settings.REQUEST_DEADLINE_WORKING_DAYS))
    request.refresh_from_db()
    assert request.due_date is not None and request.due_date < timezone.localdate()
    return request


def escalated(request: AccessRequest) -> bool:
    return AuditEvent.objects.filter(action="access_request.escalated", object_id=str(request.pk)).exists()


def wait_for_escalation(request: AccessRequest, *processes: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not escalated(request):
        for process in processes:
            assert process.poll() is None, f"{process.args!r} exited with {process.returncode}"
        assert time.monotonic() < deadline, f"no escalation within {WAIT_SECONDS}s"
        time.sleep(0.2)


def assert_escalated_once(request: AccessRequest) -> None:
    [event] = AuditEvent.objects.filter(action="access_request.escalated", object_id=str(request.pk))
    assert (event.actor_type, event.actor_id) == ("platform", "request-clock")
    assert event.detail == {"due_date": request.due_date.isoformat() if request.due_date else None,
                            "department": "health"}
    assert AccessRequest.objects.get(pk=request.pk).escalated_at is not None
    told = Notification.objects.filter(kind=NotificationKind.REQUEST_ESCALATED, params__request=request.pk)
    assert sorted(told.values_list("recipient__username", flat=True)) == ["data-authority", "health-approver"]


@contextmanager
def running(command: list[str], env: dict[str, str], *, cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process of its own session (its children with it), stopped with SIGTERM (a warm shutdown for Celery),
    killed if it has not stopped 20 seconds later."""
    process = subprocess.Popen(command, cwd=cwd, env=env, start_new_session=True)
    try:
        yield process
    finally:
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue


@requires_redis
def test_a_real_beat_and_worker_escalate_an_overdue_request(overdue: AccessRequest, tmp_path: Path) -> None:
    from govplatform.celery_app import app

    assert not app.conf.task_always_eager
    app.control.purge()  # messages left by earlier tests
    env = process_env(REQUESTS_CLOCK_INTERVAL="1")
    celery = [venv_command("celery"), "-A", "govplatform.celery_app", "--quiet"]
    worker = [*celery, "worker", "--pool", "solo", "--loglevel", "warning", "--hostname", f"clock-{os.getpid()}@%h",
              "--without-mingle", "--without-gossip", "--without-heartbeat"]
    beat = [*celery, "beat", "--loglevel", "warning", "--schedule", str(tmp_path / "beat-schedule"),
            "--max-interval", "1"]
    try:
        with running(worker, env, cwd=settings.BASE_DIR) as worker_process, \
                running(beat, env, cwd=settings.BASE_DIR) as beat_process:
            wait_for_escalation(overdue, worker_process, beat_process)
            time.sleep(3)  # beat sends the clock every second: the worker runs it again, and does nothing
            assert worker_process.poll() is None and beat_process.poll() is None
        assert worker_process.returncode is not None and beat_process.returncode is not None
    finally:
        app.control.purge()  # what beat sent that no worker took
    assert_escalated_once(overdue)


def test_in_the_embedded_default_the_clock_task_runs_in_process(overdue: AccessRequest, eager_celery: None) -> None:
    from exchange.tasks import requests_clock_task

    result = requests_clock_task.delay()
    # The eager result's value, read directly: get() refuses when Celery believes the caller is itself a task
    # (a flag another test's thread can leave set), which says nothing about the clock.
    assert result.successful() and result.result == {"reminded": 0, "escalated": 1, "expiring": 0}
    assert_escalated_once(overdue)
    assert requests_clock_task.delay().result == {"reminded": 0, "escalated": 0, "expiring": 0}
    assert_escalated_once(overdue)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_runserver_in_the_embedded_default_runs_the_clock_by_itself(overdue: AccessRequest) -> None:
    """``make demo``'s server, with its autoreloader: the serving process runs the periodic work (no broker, no
    beat process, nobody calls the task)."""
    env = process_env(REQUESTS_CLOCK_INTERVAL="1")
    env.pop("REDIS_URL", None)  # the embedded default: Celery eager
    env.pop("EMBEDDED_BEAT", None)  # on by default
    command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{free_port()}"]
    with running(command, env, cwd=settings.BASE_DIR) as server:
        wait_for_escalation(overdue, server)
    assert_escalated_once(overdue)
