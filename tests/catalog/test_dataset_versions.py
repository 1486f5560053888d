"""Versions: a published dataset's schema or tier changes only as a new version, and grants follow."""

from typing import Any

import pytest
from django.test import Client

from catalog.models import Dataset, DatasetVersion, FieldType, Sensitivity, Tier
from catalog.services import FieldSpec, dataset_publish, dataset_update
from core.errors import PlatformError
from exchange.models import Grant
from exchange.services import grant_reapprove
from tests.conftest import DATASET_FORM_DEFAULTS, events_but_sign_ins, record_path

pytestmark = pytest.mark.django_db


def specs(dataset: Dataset) -> list[FieldSpec]:
    return [FieldSpec(f.name, f.type, f.sensitivity, f.is_lookup_key, f.is_subject_identifier, f.description)
            for f in dataset.fields.all()]


@pytest.fixture
def published(vaccinations: Dataset, health_clerk: Any) -> Dataset:
    """Vaccinations as the clerk publishes it: version 1 on record."""
    Dataset.objects.filter(pk=vaccinations.pk).update(status="draft")
    return dataset_publish(dataset=vaccinations, actor=health_clerk)


def test_publishing_records_version_one_with_its_schema(published: Dataset) -> None:
    version = published.versions.get()
    assert (version.number, version.tier) == (1, Tier.CONDITIONAL)
    assert [row[0] for row in version.schema] == ["citizen_id", "full_name", "vaccine", "dose_date"]


def test_adding_a_field_publishes_version_two_and_keeps_grants(published: Dataset, health_clerk: Any,
                                                               police_grant: Grant) -> None:
    dataset = dataset_update(actor=health_clerk, dataset=published, note="批号便于追溯",
                             fields=[*specs(published), FieldSpec("batch", FieldType.STRING)])
    assert dataset.version == 2
    assert list(dataset.versions.values_list("number", "note")) == [(2, "批号便于追溯"), (1, "")]
    event = events_but_sign_ins().get(action="dataset.version_published")
    assert event.detail == {"version": 2, "note": "批号便于追溯", "tier": ["conditional", "conditional"],
                            "added": ["batch"], "removed": [], "retyped": []}
    police_grant.refresh_from_db()
    assert police_grant.suspended_at is None


def test_removing_a_granted_field_suspends_the_grant_and_the_consumer_is_told_why(
        published: Dataset, health_clerk: Any, police_grant: Grant, police_key: Any, signed_get: Any) -> None:
    kept = [s for s in specs(published) if s.name != "dose_date"]
    dataset_update(actor=health_clerk, dataset=published, fields=kept, note="接种日期另行发布")
    police_grant.refresh_from_db()
    assert police_grant.suspended_at is not None
    assert "removed or changed the type of the granted field(s) dose_date" in police_grant.suspension_reason
    suspended = events_but_sign_ins().get(action="grant.suspended")
    assert (suspended.grant_id, suspended.detail["fields"], suspended.detail["version"]) == (
        police_grant.pk, ["dose_date"], 2)
    response = signed_get(record_path())
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "grant_suspended"
    assert "dose_date" in error["message"] and "approves it again" in error["message"]


def test_retyping_a_granted_field_suspends_the_grant(published: Dataset, health_clerk: Any,
                                                     police_grant: Grant) -> None:
    retyped = [FieldSpec(s.name, FieldType.STRING if s.name == "dose_date" else s.type, s.sensitivity,
                         s.is_lookup_key, s.is_subject_identifier, s.description) for s in specs(published)]
    dataset_update(actor=health_clerk, dataset=published, fields=retyped, note="日期改为文本")
    police_grant.refresh_from_db()
    assert police_grant.suspended_at is not None


def test_a_field_the_grant_does_not_read_leaves_it_in_force(published: Dataset, health_clerk: Any,
                                                            police_grant: Grant) -> None:
    kept = [s for s in specs(published) if s.name != "full_name"]  # the grant reads vaccine, dose_date
    dataset_update(actor=health_clerk, dataset=published, fields=kept, note="不再提供姓名")
    police_grant.refresh_from_db()
    assert police_grant.suspended_at is None and not events_but_sign_ins().filter(action="grant.suspended")


def test_stopping_sharing_suspends_every_grant(published: Dataset, health_clerk: Any, police_grant: Grant) -> None:
    dataset_update(actor=health_clerk, dataset=published, tier=Tier.NOT_SHARED, note="涉密（演示）")
    police_grant.refresh_from_db()
    assert "is no longer shared" in police_grant.suspension_reason


def test_an_approver_approves_a_suspended_grant_again_with_the_fields_that_remain(
        published: Dataset, health_clerk: Any, health_approver: Any, police_grant: Grant, police_key: Any,
        signed_get: Any) -> None:
    Grant.objects.filter(pk=police_grant.pk).update(allowed_fields=["vaccine", "dose_date", "full_name"])
    kept = [s for s in specs(published) if s.name != "dose_date"]
    dataset_update(actor=health_clerk, dataset=published, fields=kept, note="接种日期另行发布")
    grant = grant_reapprove(grant=police_grant, approver=health_approver)
    assert (grant.allowed_fields, grant.dataset_version, grant.suspended_at) == (["vaccine", "full_name"], 2, None)
    assert events_but_sign_ins().get(action="grant.reapproved").detail == {
        "dataset": "vaccinations", "version": 2, "fields": ["vaccine", "full_name"]}
    assert signed_get(record_path()).status_code == 200


def test_only_the_providing_departments_approvers_approve_again(published: Dataset, health_clerk: Any,
                                                                police_clerk: Any, police_grant: Grant) -> None:
    dataset_update(actor=health_clerk, dataset=published, tier=Tier.NOT_SHARED, note="涉密（演示）")
    with pytest.raises(PlatformError) as caught:
        grant_reapprove(grant=police_grant, approver=police_clerk)
    assert caught.value.status == 403


def test_a_grant_in_force_cannot_be_approved_again(police_grant: Grant, health_approver: Any) -> None:
    with pytest.raises(PlatformError) as caught:
        grant_reapprove(grant=police_grant, approver=health_approver)
    assert caught.value.code == "not_suspended"


def test_a_new_version_needs_a_note(published: Dataset, health_clerk: Any) -> None:
    with pytest.raises(PlatformError) as caught:
        dataset_update(actor=health_clerk, dataset=published, tier=Tier.UNCONDITIONAL)
    assert "Say what changed" in caught.value.message
    published.refresh_from_db()
    assert (published.version, published.tier) == (1, Tier.CONDITIONAL)


def test_a_published_dataset_keeps_its_lookup_key(published: Dataset, health_clerk: Any) -> None:
    moved = [FieldSpec(s.name, s.type, s.sensitivity, s.name == "vaccine", s.is_subject_identifier, s.description)
             for s in specs(published)]
    with pytest.raises(PlatformError) as caught:
        dataset_update(actor=health_clerk, dataset=published, fields=moved, note="换主键")
    assert "keeps its lookup key (citizen_id)" in caught.value.message
    assert DatasetVersion.objects.filter(dataset=published).count() == 1


def test_a_failed_new_version_changes_nothing(published: Dataset, health_clerk: Any, police_grant: Grant) -> None:
    """Fields marked personal without the flag: refused, and the grant stays in force."""
    Dataset.objects.filter(pk=published.pk).update(personal_data=False)
    with pytest.raises(PlatformError):
        dataset_update(actor=health_clerk, dataset=Dataset.objects.get(pk=published.pk), note="删日期",
                       fields=[s for s in specs(published) if s.name != "dose_date"])
    police_grant.refresh_from_db()
    assert police_grant.suspended_at is None
    assert [f.name for f in published.fields.all()] == ["citizen_id", "full_name", "vaccine", "dose_date"]


def test_the_grant_names_the_version_it_was_approved_for(published: Dataset, health_clerk: Any,
                                                         health_approver: Any, police_clerk: Any,
                                                         police_system: Any) -> None:
    from exchange.services import access_request_approve, access_request_file

    dataset_update(actor=health_clerk, dataset=published, note="增加批号",
                   fields=[*specs(published), FieldSpec("batch", FieldType.STRING, Sensitivity.INTERNAL)])
    request = access_request_file(consumer=police_system, dataset=Dataset.objects.get(pk=published.pk),
                                  fields=["batch"], purpose_code="public-health.outbreak-tracing", purpose="追溯",
                                  legal_basis="《疫苗管理法》（演示）", actor=police_clerk)
    access_request_approve(access_request=request, approver=health_approver)
    assert Grant.objects.get(access_request=request).dataset_version == 2


def test_the_new_version_page_lists_versions_and_publishes(published: Dataset, health_clerk: Any,
                                                           police_grant: Grant) -> None:
    http = Client()
    http.force_login(health_clerk)
    url = f"/admin/catalog/dataset/{published.pk}/new-version/"
    page = http.get(url)
    assert page.status_code == 200
    assert "<td>vaccine, dose_date</td>" in page.content.decode()  # the grant in force and what it reads
    formset = page.context["formset"]
    form = {"tier": "conditional", "note": "接种日期另行发布"}
    form |= {f"fields-{key}": value for key, value in formset.management_form.initial.items()}
    form["fields-TOTAL_FORMS"] = published.fields.count()  # the empty extra row left out
    for i, field in enumerate(published.fields.all()):
        form |= {f"fields-{i}-id": field.pk, f"fields-{i}-name": field.name, f"fields-{i}-type": field.type,
                 f"fields-{i}-sensitivity": field.sensitivity, f"fields-{i}-position": i,
                 f"fields-{i}-description": field.description}
        if field.is_lookup_key:
            form |= {f"fields-{i}-is_lookup_key": "on", f"fields-{i}-is_subject_identifier": "on"}
        if field.name == "dose_date":
            form[f"fields-{i}-DELETE"] = "on"
    response = http.post(url, form)
    assert response.status_code == 302, (response.context["form"].errors, response.context["formset"].errors,
                                         response.context["formset"].non_form_errors())
    published.refresh_from_db()
    assert published.version == 2
    police_grant.refresh_from_db()
    assert police_grant.suspended_at is not None


def test_another_departments_clerk_cannot_open_the_new_version_page(published: Dataset, police_clerk: Any) -> None:
    http = Client()
    http.force_login(police_clerk)
    assert http.get(f"/admin/catalog/dataset/{published.pk}/new-version/").status_code == 403
    assert http.get(f"/admin/catalog/dataset/{published.pk}/publish/").status_code == 403


def test_the_change_form_posts_metadata_only_for_a_published_dataset(published: Dataset, health_clerk: Any) -> None:
    http = Client()
    http.force_login(health_clerk)
    url = f"/admin/catalog/dataset/{published.pk}/change/"
    formset = http.get(url).context["inline_admin_formsets"][0].formset
    form = {**DATASET_FORM_DEFAULTS, "title": "疫苗接种记录", "legal_basis": published.legal_basis,
            "description": published.description,
            "keywords": "疫苗，接种、预防接种", "themes": ["HEAL"]}
    form |= {f"{formset.prefix}-{key}": value for key, value in formset.management_form.initial.items()}
    assert http.post(url, form).status_code == 302
    published.refresh_from_db()
    assert (published.keywords, published.themes, published.version) == (["疫苗", "接种", "预防接种"], ["HEAL"], 1)


def test_a_grant_is_not_approved_again_while_the_dataset_is_not_shared(published: Dataset, health_clerk: Any,
                                                                       health_approver: Any,
                                                                       police_grant: Grant) -> None:
    dataset_update(actor=health_clerk, dataset=published, tier=Tier.NOT_SHARED, note="涉密（演示）")
    with pytest.raises(PlatformError) as caught:
        grant_reapprove(grant=police_grant, approver=health_approver)
    assert caught.value.code == "no_longer_published"
    police_grant.refresh_from_db()
    assert police_grant.suspended_at is not None


def test_a_grant_whose_fields_are_all_gone_needs_a_new_request(published: Dataset, health_clerk: Any,
                                                               health_approver: Any, police_grant: Grant) -> None:
    kept = [s for s in specs(published) if s.name not in ("vaccine", "dose_date")]
    dataset_update(actor=health_clerk, dataset=published, fields=kept, note="只保留身份信息")
    with pytest.raises(PlatformError) as caught:
        grant_reapprove(grant=police_grant, approver=health_approver)
    assert caught.value.code == "no_fields" and "file a new request" in caught.value.message
    assert not events_but_sign_ins().filter(action="grant.reapproved").exists()
