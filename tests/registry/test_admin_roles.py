"""The admin, through django.test.Client: each role sees and does only what its role grants.

The auditor reads everything and changes nothing; clerks and approvers act for their own department only,
and every write the admin offers goes through its service (so it is audited).
"""

from typing import Any

import pytest
from django.apps import apps
from django.db.models import Model
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent, Checkpoint
from audit.sequencer import log_sequence
from catalog.models import Dataset, DatasetStatus, Field, Record
from exchange.models import AccessRequest, Grant, RequestState
from exchange.services import access_request_file
from registry.models import Department, Membership, Role, System, SystemKey
from tests.conftest import DATASET_FORM_DEFAULTS, build_dataset, events_but_sign_ins, make_user

pytestmark = pytest.mark.django_db

MODELS = ["catalog.dataset", "catalog.record", "exchange.accessrequest", "exchange.grant", "audit.auditevent",
          "audit.checkpoint", "registry.system", "registry.systemkey", "registry.department",
          "registry.membership"]
#: Everything but records: the auditor reads metadata and events, never citizens' data.
METADATA = [label for label in MODELS if label != "catalog.record"]


def admin_url(label: str, view: str, *args: Any) -> str:
    app_label, model_name = label.split(".")
    return reverse(f"admin:{app_label}_{model_name}_{view}", args=args)


def as_user(user: Any) -> Client:
    http = Client()
    http.force_login(user)
    return http


def file_request(actor: Any, consumer: System, dataset: Dataset) -> AccessRequest:
    return access_request_file(consumer=consumer, dataset=dataset, fields=["vaccine"], actor=actor,
                               purpose_code="law-enforcement.investigation", purpose="Checking an alibi",
                               legal_basis="Criminal Procedure Law art. 54")


@pytest.fixture
def arrests(police: Department) -> Dataset:
    """The Police department's own dataset, which Health's people must not see."""
    dataset = build_dataset(police, identifier="arrests")
    Record.objects.create(dataset=dataset, key="P1", data={"citizen_id": "P1"})
    return dataset


@pytest.fixture
def submitted(police_clerk: Any, police_system: System, vaccinations: Dataset) -> AccessRequest:
    return file_request(police_clerk, police_system, vaccinations)


@pytest.fixture
def world(vaccinations: Dataset, arrests: Dataset, police_key: SystemKey, police_grant: Grant,
          submitted: AccessRequest, health_clerk: Any, health_approver: Any, auditor: Any) -> dict[str, Model]:
    """One object of every model in the admin, across departments, with a sequenced log and its checkpoint."""
    log_sequence()
    return {
        "catalog.dataset": arrests, "catalog.record": Record.objects.get(dataset=arrests),
        "exchange.accessrequest": submitted, "exchange.grant": police_grant,
        "audit.auditevent": AuditEvent.objects.order_by("pk").first(), "audit.checkpoint": Checkpoint.objects.get(),
        "registry.system": police_key.system, "registry.systemkey": police_key,
        "registry.department": police_key.system.department,
        "registry.membership": Membership.objects.get(user=health_clerk),
    }


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- The auditor: reads everything, changes nothing ---

@pytest.mark.parametrize("label", METADATA)
def test_the_auditor_sees_every_changelist_with_every_department(label: str, world: dict[str, Model],
                                                                 auditor: Any) -> None:
    response = as_user(auditor).get(admin_url(label, "changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count == apps.get_model(label).objects.count() > 0


@pytest.mark.parametrize("label", MODELS)
def test_the_auditor_may_not_open_an_add_page(label: str, world: dict[str, Model], auditor: Any) -> None:
    assert as_user(auditor).get(admin_url(label, "add")).status_code == 403


def test_the_auditor_sees_no_records_at_all(world: dict[str, Model], auditor: Any) -> None:
    http = as_user(auditor)
    assert http.get(admin_url("catalog.record", "changelist")).status_code == 403
    response = http.get(admin_url("catalog.record", "change", world["catalog.record"].pk))
    assert response.status_code in (302, 403) and b"P1" not in response.content


@pytest.mark.parametrize("label", METADATA)
def test_the_auditor_sees_a_change_page_without_a_save_button(label: str, world: dict[str, Model],
                                                              auditor: Any) -> None:
    response = as_user(auditor).get(admin_url(label, "change", world[label].pk))
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert 'name="_save"' not in response.content.decode()


@pytest.mark.parametrize("label", MODELS)
def test_the_auditor_may_not_post_a_change(label: str, world: dict[str, Model], auditor: Any) -> None:
    obj = world[label]
    before = apps.get_model(label).objects.filter(pk=obj.pk).values().get()
    response = as_user(auditor).post(admin_url(label, "change", obj.pk), {"name": "Renamed", "title": "Renamed"})
    assert response.status_code == 403
    assert apps.get_model(label).objects.filter(pk=obj.pk).values().get() == before


@pytest.mark.parametrize("label", MODELS)
def test_the_auditor_may_not_delete(label: str, world: dict[str, Model], auditor: Any) -> None:
    obj = world[label]
    response = as_user(auditor).post(admin_url(label, "delete", obj.pk), {"post": "yes"})
    assert response.status_code == 403
    assert apps.get_model(label).objects.filter(pk=obj.pk).exists()


def test_the_auditor_is_offered_no_actions(world: dict[str, Model], auditor: Any) -> None:
    for label in ["catalog.dataset", "registry.systemkey"]:
        assert as_user(auditor).get(admin_url(label, "changelist")).context["action_form"] is None


# --- Clerks see their own department ---

def test_a_clerk_sees_every_published_dataset_but_only_their_own_drafts(
        health_clerk: Any, vaccinations: Dataset, arrests: Dataset, police: Department, health: Department) -> None:
    build_dataset(police, identifier="police-draft", status=DatasetStatus.DRAFT)
    build_dataset(health, identifier="health-draft", status=DatasetStatus.DRAFT)
    response = as_user(health_clerk).get(admin_url("catalog.dataset", "changelist"))
    assert response.status_code == 200
    assert [d.identifier for d in response.context["cl"].result_list] == ["arrests", "health-draft", "vaccinations"]
    assert "police-draft" not in response.content.decode()


def test_a_clerk_sees_only_their_departments_records(health_clerk: Any, vaccinations: Dataset,
                                                     arrests: Dataset) -> None:
    response = as_user(health_clerk).get(admin_url("catalog.record", "changelist"))
    assert {r.dataset_id for r in response.context["cl"].result_list} == {vaccinations.pk}


def test_a_clerk_reads_but_cannot_change_another_departments_published_dataset(health_clerk: Any,
                                                                                arrests: Dataset) -> None:
    http = as_user(health_clerk)
    response = http.get(admin_url("catalog.dataset", "change", arrests.pk))
    assert response.status_code == 200 and not response.context["has_change_permission"]
    assert "Load records" not in response.content.decode()
    response = http.post(admin_url("catalog.dataset", "change", arrests.pk), {"title": "Mine now"})
    assert response.status_code == 403
    assert Dataset.objects.get(pk=arrests.pk).title == "Vaccinations"


def test_a_clerk_cannot_open_another_departments_draft(health_clerk: Any, police: Department) -> None:
    draft = build_dataset(police, identifier="police-draft", status=DatasetStatus.DRAFT)
    response = as_user(health_clerk).get(admin_url("catalog.dataset", "change", draft.pk))
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")


@pytest.mark.parametrize("label", ["audit.auditevent", "audit.checkpoint"])
def test_a_clerk_cannot_see_the_audit_log(label: str, health_clerk: Any, world: dict[str, Model]) -> None:
    http = as_user(health_clerk)
    assert http.get(admin_url(label, "changelist")).status_code == 403
    assert http.get(admin_url(label, "change", world[label].pk)).status_code == 403


# --- Filing an access request through the admin ---

def request_form(consumer: System, dataset: Dataset, fields: list[Field], **overrides: Any) -> dict[str, Any]:
    return {"consumer": consumer.pk, "dataset": dataset.pk, "requested_fields": [f.pk for f in fields],
            "purpose_code": "law-enforcement.investigation", "purpose": "Checking an alibi",
            "legal_basis": "Criminal Procedure Law art. 54", "case_reference": "2026-17", "duration_days": 90,
            "expected_daily_volume": 100, **overrides}


def test_a_clerk_files_an_access_request_through_the_admin(police_clerk: Any, police_system: System,
                                                           vaccinations: Dataset) -> None:
    fields = list(vaccinations.fields.filter(name__in=["vaccine", "dose_date"]))
    response = as_user(police_clerk).post(admin_url("exchange.accessrequest", "add"),
                                          request_form(police_system, vaccinations, fields))
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    request = AccessRequest.objects.get()
    assert (request.consumer, request.dataset, request.filed_by) == (police_system, vaccinations, police_clerk)
    assert (request.state, request.fields, request.duration_days) == (RequestState.SUBMITTED,
                                                                      ["vaccine", "dose_date"], 90)
    filed, submitted = events_but_sign_ins().order_by("pk")  # it went through access_request_file
    assert (filed.action, filed.object_id, filed.actor_id) == ("access_request.filed", str(request.pk),
                                                               "police-clerk")
    assert (submitted.action, submitted.object_id) == ("access_request.submitted", str(request.pk))


def test_the_add_form_offers_only_own_systems_and_requestable_datasets(police_clerk: Any, police_system: System,
                                                                       health: Department, vaccinations: Dataset,
                                                                       arrests: Dataset) -> None:
    System.objects.create(department=health, code="his", name="Hospital information system")
    build_dataset(health, identifier="draft-set", status=DatasetStatus.DRAFT)
    response = as_user(police_clerk).get(admin_url("exchange.accessrequest", "add"))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert list(form.fields["consumer"].queryset) == [police_system]
    assert {d.identifier for d in form.fields["dataset"].queryset} == {"vaccinations", "arrests"}


def test_the_add_form_refuses_a_field_of_another_dataset(police_clerk: Any, police_system: System,
                                                         vaccinations: Dataset, health: Department) -> None:
    births = build_dataset(health, identifier="births")
    stray = births.fields.get(name="full_name")
    response = as_user(police_clerk).post(admin_url("exchange.accessrequest", "add"), request_form(
        police_system, vaccinations, [vaccinations.fields.get(name="vaccine"), stray]))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["requested_fields"] == [
        f"Select a valid choice. {stray.pk} is not one of the available choices."]
    assert not AccessRequest.objects.exists() and not events_but_sign_ins().exists()


def test_the_add_form_refuses_another_departments_system(police_clerk: Any, health: Department,
                                                         vaccinations: Dataset) -> None:
    his = System.objects.create(department=health, code="his", name="Hospital information system")
    response = as_user(police_clerk).post(admin_url("exchange.accessrequest", "add"), request_form(
        his, vaccinations, [vaccinations.fields.get(name="vaccine")]))
    assert response.status_code == 200
    assert "consumer" in response.context["adminform"].form.errors
    assert not AccessRequest.objects.exists() and not events_but_sign_ins().exists()


@pytest.mark.parametrize("actor", ["health_approver", "auditor"])
def test_only_a_clerk_may_open_the_add_form(actor: str, vaccinations: Dataset,
                                            request: pytest.FixtureRequest) -> None:
    assert as_user(request.getfixturevalue(actor)).get(admin_url("exchange.accessrequest", "add")).status_code == 403


# --- Deciding through the admin ---

def decide_url(access_request: AccessRequest) -> str:
    return reverse("admin:exchange_accessrequest_decide", args=[access_request.pk])


def test_an_approver_approves_through_the_decide_page(health_approver: Any, submitted: AccessRequest) -> None:
    http = as_user(health_approver)
    assert http.get(decide_url(submitted)).status_code == 200
    response = http.post(decide_url(submitted), {"decision": "approve", "reason": ""})
    assert response.status_code == 302
    assert response["Location"] == admin_url("exchange.accessrequest", "change", submitted.pk)
    grant = Grant.objects.get()
    assert (grant.access_request_id, grant.allowed_fields) == (submitted.pk, ["vaccine"])
    assert AccessRequest.objects.get(pk=submitted.pk).state == RequestState.APPROVED
    assert AuditEvent.objects.get(action="access_request.approved").grant_id == grant.pk


def test_the_decide_page_shows_a_missing_reason_with_400(health_approver: Any, submitted: AccessRequest) -> None:
    response = as_user(health_approver).post(decide_url(submitted), {
        "decision": "reject", "rejection_reason": "no_legal_basis", "legal_basis": "Data Security Law art. 38",
        "explanation": " "})
    assert response.status_code == 400
    assert "Explain the rejection to the requester." in response.content.decode()
    assert AccessRequest.objects.get(pk=submitted.pk).state == RequestState.SUBMITTED
    assert not Grant.objects.exists()


def test_the_decide_page_refuses_a_second_decision_with_409(health_approver: Any,
                                                            submitted: AccessRequest) -> None:
    http = as_user(health_approver)
    http.post(decide_url(submitted), {"decision": "reject", "rejection_reason": "no_legal_basis",
                                      "legal_basis": "Data Security Law art. 38", "explanation": "No case number."})
    response = http.post(decide_url(submitted), {"decision": "approve"})
    assert response.status_code == 409
    assert f"Request #{submitted.pk} is Rejected; it is not waiting for a decision." in response.content.decode()
    assert not Grant.objects.exists()


def test_the_decide_page_refuses_an_invalid_form_with_400(health_approver: Any, submitted: AccessRequest) -> None:
    response = as_user(health_approver).post(decide_url(submitted), {"decision": "maybe"})
    assert response.status_code == 400
    assert AccessRequest.objects.get(pk=submitted.pk).state == RequestState.SUBMITTED


@pytest.mark.parametrize("actor", ["police_clerk", "health_clerk", "auditor"])
def test_a_decision_posted_by_a_non_approver_is_refused_with_403(actor: str, submitted: AccessRequest,
                                                                 request: pytest.FixtureRequest) -> None:
    response = as_user(request.getfixturevalue(actor)).post(decide_url(submitted), {"decision": "approve"})
    assert response.status_code == 403
    assert "Only approvers of Health Commission may decide this request." in response.content.decode()
    assert AccessRequest.objects.get(pk=submitted.pk).state == RequestState.SUBMITTED
    assert not Grant.objects.exists() and not events_but_sign_ins().exclude(
        action__in=["access_request.filed", "access_request.submitted"]).exists()


@pytest.mark.parametrize("actor", ["police_clerk", "health_clerk", "auditor"])
def test_the_decide_page_opened_by_a_non_approver_is_403(actor: str, submitted: AccessRequest,
                                                         request: pytest.FixtureRequest) -> None:
    response = as_user(request.getfixturevalue(actor)).get(decide_url(submitted))
    assert response.status_code == 403
    assert "Only approvers of Health Commission may decide this request." in response.content.decode()


@pytest.mark.parametrize("actor", ["police_clerk", "health_approver", "auditor"])
def test_the_request_page_opens_for_those_involved(actor: str, submitted: AccessRequest,
                                                   request: pytest.FixtureRequest) -> None:
    """The filer checks on it, the approver lands on it after deciding, the auditor reads it."""
    response = as_user(request.getfixturevalue(actor)).get(admin_url("exchange.accessrequest", "change",
                                                                     submitted.pk))
    assert response.status_code == 200
    assert "Checking an alibi" in response.content.decode()


@pytest.mark.parametrize("actor", ["police_clerk", "health_approver", "auditor"])
def test_the_request_list_shows_the_request_to_those_involved(actor: str, submitted: AccessRequest,
                                                              request: pytest.FixtureRequest) -> None:
    response = as_user(request.getfixturevalue(actor)).get(admin_url("exchange.accessrequest", "changelist"))
    assert [r.pk for r in response.context["cl"].result_list] == [submitted.pk]


def test_the_request_list_hides_the_request_from_an_uninvolved_department(submitted: AccessRequest) -> None:
    education = Department.objects.create(code="education", name="Education Bureau")
    clerk = make_user("education-clerk", education, Role.CLERK)
    response = as_user(clerk).get(admin_url("exchange.accessrequest", "changelist"))
    assert list(response.context["cl"].result_list) == []


def test_the_decide_page_refuses_the_filer_with_403(police: Department, health: Department,
                                                    police_system: System, vaccinations: Dataset) -> None:
    both = make_user("two-hats", police, Role.CLERK)
    Membership.objects.create(user=both, department=health, role=Role.APPROVER)
    own = file_request(both, police_system, vaccinations)
    response = as_user(both).post(decide_url(own), {"decision": "approve"})
    assert response.status_code == 403
    assert "Separation of duties" in response.content.decode()
    assert not Grant.objects.exists()


def test_the_decide_page_is_404_for_an_uninvolved_department(submitted: AccessRequest) -> None:
    education = Department.objects.create(code="education", name="Education Bureau")
    approver = make_user("education-approver", education, Role.APPROVER)
    assert as_user(approver).get(decide_url(submitted)).status_code == 404


# --- Admin actions ---

def run_action(http: Client, label: str, action: str, *objects: Model) -> Any:
    return http.post(admin_url(label, "changelist"),
                     {"action": action, "_selected_action": [o.pk for o in objects]}, follow=True)


def test_a_clerk_publishes_a_draft_with_the_admin_action(health_clerk: Any, health: Department) -> None:
    draft = build_dataset(health, status=DatasetStatus.DRAFT)
    response = run_action(as_user(health_clerk), "catalog.dataset", "publish", draft)
    assert response.status_code == 200
    assert messages_of(response) == ["vaccinations is published as Conditional sharing (有条件共享)."]
    draft.refresh_from_db()
    assert draft.status == DatasetStatus.PUBLISHED
    assert events_but_sign_ins().get().action == "dataset.published"


def test_the_publish_action_reports_what_stops_a_draft(health_clerk: Any, health: Department) -> None:
    empty = Dataset.objects.create(owner=health, identifier="empty", title="Empty", status=DatasetStatus.DRAFT)
    response = run_action(as_user(health_clerk), "catalog.dataset", "publish", empty)
    assert messages_of(response) == ["empty cannot be published yet: add at least one field; mark exactly one "
                                     "field as the lookup key; write a description (摘要): both catalogue "
                                     "standards require one; Conditional sharing must cite its legal basis."]
    assert Dataset.objects.get(pk=empty.pk).status == DatasetStatus.DRAFT
    assert not events_but_sign_ins().exists()


def test_an_approver_is_not_offered_the_publish_action(health_approver: Any, health: Department) -> None:
    draft = build_dataset(health, status=DatasetStatus.DRAFT)
    run_action(as_user(health_approver), "catalog.dataset", "publish", draft)
    assert Dataset.objects.get(pk=draft.pk).status == DatasetStatus.DRAFT
    assert not events_but_sign_ins().exists()


def test_a_clerk_cannot_publish_another_departments_draft(health_clerk: Any, police: Department) -> None:
    draft = build_dataset(police, identifier="arrests", status=DatasetStatus.DRAFT)
    run_action(as_user(health_clerk), "catalog.dataset", "publish", draft)
    assert Dataset.objects.get(pk=draft.pk).status == DatasetStatus.DRAFT
    assert not events_but_sign_ins().exists()


def test_a_clerk_revokes_a_key_with_the_admin_action(police_clerk: Any, police_key: SystemKey) -> None:
    response = run_action(as_user(police_clerk), "registry.systemkey", "revoke", police_key)
    assert messages_of(response) == ["police-rms-1 is revoked."]
    police_key.refresh_from_db()
    assert police_key.revoked_at is not None
    assert (police_key.revoked_by, police_key.revocation_reason) == (police_clerk, "revoked in the admin")


def test_a_clerk_cannot_revoke_another_departments_key(health_clerk: Any, police_key: SystemKey) -> None:
    run_action(as_user(health_clerk), "registry.systemkey", "revoke", police_key)
    police_key.refresh_from_db()
    assert police_key.revoked_at is None


def test_the_auditor_cannot_revoke_a_key(auditor: Any, police_key: SystemKey) -> None:
    run_action(as_user(auditor), "registry.systemkey", "revoke", police_key)
    police_key.refresh_from_db()
    assert police_key.revoked_at is None


@pytest.mark.parametrize("actor", ["police_clerk", "auditor"])
def test_the_system_page_lists_its_keys(actor: str, police_key: SystemKey, request: pytest.FixtureRequest) -> None:
    response = as_user(request.getfixturevalue(actor)).get(admin_url("registry.system", "change",
                                                                     police_key.system_id))
    assert response.status_code == 200
    assert "police-rms-1" in response.content.decode()


# --- The schema is fixed once published ---

def dataset_form(dataset: Dataset, *, rename: tuple[str, str], add: str) -> dict[str, Any]:
    """The dataset's change form as the browser posts it: a new title, one field renamed, one added."""
    rows: list[tuple[int | None, str, str, str, bool]] = [
        (f.pk, rename[1] if f.name == rename[0] else f.name, f.type, f.sensitivity, f.is_lookup_key)
        for f in dataset.fields.all()]
    data: dict[str, Any] = {
        **DATASET_FORM_DEFAULTS, "identifier": dataset.identifier, "owner": dataset.owner_id, "tier": dataset.tier,
        "title": "Vaccinations (2026)", "description": dataset.description, "legal_basis": dataset.legal_basis,
        "fields-TOTAL_FORMS": len(rows) + 1, "fields-INITIAL_FORMS": len(rows),
        "fields-MIN_NUM_FORMS": 0, "fields-MAX_NUM_FORMS": 1000,
    }
    for i, (pk, name, type_, sensitivity, is_key) in enumerate([*rows, (None, add, "string", "internal", False)]):
        data |= {f"fields-{i}-name": name, f"fields-{i}-type": type_, f"fields-{i}-sensitivity": sensitivity,
                 f"fields-{i}-position": i, f"fields-{i}-description": ""}
        if pk is not None:
            data |= {f"fields-{i}-id": pk, f"fields-{i}-dataset": dataset.pk}
        if is_key:
            data[f"fields-{i}-is_lookup_key"] = "on"
    return data


def test_a_clerk_edits_a_draft_schema_in_the_admin(health_clerk: Any, health: Department) -> None:
    draft = build_dataset(health, status=DatasetStatus.DRAFT)
    response = as_user(health_clerk).post(admin_url("catalog.dataset", "change", draft.pk),
                                          dataset_form(draft, rename=("full_name", "name"), add="blood_type"))
    assert response.status_code == 302, response.context["errors"] if response.context else ""
    assert [f.name for f in draft.fields.all()] == ["citizen_id", "name", "vaccine", "dose_date", "blood_type"]


def test_the_schema_of_a_published_dataset_cannot_be_changed_in_the_admin(health_clerk: Any,
                                                                          vaccinations: Dataset) -> None:
    response = as_user(health_clerk).post(admin_url("catalog.dataset", "change", vaccinations.pk),
                                          dataset_form(vaccinations, rename=("full_name", "name"),
                                                       add="blood_type"))
    assert response.status_code == 302, response.context["errors"] if response.context else ""
    vaccinations.refresh_from_db()
    assert vaccinations.title == "Vaccinations (2026)"  # the description fields may change
    assert [f.name for f in vaccinations.fields.all()] == ["citizen_id", "full_name", "vaccine", "dose_date"]


# --- Review findings: filters, fixed identities, one lookup key ---

def test_list_filters_offer_only_what_the_user_may_see(world: dict[str, Model], health_clerk: Any) -> None:
    """The police dataset's identifier must not appear in the Health clerk's record filter."""
    page = as_user(health_clerk).get(admin_url("catalog.record", "changelist"))
    assert page.status_code == 200
    assert b"arrests" not in page.content


def test_a_systems_code_and_department_are_fixed_once_registered(police_clerk: Any, police_system: System,
                                                                 health: Department) -> None:
    response = as_user(police_clerk).post(admin_url("registry.system", "change", police_system.pk), {
        "code": "renamed", "department": health.pk, "name": "Renamed", "active": "on",
        "keys-TOTAL_FORMS": 0, "keys-INITIAL_FORMS": 0, "keys-MIN_NUM_FORMS": 0, "keys-MAX_NUM_FORMS": 0})
    assert response.status_code == 302
    police_system.refresh_from_db()
    assert (police_system.code, police_system.department.code, police_system.name) == (
        "police-rms", "police", "Renamed")


def test_two_lookup_keys_in_one_submission_are_a_form_error(health_clerk: Any, health: Department) -> None:
    form = {**DATASET_FORM_DEFAULTS, "owner": health.pk, "identifier": "two-keys", "title": "T", "description": "",
            "tier": "conditional",
            "legal_basis": "", "fields-TOTAL_FORMS": 2, "fields-INITIAL_FORMS": 0, "fields-MIN_NUM_FORMS": 0,
            "fields-MAX_NUM_FORMS": 1000}
    for i, name in enumerate(["a", "b"]):
        form |= {f"fields-{i}-position": i, f"fields-{i}-name": name, f"fields-{i}-type": "string",
                 f"fields-{i}-sensitivity": "internal", f"fields-{i}-is_lookup_key": "on",
                 f"fields-{i}-description": ""}
    response = as_user(health_clerk).post(admin_url("catalog.dataset", "add"), form)
    assert response.status_code == 200
    assert "Mark only one field as the lookup key, not a, b." in response.content.decode()
    assert not Dataset.objects.filter(identifier="two-keys").exists()
