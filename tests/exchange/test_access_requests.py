"""exchange.services.access_request_file and access_request_decide: a consumer's clerk asks, the owner's
approver decides; an approval is a grant. Each step is audited in its transaction; refusals change nothing."""

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from catalog.models import Dataset, DatasetStatus, Tier
from core.errors import PlatformError
from exchange.models import MAX_GRANT_DAYS, AccessRequest, Grant, RequestState
from exchange.selectors import grants_active
from exchange.services import access_request_decide, access_request_file
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
    """Events after the filing (whose own event the filing tests check)."""
    return AuditEvent.objects.exclude(action="access_request.filed")


def assert_decision_refused(submitted: AccessRequest, approver: Any, status: int, code: str, *,
                            approve: bool = True, reason: str = "") -> PlatformError:
    with pytest.raises(PlatformError) as caught:
        access_request_decide(access_request=submitted, approver=approver, approve=approve, reason=reason)
    assert (caught.value.status, caught.value.code) == (status, code)
    assert caught.value.message
    fresh = AccessRequest.objects.get(pk=submitted.pk)
    assert (fresh.state, fresh.decided_by, fresh.decided_at, fresh.decision_reason) == (
        submitted.state, submitted.decided_by, submitted.decided_at, submitted.decision_reason)
    assert Grant.objects.filter(access_request=submitted).count() == (1 if submitted.state == "approved" else 0)
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
    assert not Grant.objects.exists()


def test_it_records_an_access_request_filed_event(police_clerk: Any, police_system: System,
                                                  vaccinations: Dataset) -> None:
    request = file(actor=police_clerk, consumer=police_system, dataset=vaccinations)
    event = AuditEvent.objects.get()
    assert (event.action, event.outcome) == ("access_request.filed", "ok")
    assert (event.actor_type, event.actor_id) == ("user", "police-clerk")
    assert (event.object_type, event.object_id) == ("access_request", str(request.pk))
    assert event.purpose == "law-enforcement.investigation"
    assert event.grant_id is None
    assert event.detail == {"consumer": "police-rms", "dataset": "vaccinations", "fields": ["vaccine", "dose_date"],
                            "duration_days": 90}


def test_it_drops_repeated_field_names_keeping_their_order(police_clerk: Any, police_system: System,
                                                           vaccinations: Dataset) -> None:
    request = file(actor=police_clerk, consumer=police_system, dataset=vaccinations,
                   fields=["dose_date", "vaccine", "dose_date"])
    assert request.fields == ["dose_date", "vaccine"]


def test_it_accepts_an_unconditional_dataset(police_clerk: Any, police_system: System, health: Department) -> None:
    dataset = build_dataset(health, identifier="births", tier=Tier.UNCONDITIONAL)
    assert file(actor=police_clerk, consumer=police_system, dataset=dataset).state == RequestState.SUBMITTED


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


def test_it_rejects_a_dataset_that_is_not_shared(police_clerk: Any, police_system: System,
                                                 health: Department) -> None:
    dataset = build_dataset(health, identifier="psychiatry", tier=Tier.NOT_SHARED)
    error = assert_filing_refused(400, "not_shared", actor=police_clerk, consumer=police_system, dataset=dataset)
    assert "Vaccine Administration Law" in error.message  # the cited legal basis


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
    decided = access_request_decide(access_request=submitted, approver=health_approver, approve=True, reason="")
    after = timezone.now()
    assert decided.state == RequestState.APPROVED
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


def test_an_approved_grant_is_in_force_at_once(submitted: AccessRequest, health_approver: Any) -> None:
    access_request_decide(access_request=submitted, approver=health_approver, approve=True, reason="")
    grant = Grant.objects.get()
    assert grants_active(consumer=submitted.consumer, dataset=submitted.dataset, at=timezone.now()) == [grant]
    assert grants_active(consumer=submitted.consumer, dataset=submitted.dataset, at=grant.valid_until) == []


def test_an_approval_records_an_event_naming_the_grant(submitted: AccessRequest, health_approver: Any) -> None:
    access_request_decide(access_request=submitted, approver=health_approver, approve=True, reason=" ok ")
    event = decision_events().get()
    assert (event.action, event.outcome) == ("access_request.approved", "ok")
    assert (event.actor_type, event.actor_id) == ("user", "health-approver")
    assert (event.object_type, event.object_id) == ("access_request", str(submitted.pk))
    assert event.grant_id == Grant.objects.get().pk
    assert event.purpose == "law-enforcement.investigation"
    assert event.detail == {"reason": "ok", "consumer": "police-rms", "dataset": "vaccinations",
                            "fields": ["vaccine", "dose_date"]}


def test_a_rejection_with_a_reason_creates_no_grant(submitted: AccessRequest, health_approver: Any) -> None:
    access_request_decide(access_request=submitted, approver=health_approver, approve=False,
                          reason="  No case number on file.  ")
    stored = AccessRequest.objects.get(pk=submitted.pk)
    assert (stored.state, stored.decided_by, stored.decision_reason) == (
        RequestState.REJECTED, health_approver, "No case number on file.")
    assert not Grant.objects.exists()
    event = decision_events().get()
    assert (event.action, event.grant_id) == ("access_request.rejected", None)
    assert event.detail["reason"] == "No case number on file."


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_rejection_needs_a_reason(reason: str, submitted: AccessRequest, health_approver: Any) -> None:
    error = assert_decision_refused(submitted, health_approver, 400, "reason_required", approve=False,
                                    reason=reason)
    assert error.message == "A rejection must state its reason."
    assert not decision_events().exists()


def test_it_refuses_to_decide_twice(submitted: AccessRequest, health_approver: Any, health: Department) -> None:
    access_request_decide(access_request=submitted, approver=health_approver, approve=True, reason="")
    decided = AccessRequest.objects.get(pk=submitted.pk)
    other_approver = make_user("health-approver-2", health, Role.APPROVER)
    error = assert_decision_refused(decided, other_approver, 409, "already_decided", approve=False,
                                    reason="changed my mind")
    assert error.message == "This request is already approved."
    assert Grant.objects.count() == 1
    assert decision_events().count() == 1


def test_a_stale_copy_cannot_decide_again(submitted: AccessRequest, health_approver: Any) -> None:
    """The state is re-read under a row lock: a copy loaded before the first decision cannot approve twice."""
    stale = AccessRequest.objects.get(pk=submitted.pk)
    access_request_decide(access_request=submitted, approver=health_approver, approve=False, reason="No.")
    with pytest.raises(PlatformError) as caught:
        access_request_decide(access_request=stale, approver=health_approver, approve=True, reason="")
    assert (caught.value.status, caught.value.code) == (409, "already_decided")
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
    access_request_decide(access_request=own, approver=health_approver, approve=True, reason="")
    assert Grant.objects.get().access_request == own


def test_an_approval_is_refused_once_the_dataset_is_retired(submitted: AccessRequest, health_approver: Any) -> None:
    Dataset.objects.filter(pk=submitted.dataset_id).update(status=DatasetStatus.RETIRED)
    submitted.dataset.refresh_from_db()
    error = assert_decision_refused(submitted, health_approver, 409, "no_longer_published")
    assert error.message == "vaccinations is no longer published."
    assert not decision_events().exists()


def test_a_rejection_is_allowed_once_the_dataset_is_retired(submitted: AccessRequest,
                                                            health_approver: Any) -> None:
    Dataset.objects.filter(pk=submitted.dataset_id).update(status=DatasetStatus.RETIRED)
    submitted.dataset.refresh_from_db()
    access_request_decide(access_request=submitted, approver=health_approver, approve=False, reason="Retired.")
    assert AccessRequest.objects.get(pk=submitted.pk).state == RequestState.REJECTED
    assert not Grant.objects.exists()
