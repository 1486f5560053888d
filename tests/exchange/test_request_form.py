"""The request form, opened from a dataset's page: that dataset and its own fields to tick, a purpose from the data
authority's list, kept as a draft or submitted, with the outcome of each sharing tier; and a renewal pre-filled
from the grant it renews."""

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import formats, timezone

from catalog.models import Dataset, DatasetStatus, Tier
from exchange.models import AccessRequest, Grant, Purpose, RejectionReason, RequestState
from exchange.services import access_request_file
from registry.models import Department, Role, System
from tests.conftest import build_dataset, events_but_sign_ins, make_user

pytestmark = pytest.mark.django_db

ADD = reverse("admin:exchange_accessrequest_add")


def as_user(user: Any) -> Client:
    http = Client()
    http.force_login(user)
    return http


def form_data(system: System, dataset: Dataset, fields: list[str], **overrides: Any) -> dict[str, Any]:
    return {"consumer": system.pk, "dataset": dataset.pk,
            "requested_fields": list(dataset.fields.filter(name__in=fields).values_list("pk", flat=True)),
            "purpose_code": "law-enforcement.investigation", "purpose": "Checking an alibi in case 2026-17",
            "legal_basis": "Criminal Procedure Law art. 54", "case_reference": "2026-17", "duration_days": 90,
            "expected_daily_volume": 40, **overrides}


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- The form ---

def test_request_access_preselects_the_dataset_and_offers_only_its_fields(
        police_clerk: Any, police_system: System, vaccinations: Dataset, health: Department) -> None:
    build_dataset(health, identifier="births")
    page = as_user(police_clerk).get(f"{ADD}?dataset={vaccinations.pk}")
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert form.initial["dataset"] == str(vaccinations.pk)
    offered = list(form.fields["requested_fields"].queryset)
    assert {f.dataset_id for f in offered} == {vaccinations.pk}
    assert "vaccine (Internal)" in page.content.decode()  # each with its sensitivity, no dataset prefix
    assert "full_name (Personal)" in page.content.decode()


def test_the_purpose_is_chosen_from_the_active_vocabulary_by_its_label(police_clerk: Any, police_system: System,
                                                                      vaccinations: Dataset) -> None:
    Purpose.objects.filter(code="tax.administration").update(active=False)
    page = as_user(police_clerk).get(f"{ADD}?dataset={vaccinations.pk}")
    choices = dict(page.context["adminform"].form.fields["purpose_code"].choices)
    assert choices["law-enforcement.investigation"] == (
        "Criminal investigation and case handling (law-enforcement.investigation)")
    assert "tax.administration" not in choices
    html = page.content.decode()
    assert 'value="public-health.outbreak-tracing"' in html
    assert 'name="expected_daily_volume"' in html and 'name="case_reference"' in html


def test_the_purpose_label_follows_the_language(police_clerk: Any, police_system: System,
                                                vaccinations: Dataset) -> None:
    http = as_user(police_clerk)
    http.cookies["language"] = "zh-hans"
    page = http.get(f"{ADD}?dataset={vaccinations.pk}")
    choices = dict(page.context["adminform"].form.fields["purpose_code"].choices)
    assert choices["law-enforcement.investigation"] == "案件侦查与办理 (law-enforcement.investigation)"


def test_the_form_offers_not_shared_data_but_not_open_data(police_clerk: Any, police_system: System,
                                                           health: Department, vaccinations: Dataset) -> None:
    build_dataset(health, identifier="sealed", tier=Tier.NOT_SHARED)
    build_dataset(health, identifier="clinics", tier=Tier.OPEN)
    build_dataset(health, identifier="unpublished", status=DatasetStatus.DRAFT)
    page = as_user(police_clerk).get(ADD)
    offered = {d.identifier for d in page.context["adminform"].form.fields["dataset"].queryset}
    assert offered == {"vaccinations", "sealed"}


def test_the_page_says_how_each_tier_is_answered(police_clerk: Any, police_system: System, health: Department,
                                                 vaccinations: Dataset) -> None:
    http = as_user(police_clerk)
    conditional = http.get(f"{ADD}?dataset={vaccinations.pk}").content.decode()
    assert "Health Commission answers within 10 working days of the submission" in conditional
    assert 'name="_submit" value="Submit"' in conditional and 'name="_draft" value="Save as draft"' in conditional
    births = build_dataset(health, identifier="births", tier=Tier.UNCONDITIONAL)
    unconditional = http.get(f"{ADD}?dataset={births.pk}").content.decode()
    assert 'name="_submit" value="Subscribe"' in unconditional
    assert "subscribing grants your system the ticked fields at once" in unconditional
    sealed = build_dataset(health, identifier="sealed", tier=Tier.NOT_SHARED)
    not_shared = http.get(f"{ADD}?dataset={sealed.pk}").content.decode()
    assert "A request is answered at once with the dataset" in not_shared
    assert "Vaccine Administration Law" in not_shared  # its legal basis


# --- Filing ---

def test_a_clerk_saves_a_draft(police_clerk: Any, police_system: System, vaccinations: Dataset) -> None:
    response = as_user(police_clerk).post(ADD, {**form_data(police_system, vaccinations, ["vaccine", "dose_date"]),
                                                "_draft": "Save as draft"}, follow=True)
    request = AccessRequest.objects.get()
    assert (request.state, request.due_date) == (RequestState.DRAFT, None)
    assert (request.fields, request.purpose_code, request.expected_daily_volume) == (
        ["vaccine", "dose_date"], "law-enforcement.investigation", 40)
    assert response.redirect_chain[-1][0] == reverse("admin:exchange_accessrequest_change", args=[request.pk])
    assert messages_of(response) == [f"Request #{request.pk} is saved as a draft. Submit it when it is ready; the "
                                     "deadline starts then."]
    assert list(events_but_sign_ins().values_list("action", flat=True)) == ["access_request.filed"]


def test_a_clerk_submits_and_is_told_the_deadline(police_clerk: Any, police_system: System,
                                                  vaccinations: Dataset) -> None:
    response = as_user(police_clerk).post(ADD, {**form_data(police_system, vaccinations, ["vaccine"]),
                                                "_submit": "Submit"}, follow=True)
    request = AccessRequest.objects.get()
    assert request.state == RequestState.SUBMITTED and request.due_date is not None
    due = formats.date_format(request.due_date, "DATE_FORMAT")
    assert messages_of(response) == [f"Request #{request.pk} is submitted. Health Commission answers by {due}."]
    assert sorted(events_but_sign_ins().values_list("action", flat=True)) == [
        "access_request.filed", "access_request.submitted"]


def test_subscribing_to_an_unconditional_dataset_is_granted_at_once(police_clerk: Any, police_system: System,
                                                                    health: Department) -> None:
    births = build_dataset(health, identifier="births", tier=Tier.UNCONDITIONAL)
    response = as_user(police_clerk).post(ADD, {**form_data(police_system, births, ["vaccine"]),
                                                "_submit": "Subscribe"}, follow=True)
    request = AccessRequest.objects.get()
    grant = Grant.objects.get()
    assert (request.state, grant.access_request_id, grant.daily_quota) == (RequestState.APPROVED, request.pk, 40)
    link = reverse("admin:exchange_grant_change", args=[grant.pk])
    assert messages_of(response) == [f'Request #{request.pk} is granted at once (unconditional sharing): '
                                     f'<a href="{link}">grant #{grant.pk}</a>']


def test_a_request_for_data_not_shared_is_answered_at_once_as_demand(police_clerk: Any, police_system: System,
                                                                     health: Department) -> None:
    sealed = build_dataset(health, identifier="sealed", tier=Tier.NOT_SHARED)
    response = as_user(police_clerk).post(ADD, form_data(police_system, sealed, ["vaccine"]), follow=True)
    request = AccessRequest.objects.get()
    assert (request.state, request.rejection_reason) == (RequestState.REJECTED, RejectionReason.NOT_SHARED)
    assert messages_of(response) == [
        f"Request #{request.pk} is answered at once: Vaccinations is not shared (不予共享). Legal basis: Vaccine "
        "Administration Law. Your request is recorded as demand for the data."]
    assert not Grant.objects.exists()


def test_a_dataset_retired_since_the_form_opened_is_a_form_error(police_clerk: Any, police_system: System,
                                                                 vaccinations: Dataset) -> None:
    Dataset.objects.filter(pk=vaccinations.pk).update(status=DatasetStatus.RETIRED)
    response = as_user(police_clerk).post(ADD, form_data(police_system, vaccinations, ["vaccine"]))
    assert response.status_code == 200
    assert "dataset" in response.context["adminform"].form.errors
    assert not AccessRequest.objects.exists() and not events_but_sign_ins().exists()


def test_a_purpose_outside_the_vocabulary_is_a_form_error(police_clerk: Any, police_system: System,
                                                          vaccinations: Dataset) -> None:
    response = as_user(police_clerk).post(ADD, form_data(police_system, vaccinations, ["vaccine"],
                                                         purpose_code="curiosity.general"))
    assert response.status_code == 200
    assert "purpose_code" in response.context["adminform"].form.errors
    assert not AccessRequest.objects.exists()


def test_the_requester_opens_the_dataset_named_on_their_own_request(police_clerk: Any, police_system: System,
                                                                    vaccinations: Dataset) -> None:
    request = access_request_file(consumer=police_system, dataset=vaccinations, fields=["vaccine"],
                                  actor=police_clerk, purpose_code="public-health.outbreak-tracing", purpose="追溯",
                                  legal_basis="（演示）")
    http = as_user(police_clerk)
    page = http.get(reverse("admin:exchange_accessrequest_change", args=[request.pk])).content.decode()
    link = reverse("admin:catalog_dataset_change", args=[vaccinations.pk])
    assert link in page
    dataset_page = http.get(link)
    assert dataset_page.status_code == 200 and "may have been deleted" not in dataset_page.content.decode()


# --- The catalogue's button ---

@pytest.mark.parametrize(("tier", "label"), [(Tier.CONDITIONAL, "Request access"), (Tier.UNCONDITIONAL, "Subscribe"),
                                             (Tier.NOT_SHARED, "Register a demand"), (Tier.OPEN, None)])
def test_the_catalogue_page_button_says_what_a_request_does(tier: str, label: str | None, police_clerk: Any,
                                                            health: Department) -> None:
    dataset = build_dataset(health, identifier="births", tier=tier)
    html = as_user(police_clerk).get(reverse("catalog:dataset", args=["births"])).content.decode()
    button = f'<a class="button" href="{ADD}?dataset={dataset.pk}">'
    if label is None:  # open data needs no request
        assert button not in html
    else:
        assert f"{button}{label}</a>" in html


# --- Renewal ---

@pytest.fixture
def grant(police_clerk: Any, police_system: System, vaccinations: Dataset, health_approver: Any) -> Grant:
    from exchange.services import access_request_approve

    request = access_request_file(consumer=police_system, dataset=vaccinations, fields=["vaccine", "dose_date"],
                                  actor=police_clerk, purpose_code="public-health.outbreak-tracing",
                                  purpose="Tracing contacts", legal_basis="Infectious Diseases Law art. 12",
                                  case_reference="PSB-9", duration_days=60, expected_daily_volume=500)
    return access_request_approve(access_request=request, approver=health_approver, daily_quota=200)


def test_a_renewal_opens_pre_filled_with_the_grants_terms(police_clerk: Any, grant: Grant,
                                                          vaccinations: Dataset) -> None:
    page = as_user(police_clerk).get(f"{ADD}?renews={grant.pk}")
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert form.initial["consumer"] == grant.consumer_id and form.initial["dataset"] == vaccinations.pk
    assert set(form.initial["requested_fields"]) == set(
        vaccinations.fields.filter(name__in=["vaccine", "dose_date"]).values_list("pk", flat=True))
    assert (form.initial["purpose_code"], form.initial["legal_basis"], form.initial["case_reference"]) == (
        "public-health.outbreak-tracing", "Infectious Diseases Law art. 12", "PSB-9")
    assert (form.initial["duration_days"], form.initial["expected_daily_volume"]) == (60, 200)
    assert form.fields["consumer"].disabled and form.fields["dataset"].disabled
    assert f"A renewal of grant #{grant.pk}" in page.content.decode()


def test_a_renewal_is_filed_for_the_grant(police_clerk: Any, grant: Grant, vaccinations: Dataset,
                                          police_system: System, health: Department) -> None:
    other = System.objects.create(department=police_system.department, code="police-2", name="Second system")
    births = build_dataset(health, identifier="births")
    data = {**form_data(police_system, vaccinations, ["vaccine"], duration_days=30),
            "consumer": other.pk, "dataset": births.pk}
    response = as_user(police_clerk).post(f"{ADD}?renews={grant.pk}", data)  # consumer and dataset stay the grant's
    assert response.status_code == 302
    renewal = AccessRequest.objects.exclude(pk=grant.access_request_id).get()
    assert (renewal.renews, renewal.consumer, renewal.dataset) == (grant, police_system, vaccinations)
    assert (renewal.state, renewal.duration_days) == (RequestState.SUBMITTED, 30)


def test_a_second_renewal_is_refused_with_409(police_clerk: Any, grant: Grant, vaccinations: Dataset,
                                              police_system: System) -> None:
    http = as_user(police_clerk)
    data = form_data(police_system, vaccinations, ["vaccine"])
    assert http.post(f"{ADD}?renews={grant.pk}", data).status_code == 302
    response = http.post(f"{ADD}?renews={grant.pk}", data)
    assert response.status_code == 409
    assert "This grant already has a renewal filed or granted." in response.content.decode()
    assert AccessRequest.objects.count() == 2


def test_only_the_consumers_clerks_may_renew(grant: Grant, health_approver: Any, health_clerk: Any,
                                             police: Department) -> None:
    assert as_user(health_clerk).get(f"{ADD}?renews={grant.pk}").status_code == 403
    police_approver = make_user("police-approver", police, Role.APPROVER)
    assert as_user(police_approver).get(f"{ADD}?renews={grant.pk}").status_code == 403  # may not file at all
    education = Department.objects.create(code="education", name="Education Bureau")
    stranger = make_user("education-clerk", education, Role.CLERK)
    assert as_user(stranger).get(f"{ADD}?renews={grant.pk}").status_code == 404  # not theirs to see
    assert as_user(stranger).get(f"{ADD}?renews=abc").status_code == 404


def test_an_ended_grant_cannot_be_renewed(police_clerk: Any, grant: Grant, vaccinations: Dataset,
                                          police_system: System) -> None:
    Grant.objects.filter(pk=grant.pk).update(valid_until=timezone.now() - dt.timedelta(days=1))
    response = as_user(police_clerk).post(f"{ADD}?renews={grant.pk}", form_data(police_system, vaccinations,
                                                                                 ["vaccine"]))
    assert response.status_code == 409
    assert AccessRequest.objects.count() == 1
