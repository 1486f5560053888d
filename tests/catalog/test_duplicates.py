"""Duplicate collection: a draft whose fields closely match another department's published dataset is named."""

from typing import Any

import pytest
from django.test import Client

from catalog.models import Dataset, DatasetStatus, FieldType, Sensitivity, Tier
from catalog.selectors import datasets_similar
from catalog.services import FieldSpec, dataset_register
from registry.models import Department
from tests.conftest import DATASET_FORM_DEFAULTS, build_dataset, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def district(db: None) -> Department:
    return Department.objects.create(code="district-health", name="District Health Bureau")


def draft(clerk: Any, owner: Department, names: list[tuple[str, str]]) -> Dataset:
    fields = [FieldSpec(name, FieldType.STRING, Sensitivity.PERSONAL, i == 0, i == 0, description)
              for i, (name, description) in enumerate(names)]
    return dataset_register(actor=clerk, owner=owner, identifier="district-vaccinations", title="辖区接种登记",
                            tier=Tier.CONDITIONAL, legal_basis="（演示）", personal_data=True, fields=fields)


def test_a_draft_matching_most_fields_of_another_departments_dataset_is_named(vaccinations: Dataset,
                                                                              district: Department) -> None:
    clerk = make_user("district-clerk", district, "clerk")
    mine = draft(clerk, district, [("id_number", "公民身份号码"), ("full_name", ""), ("vaccine", "疫苗名称"),
                                   ("dose_date", "")])
    [similar] = datasets_similar(dataset=mine)
    assert similar.dataset == vaccinations
    assert similar.fields == [("full_name", "full_name"), ("vaccine", "vaccine"), ("dose_date", "dose_date")]
    assert similar.share == 0.75


def test_a_description_match_counts_as_the_same_field(vaccinations: Dataset, district: Department) -> None:
    vaccinations.fields.filter(name="citizen_id").update(description="公民身份号码")
    clerk = make_user("district-clerk", district, "clerk")
    mine = draft(clerk, district, [("sfzh", "公民身份号码"), ("xm", "姓名"), ("vaccine", "")])
    assert datasets_similar(dataset=mine)[0].fields[0] == ("sfzh", "citizen_id")


def test_unrelated_datasets_and_the_own_departments_are_not_named(vaccinations: Dataset, health: Department,
                                                                  district: Department,
                                                                  health_clerk: Any) -> None:
    clerk = make_user("district-clerk", district, "clerk")
    assert datasets_similar(dataset=draft(clerk, district, [("plate", ""), ("owner", ""), ("vaccine", "")])) == []
    own = build_dataset(health, identifier="vaccinations-2026", status=DatasetStatus.DRAFT)
    assert datasets_similar(dataset=own) == []  # the same department's own dataset is not a duplicate


def test_the_publish_page_and_the_save_warn_before_publishing(vaccinations: Dataset, district: Department) -> None:
    clerk = make_user("district-clerk", district, "clerk")
    http = Client()
    http.force_login(clerk)
    fields = ["citizen_id", "full_name", "vaccine"]
    form = {**DATASET_FORM_DEFAULTS, "owner": district.pk, "identifier": "district-vaccinations",
            "title": "辖区接种登记", "description": "辖区接种单位的登记。", "tier": "conditional",
            "legal_basis": "（演示）",
            "fields-TOTAL_FORMS": len(fields), "fields-INITIAL_FORMS": 0, "fields-MIN_NUM_FORMS": 0,
            "fields-MAX_NUM_FORMS": 1000}
    for i, name in enumerate(fields):
        form |= {f"fields-{i}-position": i, f"fields-{i}-name": name, f"fields-{i}-type": "string",
                 f"fields-{i}-sensitivity": "personal", f"fields-{i}-description": ""}
    form["fields-0-is_lookup_key"] = "on"
    saved = http.post("/admin/catalog/dataset/add/", form, follow=True)
    assert "Before publishing, look at what other departments already publish" in saved.content.decode()
    mine = Dataset.objects.get(identifier="district-vaccinations")
    page = http.get(f"/admin/catalog/dataset/{mine.pk}/publish/").content.decode()
    assert 'id="similar-datasets"' in page and "Vaccinations" in page and "full_name" in page
    assert http.post(f"/admin/catalog/dataset/{mine.pk}/publish/").status_code == 302
    assert Dataset.objects.get(pk=mine.pk).status == DatasetStatus.PUBLISHED  # a warning, not a refusal
