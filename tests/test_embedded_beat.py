"""govplatform.embedded_beat: the embedded default's periodic work, run by a scheduler thread in the serving process.

(That runserver starts it and it runs the request clock: tests/exchange/test_request_clock_worker.py.)
"""

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery import shared_task
from celery.schedules import crontab
from django.contrib.auth import get_user_model
from django.db import connection

from govplatform import embedded_beat
from govplatform.embedded_beat import EmbeddedBeat, is_serving_process, start_if_serving

#: What the test tasks saw: (label, thread name, whether the thread had no open database connection).
CALLS: list[tuple[str, str, bool]] = []
FAILURES_LEFT: dict[str, int] = {}


@shared_task(name="tests.embedded_beat.record")
def record_task(label: str) -> None:
    CALLS.append((label, threading.current_thread().name, connection.connection is None))
    if FAILURES_LEFT.get(label, 0) > 0:
        FAILURES_LEFT[label] -= 1
        raise RuntimeError(f"{label} failed on purpose")
    get_user_model().objects.exists()  # a query: the run opens this thread's connection


@pytest.fixture(autouse=True)
def _fresh_records() -> Iterator[None]:
    CALLS.clear()
    FAILURES_LEFT.clear()
    yield
    CALLS.clear()
    FAILURES_LEFT.clear()


def entry(label: str, every: Any) -> dict[str, Any]:
    return {"task": "tests.embedded_beat.record", "schedule": every, "args": (label,)}


def calls_of(label: str) -> list[tuple[str, str, bool]]:
    return [call for call in list(CALLS) if call[0] == label]


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.01)


@pytest.fixture
def started() -> Iterator[Callable[..., EmbeddedBeat]]:
    """Start embedded beats on a test schedule; each is stopped at the end of the test."""
    beats: list[EmbeddedBeat] = []

    def start(schedule: dict[str, dict[str, Any]], first_delay: float = 0.0) -> EmbeddedBeat:
        beat = EmbeddedBeat(schedule, first_delay=first_delay).start()
        beats.append(beat)
        return beat

    yield start
    for beat in beats:
        beat.stop()


@pytest.mark.django_db(transaction=True)
def test_it_runs_each_entry_at_its_interval_in_its_own_thread_until_stopped(started: Any) -> None:
    beat = started({"fast": entry("fast", 0.05), "slow": entry("slow", 3600)})
    wait_until(lambda: len(calls_of("fast")) >= 4)
    assert beat.alive
    beat.stop()
    assert not beat.alive
    after_stop = len(CALLS)
    time.sleep(0.2)
    assert len(CALLS) == after_stop
    assert len(calls_of("slow")) == 1  # at start (catching up), then not for an hour
    assert {thread for _label, thread, _fresh in CALLS} == {"embedded-beat"}


@pytest.mark.django_db(transaction=True)
def test_a_failing_run_is_logged_and_the_schedule_goes_on(started: Any, caplog: Any) -> None:
    FAILURES_LEFT["flaky"] = 2
    beat = started({"flaky": entry("flaky", 0.05), "steady": entry("steady", 0.05)})
    wait_until(lambda: len(calls_of("flaky")) >= 4 and len(calls_of("steady")) >= 4)
    beat.stop()
    flaky = next(item for item in beat.entries if item.name == "flaky")
    assert flaky.failures == 2 and flaky.runs >= 2
    failed = [record for record in caplog.records if record.name == "govplatform.embedded_beat"
              and record.levelname == "ERROR"]
    assert len(failed) == 2
    assert "flaky (tests.embedded_beat.record) failed" in failed[0].getMessage()
    assert failed[0].exc_info is not None and "failed on purpose" in str(failed[0].exc_info[1])


@pytest.mark.django_db(transaction=True)
def test_an_unknown_task_is_logged_and_the_others_still_run(started: Any, caplog: Any) -> None:
    beat = started({"typo": {"task": "exchange.no_such_task", "schedule": 0.05}, "steady": entry("steady", 0.05)})
    wait_until(lambda: len(calls_of("steady")) >= 3)
    beat.stop()
    assert any("typo (exchange.no_such_task) failed" in record.getMessage() for record in caplog.records)


@pytest.mark.django_db(transaction=True)
def test_each_run_starts_without_the_database_connection_of_the_run_before(started: Any) -> None:
    beat = started({"query": entry("query", 0.05)})
    wait_until(lambda: len(calls_of("query")) >= 3)
    beat.stop()
    assert all(fresh for _label, _thread, fresh in calls_of("query"))


@pytest.mark.django_db(transaction=True)
def test_the_first_run_comes_after_the_first_delay_or_sooner_if_the_interval_is_shorter(started: Any) -> None:
    before = time.monotonic()
    beat = started({"hourly": entry("hourly", 3600), "often": entry("often", 2)}, first_delay=5)
    firsts = {item.name: item.next_run - before for item in beat.entries}
    beat.stop()
    assert 4.5 < firsts["hourly"] <= 5.5
    assert 1.5 < firsts["often"] <= 2.5
    assert CALLS == []


@pytest.mark.django_db(transaction=True)
def test_a_crontab_entry_waits_for_its_time(started: Any) -> None:
    before = time.monotonic()
    beat = started({"new-year": entry("new-year", crontab(minute=0, hour=3, day_of_month=1, month_of_year=1))})
    [item] = beat.entries
    beat.stop()
    assert item.interval is None
    assert item.next_run - before > 60
    assert CALLS == []


# --- Where it starts ---

@pytest.mark.parametrize(("argv", "environ", "serving"), [
    (["manage.py", "runserver", "127.0.0.1:8000"], {"RUN_MAIN": "true"}, True),  # the autoreloader's child
    (["manage.py", "runserver", "127.0.0.1:8000"], {}, False),  # the autoreloader's parent: it only watches
    (["manage.py", "runserver", "--noreload"], {}, True),
    (["manage.py", "migrate"], {"RUN_MAIN": "true"}, False),
    (["manage.py", "demo_setup", "--noreload"], {}, False),
    (["manage.py"], {"RUN_MAIN": "true"}, False),
    (["/usr/bin/pytest", "runserver"], {}, False),
    (["celery", "-A", "govplatform.celery_app", "worker"], {"RUN_MAIN": "true"}, False),
])
def test_only_runservers_serving_process_is_a_serving_process(argv: list[str], environ: dict[str, str],
                                                             serving: bool) -> None:
    assert is_serving_process(argv, environ) is serving


SERVING: tuple[list[str], dict[str, str]] = (["manage.py", "runserver", "--noreload"], {})


@pytest.fixture
def stopped_after() -> Iterator[None]:
    yield
    embedded_beat.stop()


def test_it_starts_once_per_process_in_the_embedded_default(settings: Any, stopped_after: None) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER, settings.EMBEDDED_BEAT = True, True
    settings.CELERY_BEAT_SCHEDULE = {}
    beat = start_if_serving(*SERVING)
    assert beat is not None and beat.alive and embedded_beat.running() is beat
    assert start_if_serving(*SERVING) is beat
    embedded_beat.stop()
    assert embedded_beat.running() is None and not beat.alive


def test_it_does_not_start_with_a_broker_where_celery_beat_does_the_work(settings: Any, stopped_after: None) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER, settings.EMBEDDED_BEAT = False, True
    assert start_if_serving(*SERVING) is None
    assert embedded_beat.running() is None


def test_it_does_not_start_when_switched_off(settings: Any, stopped_after: None) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER, settings.EMBEDDED_BEAT = True, False
    assert start_if_serving(*SERVING) is None
    assert embedded_beat.running() is None


def test_nothing_runs_the_schedule_under_pytest() -> None:
    assert embedded_beat.running() is None
    assert "embedded-beat" not in [thread.name for thread in threading.enumerate()]
