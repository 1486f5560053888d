"""catalog.services.dataset_publish: a clerk of the owner publishes a complete draft, audited in the same
transaction; every refusal writes no event and leaves the dataset as it was."""

from typing import Any

import pytest
from django.db import DatabaseError
from django.utils import timezone

from catalog.models import Dataset, DatasetStatus, Field, Tier
from catalog.services import dataset_publish
from core.errors import PlatformError
from registry.models import Department, Role
from tests.conftest import (
    DATASET_FORM_DEFAULTS,
    audit_inserts_refused,
    build_dataset,
    events_but_sign_ins,
    make_user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(health: Department) -> Dataset:
    return build_dataset(health, status=DatasetStatus.DRAFT)


def snapshot(dataset: Dataset) -> tuple[Any, ...]:
    dataset.refresh_from_db()
    return (dataset.status, dataset.published_at, dataset.version, dataset.updated_at, dataset.tier)


def assert_refused(dataset: Dataset, actor: Any, status: int, code: str) -> PlatformError:
    """The refusal is a PlatformError with a clear message; the dataset is unchanged and nothing is audited."""
    before = snapshot(dataset)
    with pytest.raises(PlatformError) as caught:
        dataset_publish(dataset=dataset, actor=actor)
    assert (caught.value.status, caught.value.code) == (status, code)
    assert caught.value.message
    assert snapshot(dataset) == before
    assert not events_but_sign_ins().exists()
    return caught.value




def test_it_publishes_a_draft(draft: Dataset, health_clerk: Any) -> None:
    before = timezone.now()
    published = dataset_publish(dataset=draft, actor=health_clerk)
    assert published.status == DatasetStatus.PUBLISHED
    draft.refresh_from_db()
    assert draft.status == DatasetStatus.PUBLISHED
    assert draft.published_at is not None and before <= draft.published_at <= timezone.now()
    assert draft.version == 1


def test_it_records_a_dataset_published_event(draft: Dataset, health_clerk: Any) -> None:
    dataset_publish(dataset=draft, actor=health_clerk)
    event = events_but_sign_ins().get()
    assert (event.action, event.outcome) == ("dataset.published", "ok")
    assert (event.actor_type, event.actor_id) == ("user", "health-clerk")
    assert (event.object_type, event.object_id) == ("dataset", "vaccinations")
    assert event.detail == {"tier": "conditional", "version": 1,
                            "fields": ["citizen_id", "full_name", "vaccine", "dose_date"]}


def test_the_publication_and_its_event_commit_together(draft: Dataset, health_clerk: Any) -> None:
    """If the audit event cannot be written, the dataset is not published either: one transaction."""
    with audit_inserts_refused(), pytest.raises(DatabaseError):
        dataset_publish(dataset=draft, actor=health_clerk)
    draft.refresh_from_db()
    assert (draft.status, draft.published_at) == (DatasetStatus.DRAFT, None)
    assert not events_but_sign_ins().exists()


def test_a_department_admin_may_publish(draft: Dataset, health: Department) -> None:
    admin = make_user("health-admin", health, Role.ADMIN)
    dataset_publish(dataset=draft, actor=admin)
    draft.refresh_from_db()
    assert draft.status == DatasetStatus.PUBLISHED


def test_it_publishes_a_not_shared_dataset_that_cites_its_legal_basis(health: Department,
                                                                      health_clerk: Any) -> None:
    dataset = build_dataset(health, status=DatasetStatus.DRAFT, tier=Tier.NOT_SHARED)
    dataset_publish(dataset=dataset, actor=health_clerk)
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.PUBLISHED
    assert events_but_sign_ins().get().detail["tier"] == "not_shared"


def test_it_rejects_a_dataset_without_fields(health: Department, health_clerk: Any) -> None:
    empty = Dataset.objects.create(owner=health, identifier="empty", title="Empty", status=DatasetStatus.DRAFT)
    error = assert_refused(empty, health_clerk, 400, "not_publishable")
    assert "empty cannot be published yet" in error.message
    assert "add at least one field" in error.message


def test_it_rejects_a_dataset_without_a_lookup_key(draft: Dataset, health_clerk: Any) -> None:
    Field.objects.filter(dataset=draft).update(is_lookup_key=False)
    error = assert_refused(draft, health_clerk, 400, "not_publishable")
    assert "mark exactly one field as the lookup key" in error.message
    assert "add at least one field" not in error.message


def test_it_rejects_a_not_shared_dataset_without_legal_basis(health: Department, health_clerk: Any) -> None:
    dataset = build_dataset(health, status=DatasetStatus.DRAFT, tier=Tier.NOT_SHARED)
    Dataset.objects.filter(pk=dataset.pk).update(legal_basis="   ")
    error = assert_refused(dataset, health_clerk, 400, "not_publishable")
    assert "A dataset that is not shared must cite its legal basis" in error.message


def test_it_lists_every_problem_at_once(health: Department, health_clerk: Any) -> None:
    dataset = Dataset.objects.create(owner=health, identifier="secret", title="Secret", tier=Tier.NOT_SHARED,
                                     status=DatasetStatus.DRAFT)
    error = assert_refused(dataset, health_clerk, 400, "not_publishable")
    assert error.message == ("secret cannot be published yet: add at least one field; mark exactly one field as "
                             "the lookup key; write a description (摘要): both catalogue standards require one; "
                             "A dataset that is not shared must cite its legal basis.")


def test_it_rejects_an_already_published_dataset_with_409(vaccinations: Dataset, health_clerk: Any) -> None:
    error = assert_refused(vaccinations, health_clerk, 409, "not_draft")
    assert "status is: Published" in error.message


def test_it_rejects_a_retired_dataset_with_409(health: Department, health_clerk: Any) -> None:
    retired = build_dataset(health, status=DatasetStatus.RETIRED)
    assert_refused(retired, health_clerk, 409, "not_draft")


def test_it_rereads_the_dataset_so_a_stale_copy_cannot_publish_twice(draft: Dataset, health_clerk: Any) -> None:
    stale = Dataset.objects.get(pk=draft.pk)
    dataset_publish(dataset=draft, actor=health_clerk)
    with pytest.raises(PlatformError) as caught:
        dataset_publish(dataset=stale, actor=health_clerk)
    assert (caught.value.status, caught.value.code) == (409, "not_draft")
    assert events_but_sign_ins().filter(action="dataset.published").count() == 1


def test_it_rejects_a_clerk_of_another_department(draft: Dataset, police_clerk: Any) -> None:
    error = assert_refused(draft, police_clerk, 403, "forbidden")
    assert "Health Commission" in error.message


def test_it_rejects_an_approver(draft: Dataset, health_approver: Any) -> None:
    assert_refused(draft, health_approver, 403, "forbidden")


def test_it_rejects_an_auditor(draft: Dataset, auditor: Any) -> None:
    assert_refused(draft, auditor, 403, "forbidden")


def test_it_rejects_a_clerk_of_an_inactive_department(draft: Dataset, health: Department,
                                                      health_clerk: Any) -> None:
    Department.objects.filter(pk=health.pk).update(active=False)
    assert_refused(draft, health_clerk, 403, "forbidden")


# --- Registering and editing through the admin is audited, schema included ---

def post_change_form(dataset: Dataset, actor: Any, **changes: str) -> Any:
    """Submit the dataset's admin change form as it stands, with ``changes`` applied."""
    from django.test import Client

    http = Client()
    http.force_login(actor)
    url = f"/admin/catalog/dataset/{dataset.pk}/change/"
    formset = http.get(url).context["inline_admin_formsets"][0].formset
    form = {**DATASET_FORM_DEFAULTS, "title": dataset.title, "description": dataset.description,
            "legal_basis": dataset.legal_basis}
    form |= {f"{formset.prefix}-{key}": value for key, value in formset.management_form.initial.items()}
    form |= {f"{formset.prefix}-{i}-id": field.pk for i, field in enumerate(dataset.fields.all())}
    return http.post(url, form | changes)


def test_editing_a_published_datasets_legal_basis_is_audited(vaccinations: Dataset, health_clerk: Any) -> None:
    response = post_change_form(vaccinations, health_clerk, legal_basis="Amended law, art. 2")
    assert response.status_code == 302, response.content.decode()[:2000]
    event = events_but_sign_ins().get()
    assert (event.action, event.object_id, event.detail["changed"]) == (
        "dataset.updated", "vaccinations", ["legal_basis"])
    assert event.detail["old"] == {"legal_basis": "Vaccine Administration Law"}
    assert event.detail["new"] == {"legal_basis": "Amended law, art. 2"}


def test_saving_a_dataset_unchanged_records_nothing(vaccinations: Dataset, health_clerk: Any) -> None:
    assert post_change_form(vaccinations, health_clerk).status_code == 302
    assert not events_but_sign_ins().exists()
