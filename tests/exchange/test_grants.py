"""Grants after the approval: their states, revocation by the providing department (effective on the next call,
with the reason told), renewal carrying the terms forward, and the data authority's hand-over of an escalated
request."""

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from catalog.models import Dataset
from core.errors import PlatformError
from core.workdays import today, working_day_add
from exchange.models import AccessRequest, Grant, GrantState, RequestState
from exchange.services import (
    access_request_approve,
    access_request_file,
    access_request_hand_over,
    grant_renewal_terms,
    grant_revoke,
)
from notifications.models import Notification
from registry.models import Department, Role, System, SystemKey
from tests.conftest import make_user, record_path
from tests.exchange.test_record_read import assert_refused

pytestmark = pytest.mark.django_db


def file(clerk: Any, system: System, dataset: Dataset, **overrides: Any) -> AccessRequest:
    return access_request_file(**{
        "consumer": system, "dataset": dataset, "fields": ["vaccine", "dose_date"], "actor": clerk,
        "purpose_code": "public-health.outbreak-tracing", "purpose": "Tracing contacts of a measles case",
        "legal_basis": "Law on the Prevention and Treatment of Infectious Diseases art. 12",
        "case_reference": "CDC-2026-88", "duration_days": 60, "expected_daily_volume": 300, **overrides})


@pytest.fixture
def grant(police_clerk: Any, police_system: System, vaccinations: Dataset, health_approver: Any) -> Grant:
    request = file(police_clerk, police_system, vaccinations)
    return access_request_approve(access_request=request, approver=health_approver)


# --- States ---

def test_a_grant_is_active_then_expired(grant: Grant) -> None:
    assert grant.state == GrantState.ACTIVE
    assert grant.state_at(grant.valid_from - dt.timedelta(seconds=1)) == GrantState.PENDING
    assert grant.state_at(grant.valid_until) == GrantState.EXPIRED


def test_a_suspended_grant_is_suspended_until_it_expires(grant: Grant) -> None:
    grant.suspended_at = timezone.now()
    assert grant.state == GrantState.SUSPENDED
    assert grant.state_at(grant.valid_until) == GrantState.EXPIRED


# --- Revocation ---

def test_an_approver_of_the_provider_revokes_with_a_reason(grant: Grant, health_approver: Any,
                                                           police_clerk: Any) -> None:
    grant_revoke(grant=grant, actor=health_approver, reason="  The case CDC-2026-88 is closed.  ")
    grant.refresh_from_db()
    assert grant.state == GrantState.REVOKED
    assert (grant.revoked_by, grant.revocation_reason) == (health_approver, "The case CDC-2026-88 is closed.")
    event = AuditEvent.objects.get(action="grant.revoked")
    assert (event.actor_id, event.grant_id, event.object_id) == ("health-approver", grant.pk, str(grant.pk))
    assert event.detail == {"dataset": "vaccinations", "consumer": "police-rms",
                            "reason": "The case CDC-2026-88 is closed."}
    told = Notification.objects.get(kind="grant_revoked")
    assert told.recipient == police_clerk and told.params["reason"] == "The case CDC-2026-88 is closed."


@pytest.mark.parametrize("role", ["health_clerk", "police_clerk", "auditor", "root"])
def test_nobody_else_revokes(role: str, grant: Grant, request: pytest.FixtureRequest) -> None:
    with pytest.raises(PlatformError) as caught:
        grant_revoke(grant=grant, actor=request.getfixturevalue(role), reason="No.")
    assert (caught.value.status, caught.value.code) == (403, "forbidden")
    grant.refresh_from_db()
    assert grant.revoked_at is None and not AuditEvent.objects.filter(action="grant.revoked").exists()


def test_an_approver_of_another_department_does_not_revoke(grant: Grant, police: Department) -> None:
    with pytest.raises(PlatformError) as caught:
        grant_revoke(grant=grant, actor=make_user("police-approver", police, Role.APPROVER), reason="No.")
    assert caught.value.code == "forbidden"


def test_a_revocation_needs_a_reason(grant: Grant, health_approver: Any) -> None:
    with pytest.raises(PlatformError) as caught:
        grant_revoke(grant=grant, actor=health_approver, reason="  ")
    assert (caught.value.status, caught.value.code) == (400, "reason_required")
    grant.refresh_from_db()
    assert grant.revoked_at is None


def test_a_revoked_or_expired_grant_is_not_revoked_again(grant: Grant, health_approver: Any) -> None:
    grant_revoke(grant=grant, actor=health_approver, reason="Closed.")
    with pytest.raises(PlatformError) as caught:
        grant_revoke(grant=grant, actor=health_approver, reason="Again.")
    assert (caught.value.status, caught.value.code) == (409, "grant_ended")
    expired = Grant.objects.create(consumer=grant.consumer, dataset=grant.dataset, allowed_fields=["vaccine"],
                                   purpose_code="x", purpose="x", valid_from=timezone.now() - dt.timedelta(days=2),
                                   valid_until=timezone.now() - dt.timedelta(days=1))
    with pytest.raises(PlatformError) as caught:
        grant_revoke(grant=expired, actor=health_approver, reason="Late.")
    assert caught.value.code == "grant_ended"


def test_the_next_read_after_a_revocation_is_refused_with_the_reason(signed_get: Any, police_key: SystemKey,
                                                                     grant: Grant, health_approver: Any) -> None:
    assert signed_get(record_path()).status_code == 200  # and the grant is now remembered in memory
    grant_revoke(grant=grant, actor=health_approver, reason="The case is closed.")
    response = signed_get(record_path())
    event = assert_refused(response, 403, "grant_revoked")
    assert response.json()["error"]["message"] == f"Grant {grant.pk} was revoked: The case is closed."
    assert (event.grant_id, event.purpose) == (grant.pk, "public-health.outbreak-tracing")
    assert "fields" not in response.json()


# --- Renewal ---

def test_a_renewal_carries_the_terms_forward(grant: Grant) -> None:
    terms = grant_renewal_terms(grant)
    assert terms["requested_fields"] == ["vaccine", "dose_date"]
    assert (terms["purpose_code"], terms["duration_days"], terms["expected_daily_volume"]) == (
        "public-health.outbreak-tracing", 60, 300)
    assert terms["legal_basis"].startswith("Law on the Prevention") and terms["case_reference"] == "CDC-2026-88"


def test_an_approved_renewal_starts_where_the_grant_ends(grant: Grant, police_clerk: Any, health_approver: Any) -> None:
    renewal = file(police_clerk, grant.consumer, grant.dataset, renews=grant)
    assert renewal.renews == grant and renewal.state == RequestState.SUBMITTED
    assert AuditEvent.objects.get(action="access_request.filed", object_id=str(renewal.pk)).detail["renews"] == grant.pk
    renewed = access_request_approve(access_request=renewal, approver=health_approver)
    assert renewed.valid_from == grant.valid_until
    assert renewed.valid_until == grant.valid_until + dt.timedelta(days=60)
    assert renewed.state == GrantState.PENDING


def test_a_grant_gets_one_renewal_at_a_time(grant: Grant, police_clerk: Any) -> None:
    file(police_clerk, grant.consumer, grant.dataset, renews=grant)
    with pytest.raises(PlatformError) as caught:
        file(police_clerk, grant.consumer, grant.dataset, renews=grant)
    assert (caught.value.status, caught.value.code) == (409, "renewal_pending")


def test_a_revoked_grant_is_not_renewed(grant: Grant, police_clerk: Any, health_approver: Any) -> None:
    grant_revoke(grant=grant, actor=health_approver, reason="Closed.")
    with pytest.raises(PlatformError) as caught:
        file(police_clerk, grant.consumer, grant.dataset, renews=grant)
    assert (caught.value.status, caught.value.code) == (409, "grant_ended")


def test_an_approved_renewal_keeps_the_grants_pseudonyms_masking_and_rows(grant: Grant, police_clerk: Any,
                                                                           health_approver: Any) -> None:
    """The renewal's consumer keeps its pseudonyms (the same salt) and never gets looser terms than it had."""
    Grant.objects.filter(pk=grant.pk).update(masking={"vaccine": "none", "dose_date": "generalise"},
                                             row_filter={"vaccine": ["measles"]})
    grant.refresh_from_db()
    renewed = access_request_approve(access_request=file(police_clerk, grant.consumer, grant.dataset, renews=grant),
                                     approver=health_approver)
    assert renewed.pseudonym_salt == grant.pseudonym_salt
    assert (renewed.masking["dose_date"], renewed.row_filter) == ("generalise", {"vaccine": ["measles"]})
    fresh = access_request_approve(access_request=file(police_clerk, grant.consumer, grant.dataset),
                                   approver=health_approver)
    assert fresh.pseudonym_salt != grant.pseudonym_salt  # a grant that is not a renewal has its own


def test_a_renewal_is_for_the_same_system_and_dataset(grant: Grant, police_clerk: Any, police: Department) -> None:
    other = System.objects.create(department=police, code="police-cad", name="Dispatch")
    with pytest.raises(PlatformError) as caught:
        file(police_clerk, other, grant.dataset, renews=grant)
    assert (caught.value.status, caught.value.code) == (400, "invalid_input")


# --- Hand-over of an escalated request ---

@pytest.fixture
def escalated(police_clerk: Any, police_system: System, vaccinations: Dataset) -> AccessRequest:
    request = file(police_clerk, police_system, vaccinations)
    AccessRequest.objects.filter(pk=request.pk).update(due_date=today() - dt.timedelta(days=3),
                                                       escalated_at=timezone.now())
    request.refresh_from_db()
    return request


def test_the_data_authority_hands_an_escalated_request_to_another_approver(
        escalated: AccessRequest, authority: Any, health: Department) -> None:
    second = make_user("health-approver-2", health, Role.APPROVER)
    access_request_hand_over(access_request=escalated, actor=authority, approver=second)
    escalated.refresh_from_db()
    assert escalated.assignee == second
    assert escalated.due_date == working_day_add(today(), 3)
    assert escalated.state == RequestState.SUBMITTED
    step = escalated.steps.last()
    assert step is not None and (step.action, step.actor, step.detail["to"]) == ("hand_over", authority,
                                                                                  "health-approver-2")
    event = AuditEvent.objects.get(action="access_request.handed_over")
    assert event.detail == {"to": "health-approver-2", "due_date": escalated.due_date.isoformat()}
    assert Notification.objects.get(kind="request_assigned").recipient == second


def test_only_the_data_authority_hands_over(escalated: AccessRequest, health_approver: Any, root: Any) -> None:
    for actor in (health_approver, root):
        with pytest.raises(PlatformError) as caught:
            access_request_hand_over(access_request=escalated, actor=actor, approver=health_approver)
        assert caught.value.code == "forbidden"


def test_a_request_goes_only_to_an_approver_of_the_provider(escalated: AccessRequest, authority: Any,
                                                            police: Department, health_clerk: Any) -> None:
    for person in (health_clerk, make_user("police-approver", police, Role.APPROVER)):
        with pytest.raises(PlatformError) as caught:
            access_request_hand_over(access_request=escalated, actor=authority, approver=person)
        assert (caught.value.status, caught.value.code) == (400, "not_an_approver")
    escalated.refresh_from_db()
    assert escalated.assignee is None


def test_a_request_that_is_not_escalated_is_not_handed_over(police_clerk: Any, police_system: System,
                                                            vaccinations: Dataset, authority: Any,
                                                            health_approver: Any) -> None:
    request = file(police_clerk, police_system, vaccinations)
    with pytest.raises(PlatformError) as caught:
        access_request_hand_over(access_request=request, actor=authority, approver=health_approver)
    assert (caught.value.status, caught.value.code) == (409, "not_escalated")
