"""`make demo`'s loader: a catalogue that tells a story on first launch, made through the services, run twice."""

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from catalog.models import Dataset, DatasetStatus, DatasetVersion, Grade, Licence, Record, Tier, resource_code_validator
from exchange.management.commands.demo_setup import DATASET_ID, DEMO_RECORD_KEY
from exchange.models import AccessRequest, RequestState

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings: Any, tmp_path: Path) -> str:
    """A fresh demo in a data folder of its own (the consumer's key file goes there); its printed summary."""
    settings.DATA_DIR = tmp_path
    out = io.StringIO()
    call_command("demo_setup", "--base-url", "http://demo.test", stdout=out)
    return out.getvalue()


def published() -> list[Dataset]:
    return list(Dataset.objects.filter(status=DatasetStatus.PUBLISHED).select_related("owner"))


def test_several_departments_publish_in_every_tier_with_full_metadata(demo: str) -> None:
    datasets = published()
    assert {d.tier for d in datasets} == set(Tier.values)
    assert len({d.owner_id for d in datasets}) >= 5
    for dataset in datasets:
        assert dataset.keywords and dataset.themes and dataset.spatial and dataset.temporal_start, dataset
        assert dataset.contact_name and dataset.contact_email and dataset.contact_phone, dataset
        resource_code_validator(dataset.resource_code)
        assert all(f.description for f in dataset.fields.all()), dataset
        if dataset.tier in (Tier.CONDITIONAL, Tier.NOT_SHARED):
            assert dataset.legal_basis, dataset
    codes = {d.resource_code for d in Dataset.objects.all()}
    related = {code for d in datasets for code in d.related_resources}
    assert related and related <= codes  # related resources name datasets of the catalogue
    assert {d.grade for d in datasets} == set(Grade.values)


def test_open_datasets_are_licensed_general_impersonal_and_have_records(demo: str) -> None:
    open_data = [d for d in published() if d.tier == Tier.OPEN]
    assert len(open_data) >= 3
    for dataset in open_data:
        assert dataset.licence == Licence.CC_BY_4 and dataset.grade == Grade.GENERAL and not dataset.personal_data
        assert Record.objects.filter(dataset=dataset, generation=dataset.records_generation).count() >= 20
    unconditional = next(d for d in published() if d.tier == Tier.UNCONDITIONAL)
    assert Record.objects.filter(dataset=unconditional).exists()


def test_one_dataset_shows_a_published_second_version_with_its_note(demo: str) -> None:
    second = DatasetVersion.objects.select_related("dataset").get(number=2)
    assert second.note and second.dataset.version == 2 and second.dataset.status == DatasetStatus.PUBLISHED
    first = DatasetVersion.objects.get(dataset=second.dataset, number=1)
    added = {f[0] for f in second.schema} - {f[0] for f in first.schema}
    assert added
    # Its records were loaded with the second version's fields.
    record = Record.objects.filter(dataset=second.dataset).first()
    assert record is not None and added <= set(record.data)


def test_another_department_holds_a_near_copy_of_a_published_dataset_as_a_draft(demo: str) -> None:
    draft = Dataset.objects.get(status=DatasetStatus.DRAFT)
    draft_fields = {f.name for f in draft.fields.all()}
    copied = [d for d in published() if d.owner_id != draft.owner_id
              and len(draft_fields & {f.name for f in d.fields.all()}) >= 0.75 * len(draft_fields)]
    assert [d.identifier for d in copied] == [DATASET_ID]


def test_the_walkthrough_data_is_still_there(demo: str) -> None:
    dataset = Dataset.objects.get(identifier=DATASET_ID, status=DatasetStatus.PUBLISHED)
    assert Record.objects.filter(dataset=dataset, key=DEMO_RECORD_KEY).exists()
    assert set(AccessRequest.objects.filter(dataset=dataset).values_list("state", flat=True)) == {
        RequestState.APPROVED, RequestState.SUBMITTED}


def test_the_summary_points_at_the_public_catalogue_and_a_search(demo: str) -> None:
    assert "http://demo.test/catalog/" in demo
    assert "疫苗" in demo
    assert "-m exchange.client get " in demo  # the signed call .ci/demo-smoke runs


def test_a_second_run_adds_no_audit_event_and_the_log_verifies(demo: str) -> None:
    events = AuditEvent.objects.count()
    first = AuditEvent.objects.order_by("id").values_list("action", flat=True).first()
    call_command("demo_setup", stdout=io.StringIO())
    assert AuditEvent.objects.count() == events
    assert first == "department.registered"
    assert Dataset.objects.filter(status=DatasetStatus.PUBLISHED).count() == len(published())
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert "OK" in out.getvalue()
