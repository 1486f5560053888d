"""The catalogue's metadata rules: each refusal says why, and nothing is saved."""

from typing import Any

import pytest

from catalog.models import Dataset, FieldType, Grade, Licence, Sensitivity, Tier
from catalog.services import FieldSpec, dataset_publish, dataset_register, dataset_update
from core.errors import PlatformError
from registry.models import Department
from tests.conftest import events_but_sign_ins

pytestmark = pytest.mark.django_db

KEY = FieldSpec("code", FieldType.STRING, Sensitivity.PUBLIC, is_lookup_key=True, description="编码")


def register(actor: Any, owner: Department, **overrides: Any) -> Dataset:
    values: dict[str, Any] = {"identifier": "stations", "title": "公交站点", "description": "全市公交站点。",
                              "tier": Tier.OPEN,
                              "licence": Licence.CC_BY_4, "fields": [KEY]}
    return dataset_register(actor=actor, owner=owner, **(values | overrides))


def refusal(actor: Any, owner: Department, **overrides: Any) -> PlatformError:
    with pytest.raises(PlatformError) as caught:
        register(actor, owner, **overrides)
    assert caught.value.status == 400
    assert not Dataset.objects.exists() and not events_but_sign_ins().exists()
    return caught.value


def test_core_data_cannot_be_open(health_clerk: Any, health: Department) -> None:
    error = refusal(health_clerk, health, grade=Grade.CORE)
    assert error.detail == {"tier": ["Core data (核心数据) can never be open: choose a sharing tier."]}


def test_personal_data_cannot_be_open(health_clerk: Any, health: Department) -> None:
    error = refusal(health_clerk, health, personal_data=True)
    assert "personal information can never be open" in error.detail["tier"][0]


@pytest.mark.parametrize("tier", [Tier.CONDITIONAL, Tier.NOT_SHARED])
def test_conditional_and_not_shared_need_a_legal_basis(tier: str, health_clerk: Any, health: Department) -> None:
    error = refusal(health_clerk, health, tier=tier, legal_basis="  ")
    assert "legal basis" in error.detail["legal_basis"][0]


def test_open_data_needs_a_licence(health_clerk: Any, health: Department) -> None:
    error = refusal(health_clerk, health, licence="")
    assert error.detail == {"licence": ["Open data needs a licence."]}


def test_unknown_themes_and_bad_resource_codes_are_refused(health_clerk: Any, health: Department) -> None:
    assert "Unknown theme(s): SPACE" in str(refusal(health_clerk, health, themes=["SPACE"]).detail)
    assert "resource_code" in refusal(health_clerk, health, resource_code="空 格").detail


def test_the_coverage_cannot_end_before_it_starts(health_clerk: Any, health: Department) -> None:
    import datetime as dt

    error = refusal(health_clerk, health, temporal_start=dt.date(2026, 1, 1), temporal_end=dt.date(2025, 1, 1))
    assert error.detail == {"temporal_end": ["The coverage cannot end before it starts."]}


def test_an_unknown_property_is_refused(health_clerk: Any, health: Department) -> None:
    assert "Unknown dataset properties: colour" in refusal(health_clerk, health, colour="red").message


def test_a_dataset_with_personal_fields_must_say_so_before_publishing(health_clerk: Any, health: Department) -> None:
    dataset = register(health_clerk, health, tier=Tier.CONDITIONAL, legal_basis="《数据安全法》（演示）",
                       fields=[KEY, FieldSpec("holder", FieldType.STRING, Sensitivity.PERSONAL)])
    with pytest.raises(PlatformError) as caught:
        dataset_publish(dataset=dataset, actor=health_clerk)
    assert "tick 'holds personal information': holder are personal" in caught.value.message
    dataset_update(actor=health_clerk, dataset=dataset, personal_data=True)
    assert dataset_publish(dataset=dataset, actor=health_clerk).status == "published"


def test_the_whole_registration_is_in_its_event(health_clerk: Any, health: Department) -> None:
    register(health_clerk, health, keywords=["公交", "站点"], themes=["TRAN"], resource_code="330100-TRAN-0001/001")
    new = events_but_sign_ins().get(action="dataset.registered").detail["new"]
    assert (new["keywords"], new["themes"], new["resource_code"], new["licence"]) == (
        ["公交", "站点"], ["TRAN"], "330100-TRAN-0001/001", Licence.CC_BY_4)


def test_resource_codes_are_unique_when_given(health_clerk: Any, health: Department) -> None:
    register(health_clerk, health, resource_code="330100-TRAN-0001/001")
    register(health_clerk, health, identifier="lines")  # no code: many may have none
    with pytest.raises(PlatformError) as caught:
        register(health_clerk, health, identifier="routes", resource_code="330100-TRAN-0001/001")
    assert caught.value.status in (400, 409)


def test_a_metadata_edit_of_a_published_dataset_is_no_new_version(health_clerk: Any, health: Department) -> None:
    dataset = dataset_publish(dataset=register(health_clerk, health), actor=health_clerk)
    dataset = dataset_update(actor=health_clerk, dataset=dataset, description="每日更新", keywords=["公交"])
    assert (dataset.version, dataset.versions.count()) == (1, 1)
    event = events_but_sign_ins().get(action="dataset.updated")
    assert event.detail["changed"] == ["description", "keywords"]


def test_a_dataset_needs_a_description_to_be_published_and_keeps_it(health_clerk: Any, health: Department) -> None:
    dataset = register(health_clerk, health, description="")
    with pytest.raises(PlatformError) as caught:
        dataset_publish(dataset=dataset, actor=health_clerk)
    assert "write a description (摘要)" in caught.value.message
    dataset = dataset_update(actor=health_clerk, dataset=dataset, description="全市公交站点。")
    dataset = dataset_publish(dataset=dataset, actor=health_clerk)
    with pytest.raises(PlatformError) as caught:
        dataset_update(actor=health_clerk, dataset=dataset, description=" ")
    assert "needs a description" in caught.value.detail["description"][0]
