"""exchange.services: a consumer's clerk files (and submits), the owner's approver approves, approves in part or
rejects; an approval is a grant. Each step is audited in its transaction; refusals change nothing.
(The other transitions, per role: test_request_transitions.py; the clock: test_request_clock.py.)"""

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from catalog.models import Dataset, DatasetStatus, Tier
from core.errors import PlatformError
from core.workdays import working_day_add
from exchange.models import MAX_DAILY_VOLUME, MAX_GRANT_DAYS, AccessRequest, Grant, Purpose, RequestState
from exchange.selectors import grants_active
from exchange.services import (
    access_request_approve,
    access_request_file,
    access_request_reject,
    access_request_resubmit,
    access_request_return,
    access_request_update,
)
from notifications.models import Notification
from registry.models import Department, Membership, Role, System
from tests.conftest import build_dataset, make_user

pytestmark = pytest.mark.django_db


def file(*, actor: Any, consumer: System, dataset: Dataset, **overrides: Any) -> AccessRequest:
    arguments: dict[str, Any] = {
        "fields": ["vaccine", "dose_date"], "purpose_code": "law-enforcement.investigation",
        "purpose": "Checking an alibi in case 2026-17", "legal_basis": "Criminal Procedure Law art. 54",
        "case_reference": "2026-17", "duration_days": 90, **overrides,
    }
    return access_request_file(consumer=consumer, dataset=dataset, actor=actor, **arguments)


def assert_filing_refused(status: int, code: str, **kwargs: Any) -> PlatformError:
    with pytest.raises(PlatformError) as caught:
        file(**kwargs)
    assert (caught.value.status, caught.value.code) == (status, code)
    assert caught.value.message
    assert not AccessRequest.objects.exists()
    assert not AuditEvent.objects.exists()
    return caught.value


@pytest.fixture
def submitted(police_clerk: Any, police_system: System, vaccinations: Dataset) -> AccessRequest:
    return file(actor=police_clerk, consumer=police_system, dataset=vaccinations)


def decision_events() -> Any:
    """Events after the filing and submission (whose own events the filing tests check)."""
    return AuditEvent.objects.exclude(action__in=["access_request.filed", "access_request.submitted"])


def decide(access_request: AccessRequest, approver: Any, *, approve: bool, reason: str = "") -> Any:
    if approve:
        return access_request_approve(access_request=access_request, approver=approver, reason=reason)
    return access_request_reject(access_request=access_request, approver=approver, reason_code="other",
                                 legal_basis="Data Security Law art. 38", explanation=reason)


def assert_decision_refused(submitted: AccessRequest, approver: Any, status: int, code: str, *,
                            approve: bool = True, reason: str = "") -> PlatformError:
    with pytest.raises(PlatformError) as caught:
        decide(submitted, approver, approve=approve, reason=reason)
    assert (caught.value.status, caught.value.code) == (status, code)
    assert caught.value.message
    fresh = AccessRequest.objects.get(pk=submitted.pk)
    assert (fresh.state, fresh.decided_by, fresh.decided_at, fresh.decision_reason) == (
        submitted.state, submitted.decided_by, submitted.decided_at, submitted.decision_reason)
    assert Grant.objects.filter(access_request=submitted).count() == (1 if "approved" in submitted.state else 0)
    return caught.value


# --- Filing ---

def test_it_files_a_submitted_request(police_clerk: Any, police_system: System, vaccinations: Dataset) -> None:
    request = file(actor=police_clerk, consumer=police_system, dataset=vaccinations)
    stored = AccessRequest.objects.get()
    assert stored.pk == request.pk
    assert stored.state == RequestState.SUBMITTED
    assert (stored.consumer, stored.dataset, stored.filed_by) == (police_system, vaccinations, police_clerk)
    assert stored.fields == ["vaccine", "dose_date"]
    assert (stored.purpose_code, stored.case_reference, stored.duration_days) == (
        "law-enforcement.investigation", "2026-17", 90)
    assert (stored.decided_by, stored.decided_at, stored.decision_reason) == (None, None, "")
    assert stored.expected_daily_volume == 100
    assert stored.submitted_at is not None and stored.due_date is not None
    assert not Grant.objects.exists()


def test_it_records_the_filing_and_the_submission(police_clerk: Any, police_system: System,
                                                  vaccinations: Dataset) -> None:
    request = file(actor=police_clerk, consumer=police_system, dataset=vaccinations, expected_daily_volume=40)
    filed, submitted = AuditEvent.objects.order_by("pk")
    assert (filed.action, filed.outcome) == ("access_request.filed", "ok")
    assert (filed.actor_type, filed.actor_id) == ("user", "police-clerk")
    assert (filed.object_type, filed.object_id) == ("access_request", str(request.pk))
    assert filed.purpose == "law-enforcement.investigation"
    assert filed.grant_id is None
    assert filed.detail == {"consumer": "police-rms", "dataset": "vaccinations", "fields": ["vaccine", "dose_date"],
                            "duration_days": 90, "daily_volume": 40, "renews": None}
    assert submitted.action == "access_request.submitted"
    assert submitted.detail == {"dataset": "vaccinations", "due_date": request.due_date.isoformat()}


def test_a_draft_waits_unsubmitted_without_a_deadline(police_clerk: Any, police_system: System,
                                                      vaccinations: Dataset) -> None:
    request = file(actor=police_clerk, consumer=police_system, dataset=vaccinations, submit=False)
    assert (request.state, request.submitted_at, request.due_date) == (RequestState.DRAFT, None, None)
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["access_request.filed"]


def test_it_refuses_a_purpose_outside_the_vocabulary(police_clerk: Any, police_system: System,
                                                     vaccinations: Dataset) -> None:
    error = assert_filing_refused(400, "unknown_purpose", actor=police_clerk, consumer=police_system,
                                  dataset=vaccinations, purpose_code="curiosity.general")
    assert "'curiosity.general'" in error.message


def test_it_refuses_a_deactivated_purpose(police_clerk: Any, police_system: System, vaccinations: Dataset) -> None:
    Purpose.objects.filter(code="law-enforcement.investigation").update(active=False)
    assert_filing_refused(400, "unknown_purpose", actor=police_clerk, consumer=police_system, dataset=vaccinations)


@pytest.mark.parametrize("volume", [0, MAX_DAILY_VOLUME + 1])
def test_it_refuses_an_expected_volume_out_of_range(volume: int, police_clerk: Any, police_system: System,
                                                    vaccinations: Dataset) -> None:
    assert_filing_refused(400, "bad_volume", actor=police_clerk, consumer=police_system, dataset=vaccinations,
                          expected_daily_volume=volume)


def test_it_drops_repeated_field_names_keeping_their_order(police_clerk: Any, police_system: System,
                                                           vaccinations: Dataset) -> None:
    request = file(actor=police_clerk, consumer=police_system, dataset=vaccinations,
                   fields=["dose_date", "vaccine", "dose_date"])
    assert request.fields == ["dose_date", "vaccine"]


def test_an_unconditional_dataset_is_subscribed_at_once(police_clerk: Any, police_system: System,
                                                       health: Department) -> None:
    dataset = build_dataset(health, identifier="births", tier=Tier.UNCONDITIONAL)
    request = file(actor=police_clerk, consumer=police_system, dataset=dataset, expected_daily_volume=50)
    assert (request.state, request.due_date, request.decided_by) == (RequestState.APPROVED, None, None)
    grant = Grant.objects.get()
    assert (grant.access_request, grant.allowed_fields, grant.purpose_code, grant.daily_quota) == (
        request, ["vaccine", "dose_date"], "law-enforcement.investigation", 50)
    assert grants_active(consumer=police_system, dataset=dataset, at=timezone.now()) == [grant]
    event = AuditEvent.objects.get(action="access_request.subscribed")
    assert (event.actor_id, event.grant_id) == ("police-clerk", grant.pk)
    assert event.purpose == "law-enforcement.investigation"


def test_it_accepts_the_longest_duration(police_clerk: Any, police_system: System, vaccinations: Dataset) -> None:
    request = file(actor=police_clerk, consumer=police_system, dataset=vaccinations, duration_days=MAX_GRANT_DAYS)
    assert request.duration_days == MAX_GRANT_DAYS


def test_it_rejects_a_clerk_of_another_department(health_clerk: Any, police_system: System,
                                                  vaccinations: Dataset) -> None:
    error = assert_filing_refused(403, "forbidden", actor=health_clerk, consumer=police_system,
                                  dataset=vaccinations)
    assert error.message == "Only clerks of Public Security Bureau may file requests for police-rms."


@pytest.mark.parametrize("actor", ["auditor", "health_approver"])
def test_it_rejects_someone_who_is_not_a_clerk(actor: str, police_system: System, vaccinations: Dataset,
                                               request: pytest.FixtureRequest) -> None:
    assert_filing_refused(403, "forbidden", actor=request.getfixturevalue(actor), consumer=police_system,
                          dataset=vaccinations)


def test_it_rejects_an_approver_of_the_consumers_department(police: Department, police_system: System,
                                                            vaccinations: Dataset) -> None:
    approver = make_user("police-approver", police, Role.APPROVER)
    assert_filing_refused(403, "forbidden", actor=approver, consumer=police_system, dataset=vaccinations)


def test_it_rejects_a_deactivated_system(police_clerk: Any, police_system: System, vaccinations: Dataset) -> None:
    System.objects.filter(pk=police_system.pk).update(active=False)
    police_system.refresh_from_db()
    assert_filing_refused(400, "consumer_inactive", actor=police_clerk, consumer=police_system, dataset=vaccinations)


def test_it_rejects_an_unknown_field_naming_the_valid_ones(police_clerk: Any, police_system: System,
                                                           vaccinations: Dataset) -> None:
    error = assert_filing_refused(400, "unknown_field", actor=police_clerk, consumer=police_system,
                                  dataset=vaccinations, fields=["vaccine", "blood_type", "shoe_size"])
    assert error.message == ("vaccinations has no field(s) blood_type, shoe_size; its fields are citizen_id, "
                             "dose_date, full_name, vaccine.")


def test_it_rejects_a_request_without_fields(police_clerk: Any, police_system: System,
                                             vaccinations: Dataset) -> None:
    assert_filing_refused(400, "no_fields", actor=police_clerk, consumer=police_system, dataset=vaccinations,
                          fields=[])


@pytest.mark.parametrize("status", [DatasetStatus.DRAFT, DatasetStatus.RETIRED])
def test_it_rejects_a_dataset_that_is_not_published(status: str, police_clerk: Any, police_system: System,
                                                    health: Department) -> None:
    dataset = build_dataset(health, status=status)
    error = assert_filing_refused(400, "not_published", actor=police_clerk, consumer=police_system,
                                  dataset=dataset)
    assert error.message == "vaccinations is not published."


def test_it_rejects_an_open_dataset(police_clerk: Any, police_system: System, health: Department) -> None:
    dataset = build_dataset(health, identifier="clinics", tier=Tier.OPEN)
    error = assert_filing_refused(400, "open_dataset", actor=police_clerk, consumer=police_system, dataset=dataset)
    assert "open data" in error.message


def test_a_dataset_that_is_not_shared_is_answered_at_once_as_unmet_demand(police_clerk: Any, police_system: System,
                                                                         health: Department) -> None:
    dataset = build_dataset(health, identifier="psychiatry", tier=Tier.NOT_SHARED)
    request = file(actor=police_clerk, consumer=police_system, dataset=dataset)
    assert (request.state, request.rejection_reason) == (RequestState.REJECTED, "not_shared")
    assert "Vaccine Administration Law" in request.rejection_legal_basis  # the dataset's cited legal basis
    assert request.is_unmet_demand and request.decided_by is None and request.decided_at is not None
    assert not Grant.objects.exists()
    event = AuditEvent.objects.get(action="access_request.not_shared")
    assert (event.actor_type, event.detail["dataset"]) == ("platform", "psychiatry")
    assert "Vaccine Administration Law" in event.detail["legal_basis"]


@pytest.mark.parametrize("missing", ["purpose", "legal_basis"])
def test_it_rejects_a_request_without_purpose_or_legal_basis(missing: str, police_clerk: Any,
                                                             police_system: System, vaccinations: Dataset) -> None:
    assert_filing_refused(400, "purpose_required", actor=police_clerk, consumer=police_system,
                          dataset=vaccinations, **{missing: "  "})


@pytest.mark.parametrize("days", [0, -1, MAX_GRANT_DAYS + 1])
def test_it_rejects_a_duration_out_of_range(days: int, police_clerk: Any, police_system: System,
                                            vaccinations: Dataset) -> None:
    error = assert_filing_refused(400, "bad_duration", actor=police_clerk, consumer=police_system,
                                  dataset=vaccinations, duration_days=days)
    assert error.message == f"The duration is 1 to {MAX_GRANT_DAYS} days."


# --- Deciding ---

def test_an_approval_creates_a_grant_for_the_requested_fields(submitted: AccessRequest,
                                                              health_approver: Any) -> None:
    before = timezone.now()
    decide(submitted, health_approver, approve=True)
    after = timezone.now()
    stored = AccessRequest.objects.get(pk=submitted.pk)
    assert (stored.state, stored.decided_by, stored.decision_reason) == (RequestState.APPROVED, health_approver, "")
    assert stored.decided_at is not None and before <= stored.decided_at <= after
    grant = Grant.objects.get()
    assert (grant.access_request, grant.consumer, grant.dataset) == (stored, submitted.consumer, submitted.dataset)
    assert grant.allowed_fields == ["vaccine", "dose_date"]
    assert (grant.purpose_code, grant.purpose) == (submitted.purpose_code, submitted.purpose)
    assert grant.valid_from == stored.decided_at
    assert grant.valid_until == grant.valid_from + dt.timedelta(days=90)
    assert grant.revoked_at is None
    assert grant.daily_quota == 100  # the expected volume, as requested


def test_an_approved_grant_is_in_force_at_once(submitted: AccessRequest, health_approver: Any) -> None:
    decide(submitted, health_approver, approve=True)
    grant = Grant.objects.get()
    assert grants_active(consumer=submitted.consumer, dataset=submitted.dataset, at=timezone.now()) == [grant]
    assert grants_active(consumer=submitted.consumer, dataset=submitted.dataset, at=grant.valid_until) == []


def test_an_approval_records_an_event_naming_the_grant(submitted: AccessRequest, health_approver: Any) -> None:
    decide(submitted, health_approver, approve=True, reason=" ok ")
    event = decision_events().get()
    assert (event.action, event.outcome) == ("access_request.approved", "ok")
    assert (event.actor_type, event.actor_id) == ("user", "health-approver")
    assert (event.object_type, event.object_id) == ("access_request", str(submitted.pk))
    assert event.grant_id == Grant.objects.get().pk
    assert event.purpose == "law-enforcement.investigation"
    assert event.detail == {"reason": "ok", "consumer": "police-rms", "dataset": "vaccinations",
                            "fields": ["vaccine", "dose_date"], "duration_days": 90, "daily_quota": 100,
                            "masking": {}, "row_filter": {}}


def test_a_rejection_with_a_reason_creates_no_grant(submitted: AccessRequest, health_approver: Any) -> None:
    access_request_reject(access_request=submitted, approver=health_approver, reason_code="beyond_purpose",
                          legal_basis=" Personal Information Protection Law art. 6 ",
                          explanation="  Checking an alibi needs no dose dates.  ")
    stored = AccessRequest.objects.get(pk=submitted.pk)
    assert (stored.state, stored.decided_by, stored.decision_reason) == (
        RequestState.REJECTED, health_approver, "Checking an alibi needs no dose dates.")
    assert (stored.rejection_reason, stored.rejection_legal_basis) == (
        "beyond_purpose", "Personal Information Protection Law art. 6")
    assert not Grant.objects.exists()
    event = decision_events().get()
    assert (event.action, event.grant_id) == ("access_request.rejected", None)
    assert event.detail == {"reason": "Checking an alibi needs no dose dates.", "rejection_reason": "beyond_purpose",
                            "legal_basis": "Personal Information Protection Law art. 6", "consumer": "police-rms",
                            "dataset": "vaccinations", "fields": ["vaccine", "dose_date"]}


@pytest.mark.parametrize("missing", [{"reason_code": ""}, {"reason_code": "because"}, {"legal_basis": "  "},
                                     {"explanation": ""}])
def test_a_rejection_needs_a_listed_reason_a_legal_basis_and_an_explanation(
        missing: dict[str, str], submitted: AccessRequest, health_approver: Any) -> None:
    arguments = {"reason_code": "no_legal_basis", "legal_basis": "Data Security Law art. 38",
                 "explanation": "No duty of the requesting department needs it.", **missing}
    with pytest.raises(PlatformError) as caught:
        access_request_reject(access_request=submitted, approver=health_approver, **arguments)
    assert (caught.value.status, caught.value.code) == (400, "rejection_incomplete")
    assert AccessRequest.objects.get(pk=submitted.pk).state == RequestState.SUBMITTED
    assert not decision_events().exists()


def test_it_refuses_to_decide_twice(submitted: AccessRequest, health_approver: Any, health: Department) -> None:
    decide(submitted, health_approver, approve=True)
    decided = AccessRequest.objects.get(pk=submitted.pk)
    other_approver = make_user("health-approver-2", health, Role.APPROVER)
    error = assert_decision_refused(decided, other_approver, 409, "transition_not_allowed", approve=False,
                                    reason="changed my mind")
    assert error.message == f"Request #{decided.pk} is Approved; that cannot be done now."
    assert Grant.objects.count() == 1
    assert decision_events().count() == 1


def test_a_stale_copy_cannot_decide_again(submitted: AccessRequest, health_approver: Any) -> None:
    """The state is re-read under a row lock: a copy loaded before the first decision cannot approve twice."""
    stale = AccessRequest.objects.get(pk=submitted.pk)
    decide(submitted, health_approver, approve=False, reason="No.")
    with pytest.raises(PlatformError) as caught:
        decide(stale, health_approver, approve=True)
    assert (caught.value.status, caught.value.code) == (409, "transition_not_allowed")
    assert not Grant.objects.exists()
    assert AccessRequest.objects.get(pk=submitted.pk).state == RequestState.REJECTED


def test_it_refuses_an_approver_of_another_department(submitted: AccessRequest, police: Department) -> None:
    police_approver = make_user("police-approver", police, Role.APPROVER)
    error = assert_decision_refused(submitted, police_approver, 403, "forbidden")
    assert error.message == "Only approvers of Health Commission may decide requests for vaccinations."
    assert not decision_events().exists()


@pytest.mark.parametrize("actor", ["health_clerk", "auditor"])
def test_it_refuses_someone_who_is_not_an_approver(actor: str, submitted: AccessRequest,
                                                   request: pytest.FixtureRequest) -> None:
    assert_decision_refused(submitted, request.getfixturevalue(actor), 403, "forbidden")
    assert not decision_events().exists()


def test_it_refuses_a_department_admin_of_the_owner(submitted: AccessRequest, health: Department) -> None:
    assert_decision_refused(submitted, make_user("health-admin", health, Role.ADMIN), 403, "forbidden")


def test_nobody_decides_a_request_they_filed(police_system: System, vaccinations: Dataset, police: Department,
                                             health: Department, health_approver: Any) -> None:
    both = make_user("two-hats", police, Role.CLERK)
    Membership.objects.create(user=both, department=health, role=Role.APPROVER)
    own = file(actor=both, consumer=police_system, dataset=vaccinations)
    for approve, reason in [(True, ""), (False, "reason enough")]:
        error = assert_decision_refused(own, both, 403, "own_request", approve=approve, reason=reason)
        assert "Separation of duties" in error.message
    assert not decision_events().exists()
    decide(own, health_approver, approve=True)
    assert Grant.objects.get().access_request == own


def test_an_approval_is_refused_once_the_dataset_is_retired(submitted: AccessRequest, health_approver: Any) -> None:
    Dataset.objects.filter(pk=submitted.dataset_id).update(status=DatasetStatus.RETIRED)
    submitted.dataset.refresh_from_db()
    error = assert_decision_refused(submitted, health_approver, 409, "no_longer_published")
    assert error.message == "vaccinations is no longer shared."
    assert not decision_events().exists()


def test_a_rejection_is_allowed_once_the_dataset_is_retired(submitted: AccessRequest,
                                                            health_approver: Any) -> None:
    Dataset.objects.filter(pk=submitted.dataset_id).update(status=DatasetStatus.RETIRED)
    submitted.dataset.refresh_from_db()
    decide(submitted, health_approver, approve=False, reason="Retired.")
    assert AccessRequest.objects.get(pk=submitted.pk).state == RequestState.REJECTED
    assert not Grant.objects.exists()


# --- Changing a draft or a returned request ---

def change(request: AccessRequest, actor: Any, **overrides: Any) -> AccessRequest:
    arguments: dict[str, Any] = {
        "fields": ["vaccine"], "purpose_code": "law-enforcement.investigation", "purpose": "Checking an alibi",
        "legal_basis": "Criminal Procedure Law art. 54", "case_reference": "2026-17", "duration_days": 30,
        "expected_daily_volume": 10, **overrides}
    return access_request_update(access_request=request, actor=actor, **arguments)


def test_a_clerk_changes_a_returned_request_and_the_change_is_recorded(submitted: AccessRequest,
                                                                       police_clerk: Any, health_approver: Any) -> None:
    access_request_return(access_request=submitted, approver=health_approver, comment="Ask for the vaccine only.")
    change(submitted, police_clerk)
    stored = AccessRequest.objects.get(pk=submitted.pk)
    assert (stored.state, stored.fields, stored.duration_days, stored.expected_daily_volume) == (
        RequestState.RETURNED, ["vaccine"], 30, 10)
    event = AuditEvent.objects.get(action="access_request.updated")
    assert sorted(event.detail["changed"]) == ["duration_days", "expected_daily_volume", "fields", "purpose"]
    assert event.detail["old"]["fields"] == ["vaccine", "dose_date"] and event.detail["new"]["fields"] == ["vaccine"]


def test_a_waiting_request_cannot_be_changed(submitted: AccessRequest, police_clerk: Any) -> None:
    with pytest.raises(PlatformError) as caught:
        change(submitted, police_clerk)
    assert (caught.value.status, caught.value.code) == (409, "transition_not_allowed")
    assert AccessRequest.objects.get(pk=submitted.pk).fields == ["vaccine", "dose_date"]


def test_only_the_requesting_departments_clerks_change_a_request(police_clerk: Any, police_system: System,
                                                                 vaccinations: Dataset, health_clerk: Any) -> None:
    draft = file(actor=police_clerk, consumer=police_system, dataset=vaccinations, submit=False)
    with pytest.raises(PlatformError) as caught:
        change(draft, health_clerk)
    assert (caught.value.status, caught.value.code) == (403, "forbidden")
    assert not AuditEvent.objects.filter(action="access_request.updated").exists()


def test_a_change_is_checked_like_a_filing(police_clerk: Any, police_system: System, vaccinations: Dataset) -> None:
    draft = file(actor=police_clerk, consumer=police_system, dataset=vaccinations, submit=False)
    with pytest.raises(PlatformError) as caught:
        change(draft, police_clerk, fields=["shoe_size"])
    assert caught.value.code == "unknown_field"


# --- Approval in part ---

def test_an_approval_in_part_grants_less_and_records_both(submitted: AccessRequest, health_approver: Any) -> None:
    grant = access_request_approve(access_request=submitted, approver=health_approver, fields=["vaccine"],
                                   duration_days=30, daily_quota=20, reason="Dose dates are not needed.")
    assert (grant.allowed_fields, grant.daily_quota) == (["vaccine"], 20)
    assert grant.valid_until - grant.valid_from == dt.timedelta(days=30)
    stored = AccessRequest.objects.get(pk=submitted.pk)
    assert stored.state == RequestState.APPROVED_IN_PART
    event = decision_events().get()
    assert event.action == "access_request.approved_in_part"
    assert event.detail["requested"] == {"fields": ["vaccine", "dose_date"], "duration_days": 90, "daily_volume": 100}
    assert (event.detail["fields"], event.detail["duration_days"], event.detail["daily_quota"]) == (["vaccine"], 30, 20)
    assert stored.steps.last().detail["requested"]["fields"] == ["vaccine", "dose_date"]


@pytest.mark.parametrize("terms", [{"fields": ["full_name"]}, {"fields": []}, {"duration_days": 91},
                                   {"daily_quota": 101}, {"daily_quota": 0}])
def test_an_approval_grants_nothing_beyond_the_request(terms: dict[str, Any], submitted: AccessRequest,
                                                       health_approver: Any) -> None:
    with pytest.raises(PlatformError) as caught:
        access_request_approve(access_request=submitted, approver=health_approver, **terms)
    assert (caught.value.status, caught.value.code) == (400, "not_a_part")
    assert not Grant.objects.exists()
    assert AccessRequest.objects.get(pk=submitted.pk).state == RequestState.SUBMITTED


def test_an_approval_of_everything_asked_is_a_full_approval(submitted: AccessRequest, health_approver: Any) -> None:
    access_request_approve(access_request=submitted, approver=health_approver, fields=["dose_date", "vaccine"],
                           duration_days=90, daily_quota=100)
    assert AccessRequest.objects.get(pk=submitted.pk).state == RequestState.APPROVED


# --- Notifications of the people concerned ---

def test_the_providers_approvers_are_told_of_a_new_request(health_approver: Any, submitted: AccessRequest) -> None:
    told = Notification.objects.get(kind="request_new")
    assert told.recipient == health_approver
    assert told.params["request"] == submitted.pk and told.params["due"] == submitted.due_date.isoformat()
    assert told.link == f"/admin/exchange/accessrequest/{submitted.pk}/change/"


def test_the_requester_is_told_of_a_return_and_of_the_decision(submitted: AccessRequest, police_clerk: Any,
                                                               health_approver: Any) -> None:
    access_request_return(access_request=submitted, approver=health_approver, comment="Name the case.")
    assert Notification.objects.get(kind="request_returned").params["comment"] == "Name the case."
    access_request_resubmit(access_request=submitted, actor=police_clerk)
    assert Notification.objects.get(kind="request_resubmitted").recipient == health_approver
    decide(submitted, health_approver, approve=False, reason="Still no case.")
    decided = Notification.objects.get(kind="request_decided")
    assert (decided.recipient, decided.params["outcome"], decided.params["reason"]) == (
        police_clerk, "rejected", "Still no case.")


def test_a_return_needs_a_comment(submitted: AccessRequest, health_approver: Any) -> None:
    with pytest.raises(PlatformError) as caught:
        access_request_return(access_request=submitted, approver=health_approver, comment=" ")
    assert (caught.value.status, caught.value.code) == (400, "comment_required")
    assert AccessRequest.objects.get(pk=submitted.pk).state == RequestState.SUBMITTED


def test_a_resubmitted_request_gets_a_new_deadline(submitted: AccessRequest, police_clerk: Any,
                                                   health_approver: Any) -> None:
    AccessRequest.objects.filter(pk=submitted.pk).update(due_date=dt.date(2020, 1, 2))
    access_request_return(access_request=submitted, approver=health_approver, comment="Name the case.")
    access_request_resubmit(access_request=submitted, actor=police_clerk)
    stored = AccessRequest.objects.get(pk=submitted.pk)
    assert stored.due_date == working_day_add(timezone.localdate(stored.submitted_at), 10)
    assert AuditEvent.objects.get(action="access_request.resubmitted").detail == {
        "due_date": stored.due_date.isoformat()}
