"""The sequencer is woken at most once per window per process; events are never lost by it."""

import time

import pytest
from django.db import transaction

from audit.events import EventType
from audit.models import AuditEvent
from audit.sequencer import log_sequence
from audit.services import Actor, _WakeUps, event_record


def test_one_wake_up_per_window() -> None:
    wake_ups = _WakeUps()
    assert wake_ups.due(0.05)
    assert not wake_ups.due(0.05) and not wake_ups.due(0.05)
    time.sleep(0.06)
    assert wake_ups.due(0.05)


@pytest.mark.django_db
def test_events_that_found_no_wake_up_are_appended_by_the_next_run() -> None:
    with transaction.atomic():
        for i in range(3):
            event_record(actor=Actor("user", f"clerk-{i}"), action=EventType.USER_LOGGED_IN)
    log_sequence()
    assert AuditEvent.objects.filter(leaf__isnull=True).count() == 0
