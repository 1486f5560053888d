"""The embedded default's beat: the periodic work of CELERY_BEAT_SCHEDULE, run inside the web process.

In production (REDIS_URL set) ``celery beat`` sends each entry of ``CELERY_BEAT_SCHEDULE`` to the workers.
The embedded default has no broker and no beat process, yet its periodic work must still happen: the audit
sequencer's catch-up, the request clock (reminders, escalations), pending emails, the nonce purge. So the
serving process of ``manage.py runserver`` runs this small scheduler in a daemon thread: every entry is run
in-process (``task.apply()``), first shortly after start (catching up whatever waited while nothing ran),
then at its interval. Crontab-like entries run at their next time, as beat runs them. Every entry is
idempotent, so the autoreloader's restarts repeat nothing that matters. A failing entry is logged and runs
again at its next time; the thread's database connections are closed after every run.

``govplatform.apps`` starts it (``start_if_serving``) only when Celery is eager (no REDIS_URL) and
EMBEDDED_BEAT is on, and only in the process that serves: the runserver child that the autoreloader starts
(RUN_MAIN=true), or runserver --noreload. Never in another management command, a Celery worker or pytest
(unless a test starts one itself).
"""

import datetime as dt
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from celery.schedules import BaseSchedule, maybe_schedule, schedule
from django.conf import settings
from django.db import connections

from .celery_app import app

logger = logging.getLogger(__name__)

#: The first run of an interval entry comes this long after start, or after its interval if that is shorter.
FIRST_RUN_DELAY_SECONDS = 5.0


@dataclass
class Entry:
    """One entry of the schedule and its own timing (``time.monotonic()`` seconds)."""

    name: str
    task: str
    timing: BaseSchedule
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    next_run: float = 0.0
    last_run_at: dt.datetime | None = None
    runs: int = 0
    failures: int = 0

    @property
    def interval(self) -> float | None:
        """Seconds between runs, for an interval entry; None for a crontab-like one."""
        return float(self.timing.seconds) if isinstance(self.timing, schedule) else None

    def plan_next(self, now: float) -> None:
        """When to run next: one interval after ``now``, or a crontab's next time after the last run."""
        if self.interval is not None:
            self.next_run = now + self.interval
        else:
            remaining = self.timing.remaining_estimate(self.last_run_at or self.timing.now())
            self.next_run = now + max(remaining.total_seconds(), 0.0)


def _timing(value: Any) -> BaseSchedule:
    """A beat entry's ``schedule`` as Celery reads it: seconds, a timedelta, or a schedule (crontab, solar)."""
    timing = maybe_schedule(value, app=app)
    if not isinstance(timing, BaseSchedule):  # maybe_schedule turns numbers and timedeltas into a schedule
        raise TypeError(f"a beat entry's schedule is seconds, a timedelta or a Celery schedule, not {value!r}")
    return timing


class EmbeddedBeat:
    """Runs the entries of a beat schedule (``{name: {"task": ..., "schedule": ..., "args": ..., "kwargs": ...}}``,
    ``settings.CELERY_BEAT_SCHEDULE`` by default) in one daemon thread until stopped."""

    def __init__(self, beat_schedule: Mapping[str, Mapping[str, Any]] | None = None, *,
                 first_delay: float = FIRST_RUN_DELAY_SECONDS) -> None:
        self.app = app
        self.first_delay = first_delay
        entries: Mapping[str, Mapping[str, Any]] = (
            settings.CELERY_BEAT_SCHEDULE if beat_schedule is None else beat_schedule)
        self.entries = [Entry(name=name, task=str(entry["task"]), timing=_timing(entry["schedule"]),
                              args=tuple(entry.get("args", ())), kwargs=dict(entry.get("kwargs", {})))
                        for name, entry in entries.items()]
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "EmbeddedBeat":
        if self._thread is not None:
            raise RuntimeError("this embedded beat was already started")
        # Import every app's tasks module here, in the starting thread, as a worker does at start (imports in the
        # beat's thread could race the server's own). Not import_default_modules(): Celery's Django fix-up would
        # set Django up again (not reentrant inside AppConfig.ready) and run the system checks.
        self.app.autodiscover_tasks(force=True)
        now = time.monotonic()
        for entry in self.entries:
            if entry.interval is not None:
                entry.next_run = now + min(entry.interval, self.first_delay)
            else:
                entry.plan_next(now)
        self._thread = threading.Thread(target=self._loop, name="embedded-beat", daemon=True)
        self._thread.start()
        logger.info("embedded beat: running %s in this process", ", ".join(
            f"{entry.task} every {entry.interval:g}s" if entry.interval is not None
            else f"{entry.task} ({entry.timing})" for entry in self.entries) or "nothing")
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the run in progress, if any; wait for the thread up to ``timeout`` seconds."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._stopping.wait(self.run_due())

    def run_due(self) -> float:
        """Run every entry whose time has come; return the seconds until the next one is due."""
        for entry in self.entries:
            if self._stopping.is_set():
                break
            started = time.monotonic()
            if entry.next_run <= started:
                self._run(entry)
                entry.plan_next(started)
        if not self.entries:
            return 3600.0
        return max(min(entry.next_run for entry in self.entries) - time.monotonic(), 0.0)

    def _run(self, entry: Entry) -> None:
        entry.last_run_at = entry.timing.now()
        try:
            self.app.tasks[entry.task].apply(args=entry.args, kwargs=entry.kwargs, throw=True)
            entry.runs += 1
        except Exception:
            entry.failures += 1
            logger.exception("embedded beat: %s (%s) failed; it runs again at its next time", entry.name, entry.task)
        finally:
            connections.close_all()  # this thread's connections: none is left open, or broken, between runs


_lock = threading.Lock()
_running: EmbeddedBeat | None = None


def running() -> EmbeddedBeat | None:
    """The embedded beat this process started, if any."""
    return _running


def start() -> EmbeddedBeat:
    """Start the process's embedded beat on ``CELERY_BEAT_SCHEDULE`` (once; a second call returns the first)."""
    global _running
    with _lock:
        if _running is None:
            _running = EmbeddedBeat().start()
        return _running


def stop() -> None:
    global _running
    with _lock:
        if _running is not None:
            _running.stop()
            _running = None


def is_serving_process(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """Whether this process is the one runserver serves from: the autoreloader's child (RUN_MAIN=true), or
    runserver without the autoreloader. Not the autoreloader's parent, which only watches files and restarts
    the child."""
    if len(argv) < 2 or argv[1] != "runserver":
        return False
    return environ.get("RUN_MAIN") == "true" or "--noreload" in argv[2:]


def start_if_serving(argv: Sequence[str], environ: Mapping[str, str]) -> EmbeddedBeat | None:
    """Start the embedded beat if this is the embedded default (Celery eager), EMBEDDED_BEAT is on, and this is
    runserver's serving process. With REDIS_URL, ``celery beat`` and the workers do the periodic work instead."""
    if not (is_serving_process(argv, environ) and settings.CELERY_TASK_ALWAYS_EAGER and settings.EMBEDDED_BEAT):
        return None
    return start()
