"""Grants in the admin: their state in the list, the grant page's buttons per role, revoking with a reason
(the providing department's approvers only), and the way to a renewal request."""

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from catalog.models import Dataset
from exchange.models import Grant, GrantState, Purpose
from exchange.services import access_request_file
from registry.models import Department, Role, System
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

LIST = reverse("admin:exchange_grant_changelist")


def as_user(user: Any) -> Client:
    http = Client()
    http.force_login(user)
    return http


def page_of(grant: Grant) -> str:
    return reverse("admin:exchange_grant_change", args=[grant.pk])


def revoke_url(grant: Grant) -> str:
    return reverse("admin:exchange_grant_revoke", args=[grant.pk])


def renew_url(grant: Grant) -> str:
    return reverse("admin:exchange_accessrequest_add") + f"?renews={grant.pk}"


@pytest.fixture
def grants(police_system: System, vaccinations: Dataset, police_grant: Grant) -> dict[str, Grant]:
    """A grant in every state."""
    now = timezone.now()

    def make(**values: Any) -> Grant:
        return Grant.objects.create(**{
            "consumer": police_system, "dataset": vaccinations, "allowed_fields": ["vaccine"],
            "purpose_code": "public-health.outbreak-tracing", "purpose": "Tracing",
            "valid_from": now - dt.timedelta(days=1), "valid_until": now + dt.timedelta(days=30), **values})

    Grant.objects.filter(pk=police_grant.pk).update(daily_quota=250)
    return {
        "active": Grant.objects.get(pk=police_grant.pk),
        "pending": make(valid_from=now + dt.timedelta(days=5)),
        "suspended": make(suspended_at=now, suspension_reason="Version 2 removed a field."),
        "revoked": make(revoked_at=now, revocation_reason="Case closed."),
        "expired": make(valid_from=now - dt.timedelta(days=60), valid_until=now - dt.timedelta(days=1)),
    }


def test_the_list_shows_each_grants_state_quota_and_end(auditor: Any, grants: dict[str, Grant]) -> None:
    response = as_user(auditor).get(LIST)
    html = response.content.decode()
    for state in GrantState:
        assert f'grant-state--{state.value}">{state.label}</span>' in html
    assert "250" in html  # the daily quota
    assert response.context["cl"].list_display[3:6] == ["state_display", "daily_quota", "valid_until"]


@pytest.mark.parametrize("state", list(GrantState))
def test_the_list_filters_by_state(state: GrantState, auditor: Any, grants: dict[str, Grant]) -> None:
    response = as_user(auditor).get(f"{LIST}?state={state.value}")
    assert [g.pk for g in response.context["cl"].result_list] == [grants[state.value].pk]


@pytest.mark.parametrize(("actor", "revoke", "renew"), [
    ("health_approver", True, False), ("police_clerk", False, True), ("health_clerk", False, False),
    ("auditor", False, False), ("authority", False, False)])
def test_the_grant_page_offers_only_the_allowed_buttons(actor: str, revoke: bool, renew: bool,
                                                        police_grant: Grant, request: pytest.FixtureRequest) -> None:
    html = as_user(request.getfixturevalue(actor)).get(page_of(police_grant)).content.decode()
    assert (revoke_url(police_grant) in html) is revoke
    assert (renew_url(police_grant) in html) is renew


def test_an_ended_grant_offers_neither_revoke_nor_renewal(health_approver: Any, police_clerk: Any,
                                                          grants: dict[str, Grant]) -> None:
    for name in ("revoked", "expired"):
        grant = grants[name]
        assert revoke_url(grant) not in as_user(health_approver).get(page_of(grant)).content.decode()
        assert renew_url(grant) not in as_user(police_clerk).get(page_of(grant)).content.decode()
    pending = grants["pending"]  # not yet in force: may already be renewed
    assert renew_url(pending) in as_user(police_clerk).get(page_of(pending)).content.decode()


def test_a_renewal_already_filed_is_linked_instead_of_offered(police_clerk: Any, police_grant: Grant,
                                                              police_system: System, vaccinations: Dataset) -> None:
    renewal = access_request_file(consumer=police_system, dataset=vaccinations, fields=["vaccine"],
                                  purpose_code="public-health.outbreak-tracing", purpose="Tracing",
                                  legal_basis="Infectious Diseases Law", actor=police_clerk, renews=police_grant)
    html = as_user(police_clerk).get(page_of(police_grant)).content.decode()
    assert renew_url(police_grant) not in html
    assert reverse("admin:exchange_accessrequest_change", args=[renewal.pk]) in html


def test_an_approver_of_the_provider_revokes_with_a_reason(health_approver: Any, police_grant: Grant) -> None:
    http = as_user(health_approver)
    assert http.get(revoke_url(police_grant)).status_code == 200
    response = http.post(revoke_url(police_grant), {"reason": "The investigation is closed."}, follow=True)
    assert response.redirect_chain[-1][0] == page_of(police_grant)
    assert [str(m) for m in response.context["messages"]] == [
        f"Grant #{police_grant.pk} is revoked; the next call under it is refused."]
    police_grant.refresh_from_db()
    assert (police_grant.state, police_grant.revoked_by, police_grant.revocation_reason) == (
        GrantState.REVOKED, health_approver, "The investigation is closed.")
    assert AuditEvent.objects.get(action="grant.revoked").grant_id == police_grant.pk


def test_a_revocation_needs_a_reason(health_approver: Any, police_grant: Grant) -> None:
    response = as_user(health_approver).post(revoke_url(police_grant), {"reason": "  "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    police_grant.refresh_from_db()
    assert police_grant.revoked_at is None


def test_a_revoked_grant_is_not_revoked_again(health_approver: Any, grants: dict[str, Grant]) -> None:
    response = as_user(health_approver).post(revoke_url(grants["revoked"]), {"reason": "Again"})
    assert response.status_code == 409
    assert Grant.objects.get(pk=grants["revoked"].pk).revocation_reason == "Case closed."


@pytest.mark.parametrize("actor", ["police_clerk", "health_clerk", "auditor", "authority", "police_approver"])
def test_only_the_providers_approvers_revoke(actor: str, police_grant: Grant, police: Department,
                                             request: pytest.FixtureRequest) -> None:
    user = (make_user("police-approver", police, Role.APPROVER) if actor == "police_approver"
            else request.getfixturevalue(actor))
    http = as_user(user)
    assert http.get(revoke_url(police_grant)).status_code == 403
    response = http.post(revoke_url(police_grant), {"reason": "Not mine to revoke"})
    assert response.status_code == 403
    assert "Only approvers of Health Commission may revoke grants for vaccinations." in response.content.decode()
    police_grant.refresh_from_db()
    assert police_grant.revoked_at is None


def test_an_uninvolved_department_does_not_find_the_grant(police_grant: Grant) -> None:
    education = Department.objects.create(code="education", name="Education Bureau")
    approver = make_user("education-approver", education, Role.APPROVER)
    assert as_user(approver).post(revoke_url(police_grant), {"reason": "x"}).status_code == 404


def test_the_reapprove_action_is_still_offered_to_approvers(health_approver: Any, police_clerk: Any,
                                                            police_grant: Grant) -> None:
    assert "reapprove" in dict(as_user(health_approver).get(LIST).context["action_form"].fields["action"].choices)
    assert as_user(police_clerk).get(LIST).context["action_form"] is None


def test_the_data_authority_adds_and_changes_a_purpose_and_each_is_audited(authority: Any) -> None:
    http = Client()
    http.force_login(authority)
    response = http.post("/admin/exchange/purpose/add/", {
        "code": "housing.subsidy", "label_zh": "住房保障资格审核", "label_en": "Housing subsidy checks",
        "description": "", "active": "on"})
    assert response.status_code == 302, response.content.decode()[:1500]
    purpose = Purpose.objects.get(code="housing.subsidy")
    response = http.post(f"/admin/exchange/purpose/{purpose.pk}/change/", {
        "label_zh": "住房保障资格审核", "label_en": "Housing subsidy checks", "description": "Public rental housing."})
    assert response.status_code == 302
    purpose.refresh_from_db()
    assert (purpose.active, purpose.description) == (False, "Public rental housing.")
    added, changed = AuditEvent.objects.filter(object_type="purpose").order_by("pk")
    assert (added.action, added.object_id) == ("purpose.added", "housing.subsidy")
    assert changed.action == "purpose.changed"
    assert sorted(changed.detail["changed"]) == ["active", "description"]


def test_the_provider_sees_who_used_its_data_by_month_system_purpose_and_grant(
    health_clerk: Any, police_clerk: Any, police_grant: Any, police_key: Any, signed_get: Any
) -> None:
    from tests.conftest import record_path

    for _ in range(3):
        assert signed_get(record_path()).status_code == 200
    assert signed_get(record_path(query="fields=full_name")).status_code in (400, 403)  # refused: not a use
    http = Client()
    http.force_login(health_clerk)
    page = http.get("/admin/exchange/grant/usage/")
    assert page.status_code == 200
    html = page.content.decode()
    row = html[html.index('<table id="usage">'):]
    assert "police-rms" in row and "vaccinations" in row and police_grant.purpose_code in row
    assert "<td>3</td>" in row, "three served reads, the refused one not counted"
    assert 'id="grant-usage"' in http.get("/admin/exchange/grant/").content.decode()

    police = Client()
    police.force_login(police_clerk)  # the consumer's department owns no dataset here: it sees no one's use
    assert 'id="usage-none"' in police.get("/admin/exchange/grant/usage/").content.decode()
