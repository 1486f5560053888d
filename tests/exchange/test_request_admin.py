"""Access requests in the admin, per role: changing a draft or a returned request and (re)submitting it,
withdrawing, the decision page (approve, approve in part, return, reject) and its refusals, handing an escalated
request over, the request page's buttons, the list sorted by deadline with its filters, and the purposes."""

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import formats, timezone

from audit.models import AuditEvent
from catalog.models import Dataset, DatasetStatus, Field, Tier
from core.workdays import today as workdays_today
from core.workdays import working_day_add
from exchange.models import AccessRequest, AccessRequestStep, Grant, Purpose, RequestState
from exchange.services import (
    access_request_approve,
    access_request_file,
    access_request_return,
)
from registry.models import Department, Membership, Role, System
from tests.conftest import build_dataset, events_but_sign_ins, make_user

pytestmark = pytest.mark.django_db


def as_user(user: Any) -> Client:
    http = Client()
    http.force_login(user)
    return http


def file(actor: Any, consumer: System, dataset: Dataset, **overrides: Any) -> AccessRequest:
    arguments: dict[str, Any] = {
        "fields": ["vaccine", "dose_date"], "purpose_code": "law-enforcement.investigation",
        "purpose": "Checking an alibi in case 2026-17", "legal_basis": "Criminal Procedure Law art. 54",
        "case_reference": "2026-17", "duration_days": 90, "expected_daily_volume": 100, **overrides}
    return access_request_file(consumer=consumer, dataset=dataset, actor=actor, **arguments)


def url(name: str, *args: Any) -> str:
    return reverse(f"admin:exchange_accessrequest_{name}", args=args)


def page_of(request: AccessRequest) -> str:
    return url("change", request.pk)


def edit_data(request: AccessRequest, **overrides: Any) -> dict[str, Any]:
    return {"requested_fields": list(request.dataset.fields.filter(name__in=request.fields).values_list("pk",
                                                                                                      flat=True)),
            "purpose_code": request.purpose_code, "purpose": request.purpose, "legal_basis": request.legal_basis,
            "case_reference": request.case_reference, "duration_days": request.duration_days,
            "expected_daily_volume": request.expected_daily_volume, **overrides}


def state_of(request: AccessRequest) -> str:
    return AccessRequest.objects.get(pk=request.pk).state


@pytest.fixture
def submitted(police_clerk: Any, police_system: System, vaccinations: Dataset) -> AccessRequest:
    return file(police_clerk, police_system, vaccinations)


@pytest.fixture
def draft(police_clerk: Any, police_system: System, vaccinations: Dataset) -> AccessRequest:
    return file(police_clerk, police_system, vaccinations, submit=False)


@pytest.fixture
def returned(submitted: AccessRequest, health_approver: Any) -> AccessRequest:
    return access_request_return(access_request=submitted, approver=health_approver,
                                 comment="Name the case file and drop dose_date.")


@pytest.fixture
def police_approver(police: Department) -> Any:
    """An approver of the requesting department: they see the request, but it is not theirs to decide."""
    return make_user("police-approver", police, Role.APPROVER)


def escalate(request: AccessRequest) -> None:
    AccessRequest.objects.filter(pk=request.pk).update(
        due_date=workdays_today() - dt.timedelta(days=7), escalated_at=timezone.now())


# --- Changing a draft or a returned request ---

def test_a_draft_is_changed_through_its_form_and_submitted(police_clerk: Any, draft: AccessRequest) -> None:
    http = as_user(police_clerk)
    page = http.get(page_of(draft))
    html = page.content.decode()
    assert page.status_code == 200 and page.context["has_change_permission"]
    assert set(page.context["adminform"].form.fields) == {
        "requested_fields", "purpose_code", "purpose", "legal_basis", "case_reference", "duration_days",
        "expected_daily_volume"}  # not the system, nor the dataset
    assert 'name="_submit" value="Submit"' in html and 'name="_save" value="Save draft"' in html
    assert url("withdraw", draft.pk) in html
    response = http.post(page_of(draft), {**edit_data(draft, purpose_code="public-health.outbreak-tracing",
                                                      duration_days=30), "_submit": "Submit"})
    assert response.status_code == 302 and response["Location"] == page_of(draft)
    stored = AccessRequest.objects.get(pk=draft.pk)
    assert (stored.state, stored.purpose_code, stored.duration_days) == (
        RequestState.SUBMITTED, "public-health.outbreak-tracing", 30)
    assert stored.due_date is not None
    assert list(events_but_sign_ins().order_by("pk").values_list("action", flat=True)) == [
        "access_request.filed", "access_request.updated", "access_request.submitted"]


def test_saving_a_draft_keeps_it_a_draft(police_clerk: Any, draft: AccessRequest) -> None:
    response = as_user(police_clerk).post(page_of(draft), {**edit_data(draft, case_reference="2026-18"),
                                                           "_save": "Save draft"})
    assert response.status_code == 302
    stored = AccessRequest.objects.get(pk=draft.pk)
    assert (stored.state, stored.case_reference) == (RequestState.DRAFT, "2026-18")


def test_a_returned_request_shows_the_comment_and_is_resubmitted(police_clerk: Any,
                                                                 returned: AccessRequest) -> None:
    http = as_user(police_clerk)
    html = http.get(page_of(returned)).content.decode()
    comment = html[html.index('id="return-comment"'):]
    assert "Name the case file and drop dose_date." in comment[:comment.index("</div>")]
    assert "Returned by health-approver" in comment
    assert 'name="_resubmit" value="Resubmit"' in html and url("withdraw", returned.pk) in html
    vaccine = returned.dataset.fields.get(name="vaccine")
    response = http.post(page_of(returned), {**edit_data(returned, requested_fields=[vaccine.pk],
                                                         case_reference="PSB-2026-17"), "_resubmit": "Resubmit"},
                         follow=True)
    assert response.redirect_chain == [(page_of(returned), 302)]
    stored = AccessRequest.objects.get(pk=returned.pk)
    assert [str(m) for m in response.context["messages"]] == [
        f"Request #{returned.pk} is resubmitted. Health Commission answers by "
        f"{formats.date_format(stored.due_date, 'DATE_FORMAT')}."]
    assert (stored.state, stored.fields, stored.case_reference) == (RequestState.RESUBMITTED, ["vaccine"],
                                                                    "PSB-2026-17")
    assert stored.due_date == working_day_add(workdays_today(), 10)


def test_a_refused_resubmission_saves_nothing(police_clerk: Any, returned: AccessRequest) -> None:
    Dataset.objects.filter(pk=returned.dataset_id).update(status=DatasetStatus.RETIRED)
    response = as_user(police_clerk).post(page_of(returned), {**edit_data(returned, case_reference="changed"),
                                                              "_resubmit": "Resubmit"})
    assert response.status_code == 400
    assert "vaccinations is not published." in response.content.decode()
    stored = AccessRequest.objects.get(pk=returned.pk)
    assert (stored.state, stored.case_reference) == (RequestState.RETURNED, "2026-17")  # the change rolled back
    assert not AuditEvent.objects.filter(action="access_request.updated").exists()


@pytest.mark.parametrize("actor", ["health_approver", "health_clerk", "auditor", "police_approver"])
def test_only_the_requesting_departments_clerks_change_a_draft(actor: str, draft: AccessRequest,
                                                               request: pytest.FixtureRequest) -> None:
    http = as_user(request.getfixturevalue(actor))
    page = http.get(page_of(draft))
    assert page.status_code == 200 and not page.context["has_change_permission"]
    assert 'name="_submit"' not in page.content.decode()
    response = http.post(page_of(draft), {**edit_data(draft, case_reference="hijacked"), "_submit": "Submit"})
    assert response.status_code == 403
    assert AccessRequest.objects.get(pk=draft.pk).case_reference == "2026-17"


def test_a_submitted_request_is_read_only_for_its_clerk(police_clerk: Any, submitted: AccessRequest) -> None:
    http = as_user(police_clerk)
    page = http.get(page_of(submitted))
    html = page.content.decode()
    assert not page.context["has_change_permission"] and 'name="_save"' not in html
    assert http.post(page_of(submitted), edit_data(submitted, case_reference="late")).status_code == 403


# --- The request page ---

def test_the_request_page_shows_the_request_in_full(police_clerk: Any, submitted: AccessRequest) -> None:
    AccessRequest.objects.filter(pk=submitted.pk).update(due_date=workdays_today())
    html = as_user(police_clerk).get(page_of(submitted)).content.decode()
    summary = html[html.index('id="request-summary"'):]
    for text in ["Submitted", "due today", "Police records system", "police-rms", "Public Security Bureau",
                 "Filed by police-clerk", "Criminal investigation and case handling",
                 "(law-enforcement.investigation)", "Checking an alibi in case 2026-17",
                 "Criminal Procedure Law art. 54", "2026-17", "90 days", "100 records a day"]:
        assert text in summary, text
    fields = html[html.index('id="requested-fields"'):]
    assert "<code>vaccine</code>" in fields and "Internal" in fields
    history = html[html.index('id="request-history"'):]
    assert "Submitted" in history and "Draft → Submitted" in history


def test_the_history_shows_what_an_approval_in_part_left_out(police_clerk: Any, submitted: AccessRequest,
                                                             health_approver: Any) -> None:
    grant = access_request_approve(access_request=submitted, approver=health_approver, fields=["vaccine"],
                                   duration_days=30, daily_quota=10, reason="Only what the case needs.")
    html = as_user(police_clerk).get(page_of(submitted)).content.decode()
    history = html[html.index('id="request-history"'):]
    assert "Approved in part" in history and "Only what the case needs." in history
    assert "Fields granted: vaccine (requested: vaccine, dose_date)" in history
    assert "Duration: 30 days (requested: 90)" in history and "Daily quota: 10 (expected: 100)" in history
    assert reverse("admin:exchange_grant_change", args=[grant.pk]) in html


@pytest.mark.parametrize(("actor", "decide", "withdraw"), [
    ("police_clerk", False, True), ("health_approver", True, False), ("health_clerk", False, False),
    ("auditor", False, False), ("police_approver", False, False), ("authority", False, False)])
def test_the_request_page_offers_only_the_allowed_buttons(actor: str, decide: bool, withdraw: bool,
                                                          submitted: AccessRequest,
                                                          request: pytest.FixtureRequest) -> None:
    html = as_user(request.getfixturevalue(actor)).get(page_of(submitted)).content.decode()
    assert (url("decide", submitted.pk) in html) is decide
    assert (url("withdraw", submitted.pk) in html) is withdraw
    assert url("hand_over", submitted.pk) not in html


def test_the_data_authority_may_decide_and_hand_over_an_escalated_request(authority: Any,
                                                                         submitted: AccessRequest) -> None:
    escalate(submitted)
    html = as_user(authority).get(page_of(submitted)).content.decode()
    assert url("decide", submitted.pk) in html and url("hand_over", submitted.pk) in html
    assert "Escalated to the data authority" in html and "overdue by" in html


def test_a_decided_request_offers_no_buttons(police_clerk: Any, health_approver: Any,
                                             submitted: AccessRequest) -> None:
    access_request_approve(access_request=submitted, approver=health_approver)
    for user in (police_clerk, health_approver):
        html = as_user(user).get(page_of(submitted)).content.decode()
        assert url("decide", submitted.pk) not in html and url("withdraw", submitted.pk) not in html


# --- Withdrawing ---

def test_the_clerk_withdraws_a_submitted_request(police_clerk: Any, submitted: AccessRequest) -> None:
    http = as_user(police_clerk)
    assert http.get(url("withdraw", submitted.pk)).status_code == 200
    response = http.post(url("withdraw", submitted.pk), {"comment": "The case was closed."})
    assert response.status_code == 302 and response["Location"] == page_of(submitted)
    assert state_of(submitted) == RequestState.WITHDRAWN
    step = AccessRequestStep.objects.get(access_request=submitted, action="withdraw")
    assert (step.actor, step.comment) == (police_clerk, "The case was closed.")


def test_a_draft_is_withdrawn_without_a_comment(police_clerk: Any, draft: AccessRequest) -> None:
    assert as_user(police_clerk).post(url("withdraw", draft.pk), {}).status_code == 302
    assert state_of(draft) == RequestState.WITHDRAWN


@pytest.mark.parametrize("actor", ["health_approver", "auditor", "health_clerk"])
def test_only_the_requesting_department_withdraws(actor: str, submitted: AccessRequest,
                                                  request: pytest.FixtureRequest) -> None:
    http = as_user(request.getfixturevalue(actor))
    assert http.get(url("withdraw", submitted.pk)).status_code == 403
    response = http.post(url("withdraw", submitted.pk), {})
    assert response.status_code == 403
    assert "Only clerks of Public Security Bureau may withdraw requests for police-rms." in response.content.decode()
    assert state_of(submitted) == RequestState.SUBMITTED


def test_a_decided_request_cannot_be_withdrawn(police_clerk: Any, health_approver: Any,
                                               submitted: AccessRequest) -> None:
    access_request_approve(access_request=submitted, approver=health_approver)
    response = as_user(police_clerk).post(url("withdraw", submitted.pk), {})
    assert response.status_code == 409
    assert state_of(submitted) == RequestState.APPROVED


# --- The decision page ---

def test_the_decision_page_shows_what_the_approver_needs(health_approver: Any, submitted: AccessRequest,
                                                         police_grant: Grant, police_clerk: Any) -> None:
    access_request_return(access_request=submitted, approver=health_approver, comment="Which case?")
    from exchange.services import access_request_resubmit

    access_request_resubmit(access_request=submitted, actor=police_clerk)
    page = as_user(health_approver).get(url("decide", submitted.pk))
    html = page.content.decode()
    assert page.status_code == 200
    summary = html[html.index('id="request-summary"'):]
    assert "Police records system" in summary and "Public Security Bureau" in summary
    assert "Criminal investigation and case handling" in summary and "due in 10 working days" in summary
    fields = html[html.index('id="requested-fields"'):]
    assert "dose_date" in fields and "Internal" in fields
    grants = html[html.index('id="other-grants"'):html.index('id="request-history"')]
    assert f"#{police_grant.pk}" in grants and "Active" in grants
    history = html[html.index('id="request-history"'):]
    assert "Returned for changes" in history and "Which case?" in history and "Resubmitted" in history
    form = page.context["form"]
    assert form.initial == {"granted_fields": ["vaccine", "dose_date"], "duration_days": 90, "daily_quota": 100,
                            "mask_vaccine": "none", "mask_dose_date": "none"}
    assert [value for value, _label in form.fields["decision"].choices] == [
        "approve", "approve_in_part", "return", "reject"]
    assert 'value="vaccine" id="id_granted_fields_0" checked>\n vaccine (Internal)' in html  # pre-ticked


def test_an_approver_approves(health_approver: Any, submitted: AccessRequest) -> None:
    response = as_user(health_approver).post(url("decide", submitted.pk), {"decision": "approve",
                                                                           "reason": "Proportionate"})
    assert response.status_code == 302 and response["Location"] == page_of(submitted)
    grant = Grant.objects.get()
    assert (grant.access_request_id, grant.allowed_fields, grant.daily_quota) == (
        submitted.pk, ["vaccine", "dose_date"], 100)
    stored = AccessRequest.objects.get(pk=submitted.pk)
    assert (stored.state, stored.decided_by, stored.decision_reason) == (
        RequestState.APPROVED, health_approver, "Proportionate")


def test_an_approver_approves_in_part_with_fewer_fields(health_approver: Any, submitted: AccessRequest) -> None:
    response = as_user(health_approver).post(url("decide", submitted.pk), {
        "decision": "approve_in_part", "granted_fields": ["vaccine"], "duration_days": 30, "daily_quota": 20,
        "part_reason": "dose_date is not needed", "comment": "ignored", "reason": "ignored"}, follow=True)
    grant = Grant.objects.get()
    assert (grant.allowed_fields, grant.daily_quota, (grant.valid_until - grant.valid_from).days) == (
        ["vaccine"], 20, 30)
    stored = AccessRequest.objects.get(pk=submitted.pk)
    assert (stored.state, stored.decision_reason) == (RequestState.APPROVED_IN_PART, "dose_date is not needed")
    assert [str(m) for m in response.context["messages"]] == [
        f"Request #{submitted.pk} is approved in part: grant #{grant.pk} for vaccine, 30 days, at most 20 records "
        "a day."]


def test_approval_in_part_must_leave_something_out(health_approver: Any, submitted: AccessRequest) -> None:
    response = as_user(health_approver).post(url("decide", submitted.pk), {
        "decision": "approve_in_part", "granted_fields": ["vaccine", "dose_date"], "duration_days": 90,
        "daily_quota": 100})
    assert response.status_code == 400
    assert "Nothing is left out" in response.content.decode()
    assert state_of(submitted) == RequestState.SUBMITTED and not Grant.objects.exists()


@pytest.mark.parametrize(("terms", "error"), [
    ({"granted_fields": [], "duration_days": 30, "daily_quota": 10}, "Tick at least one field."),
    ({"granted_fields": ["vaccine"], "duration_days": 91, "daily_quota": 10}, "At most 90, as requested."),
    ({"granted_fields": ["vaccine"], "duration_days": 30, "daily_quota": 101},
     "At most 100, the expected daily volume."),
    ({"granted_fields": ["full_name"], "duration_days": 30, "daily_quota": 10}, "Select a valid choice."),
])
def test_approval_in_part_grants_nothing_beyond_the_request(terms: dict[str, Any], error: str,
                                                            health_approver: Any, submitted: AccessRequest) -> None:
    response = as_user(health_approver).post(url("decide", submitted.pk), {"decision": "approve_in_part", **terms})
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Grant.objects.exists()


def test_an_approver_returns_a_request_with_a_comment(health_approver: Any, submitted: AccessRequest) -> None:
    response = as_user(health_approver).post(url("decide", submitted.pk), {
        "decision": "return", "comment": "Give the case file number."})
    assert response.status_code == 302
    stored = AccessRequest.objects.get(pk=submitted.pk)
    assert (stored.state, stored.return_comment) == (RequestState.RETURNED, "Give the case file number.")


def test_returning_needs_a_comment(health_approver: Any, submitted: AccessRequest) -> None:
    response = as_user(health_approver).post(url("decide", submitted.pk), {"decision": "return", "comment": "  "})
    assert response.status_code == 400
    assert "Say what the requesting department must change." in response.content.decode()
    assert state_of(submitted) == RequestState.SUBMITTED


def test_an_approver_rejects_with_a_reason_a_legal_basis_and_an_explanation(health_approver: Any,
                                                                            submitted: AccessRequest) -> None:
    response = as_user(health_approver).post(url("decide", submitted.pk), {
        "decision": "reject", "rejection_reason": "beyond_purpose", "legal_basis": "PIPL art. 6",
        "explanation": "An alibi check needs no dose dates."})
    assert response.status_code == 302
    stored = AccessRequest.objects.get(pk=submitted.pk)
    assert (stored.state, stored.rejection_reason, stored.rejection_legal_basis, stored.decision_reason) == (
        RequestState.REJECTED, "beyond_purpose", "PIPL art. 6", "An alibi check needs no dose dates.")
    assert not Grant.objects.exists()


@pytest.mark.parametrize(("missing", "error"), [
    ("rejection_reason", "Choose a reason from the list."),
    ("legal_basis", "Cite the legal basis of the rejection."),
    ("explanation", "Explain the rejection to the requester.")])
def test_a_rejection_needs_all_three_parts(missing: str, error: str, health_approver: Any,
                                           submitted: AccessRequest) -> None:
    data = {"decision": "reject", "rejection_reason": "other", "legal_basis": "PIPL art. 6",
            "explanation": "Not needed.", missing: ""}
    response = as_user(health_approver).post(url("decide", submitted.pk), data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert state_of(submitted) == RequestState.SUBMITTED
    assert not events_but_sign_ins().exclude(action__in=["access_request.filed",
                                                         "access_request.submitted"]).exists()


def test_a_decision_must_be_chosen(health_approver: Any, submitted: AccessRequest) -> None:
    for data in ({}, {"decision": "maybe"}):
        assert as_user(health_approver).post(url("decide", submitted.pk), data).status_code == 400
    assert state_of(submitted) == RequestState.SUBMITTED


@pytest.mark.parametrize("actor", ["police_clerk", "health_clerk", "auditor", "police_approver", "authority"])
def test_those_who_may_not_decide_are_refused_with_403(actor: str, submitted: AccessRequest,
                                                       request: pytest.FixtureRequest) -> None:
    http = as_user(request.getfixturevalue(actor))
    page = http.get(url("decide", submitted.pk))
    assert page.status_code == 403
    assert "Only approvers of Health Commission may decide this request." in page.content.decode()
    assert 'id="decision-form"' not in page.content.decode()
    assert http.post(url("decide", submitted.pk), {"decision": "approve"}).status_code == 403
    assert state_of(submitted) == RequestState.SUBMITTED and not Grant.objects.exists()


def test_nobody_decides_a_request_they_filed(police: Department, health: Department, police_system: System,
                                             vaccinations: Dataset) -> None:
    both = make_user("two-hats", police, Role.CLERK)
    Membership.objects.create(user=both, department=health, role=Role.APPROVER)
    own = file(both, police_system, vaccinations)
    response = as_user(both).post(url("decide", own.pk), {"decision": "approve"})
    assert response.status_code == 403
    assert "Separation of duties" in response.content.decode()
    assert url("decide", own.pk) not in as_user(both).get(page_of(own)).content.decode()
    assert not Grant.objects.exists()


def test_a_decided_request_is_refused_with_409(health_approver: Any, submitted: AccessRequest) -> None:
    http = as_user(health_approver)
    http.post(url("decide", submitted.pk), {"decision": "return", "comment": "Which case?"})
    response = http.post(url("decide", submitted.pk), {"decision": "approve"})
    assert response.status_code == 409
    assert f"Request #{submitted.pk} is Returned for changes; it is not waiting for a decision." in (
        response.content.decode())
    assert not Grant.objects.exists()
    page = http.get(url("decide", submitted.pk))  # the page itself still opens, without the form
    assert page.status_code == 200 and 'id="decision-form"' not in page.content.decode()


def test_a_service_refusal_is_shown_with_its_status(health_approver: Any, submitted: AccessRequest) -> None:
    Dataset.objects.filter(pk=submitted.dataset_id).update(status=DatasetStatus.RETIRED)
    response = as_user(health_approver).post(url("decide", submitted.pk), {"decision": "approve"})
    assert response.status_code == 409
    assert "vaccinations is no longer shared." in response.content.decode()
    assert state_of(submitted) == RequestState.SUBMITTED and not Grant.objects.exists()


def test_the_data_authority_decides_an_escalated_request(authority: Any, submitted: AccessRequest) -> None:
    escalate(submitted)
    assert as_user(authority).post(url("decide", submitted.pk), {"decision": "approve"}).status_code == 302
    assert AccessRequest.objects.get(pk=submitted.pk).decided_by == authority


def test_an_uninvolved_department_does_not_find_the_request(submitted: AccessRequest) -> None:
    education = Department.objects.create(code="education", name="Education Bureau")
    approver = make_user("education-approver", education, Role.APPROVER)
    http = as_user(approver)
    for name in ("decide", "withdraw", "hand_over"):
        assert http.get(url(name, submitted.pk)).status_code == 404


# --- Handing over ---

def test_the_data_authority_hands_an_escalated_request_to_an_approver(authority: Any, submitted: AccessRequest,
                                                                      health_approver: Any,
                                                                      health: Department) -> None:
    other = make_user("health-approver-2", health, Role.APPROVER)
    escalate(submitted)
    http = as_user(authority)
    page = http.get(url("hand_over", submitted.pk))
    assert page.status_code == 200
    assert set(page.context["form"].fields["approver"].queryset) == {health_approver, other}
    response = http.post(url("hand_over", submitted.pk), {"approver": other.pk})
    assert response.status_code == 302 and response["Location"] == page_of(submitted)
    stored = AccessRequest.objects.get(pk=submitted.pk)
    assert (stored.assignee, stored.escalated_at) == (other, None)
    assert stored.due_date == working_day_add(workdays_today(), 3)
    html = as_user(other).get(page_of(submitted)).content.decode()
    assert "Handed over" in html and "Handed to health-approver-2" in html


def test_a_request_that_is_not_escalated_is_not_handed_over(authority: Any, submitted: AccessRequest,
                                                            health_approver: Any) -> None:
    response = as_user(authority).post(url("hand_over", submitted.pk), {"approver": health_approver.pk})
    assert response.status_code == 409
    assert AccessRequest.objects.get(pk=submitted.pk).assignee is None


@pytest.mark.parametrize("actor", ["health_approver", "police_clerk", "auditor"])
def test_only_the_data_authority_hands_over(actor: str, submitted: AccessRequest, health_approver: Any,
                                            request: pytest.FixtureRequest) -> None:
    escalate(submitted)
    response = as_user(request.getfixturevalue(actor)).post(url("hand_over", submitted.pk),
                                                            {"approver": health_approver.pk})
    assert response.status_code == 403
    assert AccessRequest.objects.get(pk=submitted.pk).assignee is None


def test_handing_over_to_someone_who_is_not_an_approver_is_a_form_error(authority: Any, submitted: AccessRequest,
                                                                        health_clerk: Any) -> None:
    escalate(submitted)
    response = as_user(authority).post(url("hand_over", submitted.pk), {"approver": health_clerk.pk})
    assert response.status_code == 400
    assert AccessRequest.objects.get(pk=submitted.pk).assignee is None


# --- The list ---

@pytest.fixture
def many(police_clerk: Any, police_system: System, vaccinations: Dataset, health_approver: Any) -> dict[str, Any]:
    """Requests in several states, with deadlines far, near and past."""
    today = workdays_today()
    made = {name: file(police_clerk, police_system, vaccinations, case_reference=name)
            for name in ("later", "soon", "overdue")}
    AccessRequest.objects.filter(pk=made["later"].pk).update(due_date=today + dt.timedelta(days=30))
    AccessRequest.objects.filter(pk=made["soon"].pk).update(due_date=working_day_add(today, 1))
    AccessRequest.objects.filter(pk=made["overdue"].pk).update(due_date=today - dt.timedelta(days=10))
    made["approved"] = file(police_clerk, police_system, vaccinations, case_reference="approved")
    access_request_approve(access_request=made["approved"], approver=health_approver)
    made["draft"] = file(police_clerk, police_system, vaccinations, case_reference="draft", submit=False)
    return made


def listed(user: Any, query: str = "") -> list[str]:
    response = as_user(user).get(url("changelist") + query)
    assert response.status_code == 200
    return [r.case_reference for r in response.context["cl"].result_list]


def test_the_list_shows_waiting_requests_first_by_deadline(auditor: Any, many: dict[str, Any]) -> None:
    assert listed(auditor) == ["overdue", "soon", "later", "draft", "approved"]


def test_the_deadline_column_is_coloured(auditor: Any, many: dict[str, Any]) -> None:
    html = as_user(auditor).get(url("changelist")).content.decode()
    assert html.count("deadline--overdue") == 1 and html.count("deadline--soon") == 1
    assert "due in 1 working day" in html and "overdue by" in html


def test_an_approver_lands_on_the_requests_waiting_for_their_decision(health_approver: Any,
                                                                      many: dict[str, Any]) -> None:
    assert listed(health_approver) == ["overdue", "soon", "later"]
    assert listed(health_approver, "?inbox=mine") == ["overdue", "soon", "later"]
    assert listed(health_approver, "?inbox=all") == ["overdue", "soon", "later", "draft", "approved"]
    assert listed(health_approver, "?state=approved") == ["approved"]  # another filter: no default


def test_waiting_for_my_decision_leaves_out_other_departments_and_own_requests(
        police_approver: Any, authority: Any, many: dict[str, Any], police_clerk: Any) -> None:
    assert listed(police_approver) == []  # the police's own requests are health's to decide
    assert listed(police_clerk) == ["overdue", "soon", "later", "draft", "approved"]  # no default for a clerk
    assert listed(authority) == []  # nothing escalated yet
    escalate(many["overdue"])
    assert listed(authority) == ["overdue"]
    assert listed(authority, "?inbox=all") == ["overdue", "soon", "later", "draft", "approved"]


def test_the_deadline_filters(auditor: Any, many: dict[str, Any]) -> None:
    assert listed(auditor, "?deadline=soon") == ["soon"]
    assert listed(auditor, "?deadline=overdue") == ["overdue"]
    assert listed(auditor, "?deadline=running") == ["overdue", "soon", "later"]


def test_the_unmet_demand_filter(auditor: Any, many: dict[str, Any], police_clerk: Any, police_system: System,
                                 health: Department) -> None:
    sealed = build_dataset(health, identifier="sealed", tier=Tier.NOT_SHARED)
    file(police_clerk, police_system, sealed, fields=["vaccine"], case_reference="demand")
    assert listed(auditor, "?demand=unmet") == ["demand"]


def test_the_side_filter(health_clerk: Any, police_clerk: Any, many: dict[str, Any]) -> None:
    assert listed(police_clerk, "?side=filed&state=draft") == ["draft"]
    assert listed(police_clerk, "?side=received") == []
    assert listed(health_clerk, "?side=received&deadline=running") == ["overdue", "soon", "later"]


# --- Purposes ---

PURPOSES = reverse("admin:exchange_purpose_changelist")


def test_the_data_authority_adds_and_changes_purposes(authority: Any) -> None:
    http = as_user(authority)
    response = http.post(reverse("admin:exchange_purpose_add"), {
        "code": "housing.eligibility", "label_zh": "住房保障资格审核", "label_en": "Housing eligibility checks",
        "description": "", "active": "on"})
    assert response.status_code == 302
    purpose = Purpose.objects.get(code="housing.eligibility")
    change = reverse("admin:exchange_purpose_change", args=[purpose.pk])
    response = http.post(change, {"code": "renamed", "label_zh": "住房保障资格审核", "label_en": "Housing checks",
                                  "description": ""})  # "active" unticked: deactivated
    assert response.status_code == 302
    purpose.refresh_from_db()
    assert (purpose.code, purpose.label_en, purpose.active) == ("housing.eligibility", "Housing checks", False)
    assert http.post(reverse("admin:exchange_purpose_delete", args=[purpose.pk]), {"post": "yes"}).status_code == 403
    assert Purpose.objects.filter(pk=purpose.pk).exists()


@pytest.mark.parametrize("actor", ["police_clerk", "health_approver", "auditor"])
def test_everyone_else_reads_the_purposes_and_changes_nothing(actor: str, request: pytest.FixtureRequest) -> None:
    http = as_user(request.getfixturevalue(actor))
    response = http.get(PURPOSES)
    assert response.status_code == 200 and response.context["cl"].result_count == Purpose.objects.count() > 10
    assert http.get(reverse("admin:exchange_purpose_add")).status_code == 403
    purpose = Purpose.objects.get(code="law-enforcement.investigation")
    change = reverse("admin:exchange_purpose_change", args=[purpose.pk])
    assert http.post(change, {"code": purpose.code, "label_zh": "x", "label_en": "x"}).status_code == 403
    assert Purpose.objects.get(pk=purpose.pk).label_en == "Criminal investigation and case handling"


def test_someone_without_a_role_does_not_see_the_purposes(db: None) -> None:
    nobody = make_user("nobody", None)
    assert as_user(nobody).get(PURPOSES).status_code == 403


def test_the_list_costs_the_same_queries_however_many_rows(health_approver: Any, many: dict[str, Any],
                                                           police_clerk: Any, police_system: System,
                                                           vaccinations: Dataset) -> None:
    http = as_user(health_approver)
    changelist = url("changelist") + "?inbox=all"

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert http.get(changelist).status_code == 200
        return len(captured)

    before = queries()
    for name in ("more-1", "more-2", "more-3"):
        file(police_clerk, police_system, vaccinations, case_reference=name)
    assert queries() == before  # no query per row: consumer, dataset and departments are joined


def test_an_approver_masks_a_field_more_strictly_and_filters_the_rows(health_approver: Any,
                                                                      submitted: AccessRequest) -> None:
    Field.objects.filter(dataset=submitted.dataset, name="dose_date").update(masking="generalise")
    page = as_user(health_approver).get(url("decide", submitted.pk))
    choices = [value for value, _label in page.context["form"].fields["mask_dose_date"].choices]
    assert choices == ["generalise", "redact"]  # only the default or stricter, and what suits a date
    assert [v for v, _l in page.context["form"].fields["mask_vaccine"].choices] == ["none", "partial", "redact"]
    response = as_user(health_approver).post(url("decide", submitted.pk), {
        "decision": "approve_in_part", "granted_fields": ["vaccine", "dose_date"], "duration_days": 90,
        "daily_quota": 100, "mask_vaccine": "none", "mask_dose_date": "redact", "row_filter_field": "vaccine",
        "row_filter_values": "measles，polio"})
    assert response.status_code == 302, response.content.decode()[:500]
    grant = Grant.objects.get()
    assert (grant.masking, grant.row_filter) == ({"vaccine": "none", "dose_date": "redact"},
                                                 {"vaccine": ["measles", "polio"]})
    assert state_of(submitted) == RequestState.APPROVED_IN_PART
    shown = as_user(health_approver).get(reverse("admin:exchange_grant_change", args=[grant.pk])).content.decode()
    assert "redact" in shown and "polio" in shown


def test_a_looser_masking_or_half_a_row_filter_is_refused(health_approver: Any, submitted: AccessRequest) -> None:
    Field.objects.filter(dataset=submitted.dataset, name="dose_date").update(masking="generalise")
    looser = as_user(health_approver).post(url("decide", submitted.pk), {
        "decision": "approve_in_part", "granted_fields": ["vaccine"], "duration_days": 90, "daily_quota": 100,
        "mask_dose_date": "none"})
    assert looser.status_code == 400 and "Select a valid choice" in looser.content.decode()
    half = as_user(health_approver).post(url("decide", submitted.pk), {
        "decision": "approve_in_part", "granted_fields": ["vaccine"], "duration_days": 90, "daily_quota": 100,
        "row_filter_field": "vaccine"})
    assert half.status_code == 400 and "Choose a field and give at least one value" in half.content.decode()
    assert not Grant.objects.exists()
