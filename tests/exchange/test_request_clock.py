"""exchange.services.requests_clock_run: the request clock on China's 2026 calendar, run day by day.

Requests are filed and submitted through the services, then placed in autumn 2026 (their submission date set and
their deadline computed by the calendar, as submitting on that day would have). The days that matter:
Mid-Autumn Festival Sep 25-27 off, Sunday Sep 20 worked, National Day Oct 1-7 off, Saturday Oct 10 worked
(tests/core/test_workdays.py checks them against the chinesecalendar package).
"""

import datetime as dt
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from audit.models import AuditEvent
from catalog.models import Dataset
from core.workdays import is_working_day, working_day_add, working_days_between
from exchange.models import AccessRequest, Grant, RequestState
from exchange.services import (
    ClockRun,
    access_request_approve,
    access_request_file,
    access_request_hand_over,
    access_request_reject,
    access_request_resubmit,
    access_request_return,
    access_request_withdraw,
    grant_revoke,
    requests_clock_run,
)
from notifications.models import Notification, NotificationKind
from registry.models import System
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

D = dt.date
REMINDED, ESCALATED = "access_request.reminded", "access_request.escalated"
NOTHING = ClockRun()


@pytest.fixture(autouse=True)
def _the_interim_measures_clock(settings: Any) -> None:
    """The defaults, whatever the environment says: 10 working days, reminded 2 before, grants noticed 30 days ahead."""
    settings.REQUEST_DEADLINE_WORKING_DAYS = 10
    settings.REQUEST_REMIND_WORKING_DAYS = 2
    settings.REQUEST_HANDOVER_WORKING_DAYS = 3
    settings.GRANT_EXPIRY_NOTICE_DAYS = 30


@pytest.fixture
def people(health_approver: Any, police_clerk: Any, authority: Any) -> dict[str, Any]:
    return {"approver": health_approver, "clerk": police_clerk, "authority": authority}


def file(clerk: Any, consumer: System, dataset: Dataset, **overrides: Any) -> AccessRequest:
    arguments: dict[str, Any] = {
        "fields": ["vaccine", "dose_date"], "purpose_code": "law-enforcement.investigation",
        "purpose": "Checking an alibi in case 2026-17", "legal_basis": "Criminal Procedure Law art. 54",
        "case_reference": "2026-17", "duration_days": 90, **overrides}
    return access_request_file(consumer=consumer, dataset=dataset, actor=clerk, submit=True, **arguments)


def place(request: AccessRequest, submitted: dt.date) -> AccessRequest:
    """The request as if submitted on ``submitted`` (at 09:30 local time): its deadline as the calendar gives it."""
    due = working_day_add(submitted, settings.REQUEST_DEADLINE_WORKING_DAYS)
    local = dt.datetime.combine(submitted, dt.time(9, 30), tzinfo=timezone.get_current_timezone())
    AccessRequest.objects.filter(pk=request.pk).update(submitted_at=local, due_date=due)
    return AccessRequest.objects.get(pk=request.pk)


@pytest.fixture
def due_8_october(people: dict[str, Any], police_system: System, vaccinations: Dataset) -> AccessRequest:
    """Submitted Thursday 17 September: Fri 18 (1), the make-up Sunday 20 (2), Mon 21 to Thu 24 (3-6), Mid-Autumn
    off, Mon 28 to Wed 30 (7-9), National Day off, Thursday 8 October (10)."""
    request = place(file(people["clerk"], police_system, vaccinations), D(2026, 9, 17))
    assert request.due_date == D(2026, 10, 8)
    return request


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=offset) for offset in range((last - first).days + 1)]


def run_each_day(first: dt.date, last: dt.date) -> dict[dt.date, ClockRun]:
    """Run the clock on each day from ``first`` to ``last`` (twice: a repeated run must do nothing); the days on
    which it did something."""
    done = {}
    for day in days(first, last):
        run = requests_clock_run(today=day)
        assert requests_clock_run(today=day) == NOTHING, f"a second run on {day} did something"
        if run != NOTHING:
            done[day] = run
    return done


def clock_events(request: AccessRequest) -> list[tuple[str, dict[str, Any]]]:
    events = AuditEvent.objects.filter(object_type="access_request", object_id=str(request.pk),
                                       action__in=[REMINDED, ESCALATED]).order_by("pk")
    return [(event.action, event.detail) for event in events]


def notified(kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(n.recipient.username, n.params) for n in Notification.objects.filter(kind=kind).order_by("pk")]


# --- The deadline ---

def test_a_submitted_request_is_due_ten_working_days_after_the_day_it_was_submitted(
        police_clerk: Any, police_system: System, vaccinations: Dataset) -> None:
    request = file(police_clerk, police_system, vaccinations)
    submitted = timezone.localdate(request.submitted_at)
    assert request.due_date == working_day_add(submitted, 10)
    assert working_days_between(submitted, request.due_date) == 10
    assert is_working_day(request.due_date)


def test_a_deadline_across_the_holidays_skips_them_and_counts_the_make_up_days(due_8_october: AccessRequest) -> None:
    # Monday to Friday only, 10 days after 17 September would be 1 October, the first day of the holiday.
    assert due_8_october.due_date == D(2026, 10, 8)


# --- Reminders ---

def test_approvers_are_reminded_two_working_days_before_the_deadline_and_on_the_day_never_in_the_holiday(
        due_8_october: AccessRequest, health_approver: Any) -> None:
    done = run_each_day(D(2026, 9, 17), D(2026, 10, 8))
    # Two working days before 8 October is Tuesday 29 September (Wed 30, Thu 8): not 6 October, in the holiday.
    assert done == {D(2026, 9, 29): ClockRun(reminded=1), D(2026, 10, 8): ClockRun(reminded=1)}
    assert clock_events(due_8_october) == [
        (REMINDED, {"due_date": "2026-10-08", "days_left": 2, "recipients": 1}),
        (REMINDED, {"due_date": "2026-10-08", "days_left": 0, "recipients": 1}),
    ]
    reminders = notified(NotificationKind.DEADLINE_NEAR)
    assert [(who, params["days_left"], params["due"]) for who, params in reminders] == [
        ("health-approver", 2, "2026-10-08"), ("health-approver", 0, "2026-10-08")]
    assert reminders[0][1]["request"] == due_8_october.pk
    event = AuditEvent.objects.filter(action=REMINDED).first()
    assert event is not None
    assert (event.actor_type, event.actor_id, event.purpose) == ("platform", "request-clock",
                                                                 "law-enforcement.investigation")
    stored = AccessRequest.objects.get(pk=due_8_october.pk)
    assert stored.reminded_soon_at is not None and stored.reminded_due_at is not None
    assert stored.escalated_at is None


def test_a_deadline_after_the_make_up_saturday_is_reminded_on_the_friday_before_it(
        people: dict[str, Any], police_system: System, vaccinations: Dataset) -> None:
    """Submitted Monday 21 September: due Monday 12 October. Its two last working days before the deadline are the
    make-up Saturday 10 and Monday 12, so the reminder comes on Friday 9 (Monday to Friday only: Thursday 8)."""
    request = place(file(people["clerk"], police_system, vaccinations), D(2026, 9, 21))
    assert request.due_date == D(2026, 10, 12)
    done = run_each_day(D(2026, 9, 21), D(2026, 10, 12))
    assert done == {D(2026, 10, 9): ClockRun(reminded=1), D(2026, 10, 12): ClockRun(reminded=1)}
    assert [detail["days_left"] for _action, detail in clock_events(request)] == [2, 0]


def test_a_clock_that_did_not_run_on_the_reminder_day_reminds_once_on_the_deadline(
        due_8_october: AccessRequest) -> None:
    """The platform was down from 28 September to the deadline: one reminder, "due today", not two."""
    assert requests_clock_run(today=D(2026, 10, 8)) == ClockRun(reminded=1)
    assert requests_clock_run(today=D(2026, 10, 8)) == NOTHING
    assert [detail["days_left"] for _action, detail in clock_events(due_8_october)] == [0]


def test_running_the_clock_again_sends_no_second_reminder(due_8_october: AccessRequest) -> None:
    assert requests_clock_run(today=D(2026, 9, 29)) == ClockRun(reminded=1)
    for day in (D(2026, 9, 29), D(2026, 9, 30), D(2026, 10, 1)):
        assert requests_clock_run(today=day) == NOTHING
    assert len(clock_events(due_8_october)) == 1
    assert Notification.objects.filter(kind=NotificationKind.DEADLINE_NEAR).count() == 1


# --- Escalation ---

def test_an_overdue_request_escalates_to_the_data_authority_on_the_first_working_day_after_its_deadline(
        due_8_october: AccessRequest, people: dict[str, Any]) -> None:
    assert requests_clock_run(today=D(2026, 10, 8)) == ClockRun(reminded=1)  # the last day: reminded, not escalated
    assert requests_clock_run(today=D(2026, 10, 9)) == ClockRun(escalated=1)
    for day in days(D(2026, 10, 9), D(2026, 10, 31)):
        assert requests_clock_run(today=day) == NOTHING
    assert clock_events(due_8_october)[1:] == [(ESCALATED, {"due_date": "2026-10-08", "department": "health"})]
    event = AuditEvent.objects.get(action=ESCALATED)
    assert (event.actor_type, event.actor_id, event.object_id) == ("platform", "request-clock",
                                                                   str(due_8_october.pk))
    escalations = notified(NotificationKind.REQUEST_ESCALATED)
    assert [who for who, _params in escalations] == ["data-authority", "health-approver"]
    assert escalations[0][1] == {"request": due_8_october.pk, "dataset": "Vaccinations",
                                 "consumer": "Police records system", "department": "Health Commission",
                                 "due": "2026-10-08"}
    stored = AccessRequest.objects.get(pk=due_8_october.pk)
    assert stored.escalated_at is not None
    assert stored.state == RequestState.SUBMITTED  # escalation is not a decision: it still waits


def test_a_deadline_before_a_holiday_escalates_on_the_first_working_day_after_it(
        people: dict[str, Any], police_system: System, vaccinations: Dataset) -> None:
    """Submitted Wednesday 16 September: due Wednesday 30 September. 1-7 October are off; the first working day
    after the deadline is Thursday 8 October."""
    request = place(file(people["clerk"], police_system, vaccinations), D(2026, 9, 16))
    assert request.due_date == D(2026, 9, 30)
    escalated = {day: run.escalated for day, run in run_each_day(D(2026, 10, 1), D(2026, 10, 8)).items()}
    assert escalated == {D(2026, 10, 8): 1}


def test_a_decided_withdrawn_or_returned_request_is_neither_reminded_nor_escalated(
        people: dict[str, Any], police_system: System, vaccinations: Dataset) -> None:
    clerk, approver = people["clerk"], people["approver"]
    approved, in_part, rejected, withdrawn, returned = (file(clerk, police_system, vaccinations) for _ in range(5))
    access_request_approve(access_request=approved, approver=approver)
    access_request_approve(access_request=in_part, approver=approver, fields=["vaccine"])
    access_request_reject(access_request=rejected, approver=approver, reason_code="beyond_purpose",
                          legal_basis="Data Security Law art. 38", explanation="Too many fields.")
    access_request_withdraw(access_request=withdrawn, actor=clerk, comment="Case closed.")
    access_request_return(access_request=returned, approver=approver, comment="Name the case number.")
    for request in (approved, in_part, rejected, withdrawn, returned):
        place(request, D(2026, 9, 17))  # each was due on 8 October
    assert set(AccessRequest.objects.values_list("state", flat=True)) == {
        RequestState.APPROVED, RequestState.APPROVED_IN_PART, RequestState.REJECTED, RequestState.WITHDRAWN,
        RequestState.RETURNED}
    reminders_and_escalations = Notification.objects.filter(kind__in=[
        NotificationKind.DEADLINE_NEAR, NotificationKind.REQUEST_ESCALATED])

    assert run_each_day(D(2026, 9, 17), D(2026, 10, 31)) == {}
    assert not AuditEvent.objects.filter(action__in=[REMINDED, ESCALATED]).exists()
    assert not reminders_and_escalations.exists()
    assert not AccessRequest.objects.exclude(escalated_at=None).exists()


def test_a_draft_has_no_clock(police_clerk: Any, police_system: System, vaccinations: Dataset) -> None:
    draft = access_request_file(consumer=police_system, dataset=vaccinations, actor=police_clerk, submit=False,
                                fields=["vaccine"], purpose_code="law-enforcement.investigation",
                                purpose="Checking an alibi", legal_basis="Criminal Procedure Law art. 54")
    assert draft.due_date is None
    assert run_each_day(D(2026, 9, 17), D(2026, 10, 31)) == {}


# --- Returned and resubmitted ---

def test_a_returned_request_stops_its_clock_and_its_resubmission_starts_a_new_one(
        due_8_october: AccessRequest, people: dict[str, Any]) -> None:
    assert requests_clock_run(today=D(2026, 9, 29)) == ClockRun(reminded=1)
    access_request_return(access_request=due_8_october, approver=people["approver"], comment="Name the case.")
    assert run_each_day(D(2026, 9, 29), D(2026, 10, 31)) == {}  # stopped: no reminder on the day, no escalation

    resubmitted = access_request_resubmit(access_request=due_8_october, actor=people["clerk"])
    stored = AccessRequest.objects.get(pk=resubmitted.pk)
    start = timezone.localdate(stored.submitted_at)
    assert stored.state == RequestState.RESUBMITTED
    assert stored.due_date == working_day_add(start, 10) != D(2026, 10, 8)
    assert (stored.reminded_soon_at, stored.reminded_due_at, stored.escalated_at) == (None, None, None)


    # Resubmitted on Tuesday 13 October instead: due Tuesday 27 October, reminded on Friday 23 (Mon 26, Tue 27 left)
    # and on the 27th, escalated on Wednesday 28. The first deadline's reminder does not stop the new ones.
    place(stored, D(2026, 10, 13))
    assert run_each_day(D(2026, 10, 13), D(2026, 10, 31)) == {
        D(2026, 10, 23): ClockRun(reminded=1), D(2026, 10, 27): ClockRun(reminded=1),
        D(2026, 10, 28): ClockRun(escalated=1)}
    assert [(action, detail["due_date"]) for action, detail in clock_events(stored)] == [
        (REMINDED, "2026-10-08"), (REMINDED, "2026-10-27"), (REMINDED, "2026-10-27"), (ESCALATED, "2026-10-27")]


def test_a_request_handed_over_after_its_escalation_is_reminded_before_its_new_deadline(
        due_8_october: AccessRequest, people: dict[str, Any], health: Any) -> None:
    assert requests_clock_run(today=D(2026, 10, 9)) == ClockRun(escalated=1)
    other = make_user("health-approver-2", health, "approver")
    handed = access_request_hand_over(access_request=due_8_october, actor=people["authority"], approver=other)
    due = handed.due_date
    assert due is not None and working_days_between(timezone.localdate(), due) == 3
    two_before = working_day_add(timezone.localdate(), 1)
    assert run_each_day(timezone.localdate(), due) == {two_before: ClockRun(reminded=1), due: ClockRun(reminded=1)}
    reminded = [who for who, params in notified(NotificationKind.DEADLINE_NEAR) if params["due"] == due.isoformat()]
    assert reminded == ["health-approver", "health-approver-2"] * 2


def test_a_request_handed_over_escalates_again_when_it_runs_over_its_new_deadline(
        due_8_october: AccessRequest, people: dict[str, Any], health: Any) -> None:
    assert requests_clock_run(today=D(2026, 10, 9)) == ClockRun(escalated=1)
    handed = access_request_hand_over(access_request=due_8_october, actor=people["authority"],
                                      approver=make_user("health-approver-2", health, "approver"))
    assert handed.due_date is not None
    after = working_day_add(handed.due_date, 1)
    escalated = {day: run.escalated for day, run in run_each_day(handed.due_date, after).items() if run.escalated}
    assert escalated == {after: 1}
    assert [detail["due_date"] for action, detail in clock_events(handed) if action == ESCALATED] == [
        "2026-10-08", handed.due_date.isoformat()]


# --- Grants about to expire ---

def test_the_consumer_is_told_once_that_a_grant_expires_within_thirty_days(
        people: dict[str, Any], police_system: System, vaccinations: Dataset) -> None:
    clerk, approver = people["clerk"], people["approver"]
    soon = access_request_approve(access_request=file(clerk, police_system, vaccinations, duration_days=20),
                                  approver=approver)
    later = access_request_approve(access_request=file(clerk, police_system, vaccinations, duration_days=60),
                                   approver=approver)
    revoked = access_request_approve(access_request=file(clerk, police_system, vaccinations, duration_days=10),
                                     approver=approver)
    grant_revoke(grant=revoked, actor=approver, reason="The case is closed.")
    ended = access_request_approve(access_request=file(clerk, police_system, vaccinations, duration_days=5),
                                   approver=approver)
    Grant.objects.filter(pk=ended.pk).update(valid_until=timezone.now() - dt.timedelta(days=1))

    assert requests_clock_run() == ClockRun(expiring=1)
    assert requests_clock_run() == NOTHING
    assert requests_clock_run(today=D(2026, 10, 9)) == NOTHING

    [(who, params)] = notified(NotificationKind.GRANT_EXPIRING)
    assert who == "police-clerk"
    assert params == {"grant": soon.pk, "dataset": "Vaccinations",
                      "valid_until": timezone.localdate(soon.valid_until).isoformat()}
    assert Grant.objects.get(pk=soon.pk).expiry_notified_at is not None
    assert Grant.objects.get(pk=later.pk).expiry_notified_at is None
