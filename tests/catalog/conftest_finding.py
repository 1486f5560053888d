"""A small published catalogue for the search, page and API tests (import the fixtures explicitly).

Registered and published through the catalogue's services, so every dataset's search text is built as in
production. Health publishes three datasets (one open, with records) and keeps one draft; Police lists one
it does not share; Commerce shares one in English.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from catalog.models import Dataset, FieldType, Grade, Licence, Record, ResourceFormat, Sensitivity, Tier
from catalog.services import FieldSpec, dataset_publish, dataset_register
from registry.models import Department, Role
from tests.conftest import make_user

CC_BY = Licence.CC_BY_4.value


def publish(actor: Any, owner: Department, identifier: str, title: str, tier: str, fields: list[FieldSpec],
            **metadata: Any) -> Dataset:
    metadata.setdefault("description", f"{title}.")  # publishing needs one (摘要)
    dataset = dataset_register(actor=actor, owner=owner, identifier=identifier, title=title, tier=tier,
                               fields=fields, **metadata)
    return dataset_publish(dataset=dataset, actor=actor)


@dataclass
class Catalogue:
    vaccinations: Dataset  # 儿童疫苗接种记录: conditional, 疫苗 in its title and keywords
    clinics: Dataset  # 门诊量统计: open with records, 疫苗 only in a field's description
    vehicles: Dataset  # 机动车登记信息: Police, not shared
    licences: Dataset  # Business licences: Commerce, unconditional, English
    draft: Dataset  # 疫苗库存: never published


@pytest.fixture
def commerce(db: None) -> Department:
    return Department.objects.create(code="commerce", name="市场监督管理局")


@pytest.fixture
def catalogue(health: Department, police: Department, commerce: Department, health_clerk: Any) -> Catalogue:
    police_clerk = make_user("police-publisher", police, Role.CLERK)
    commerce_clerk = make_user("commerce-clerk", commerce, Role.CLERK)
    vaccinations = publish(
        health_clerk, health, "child-vaccinations", "儿童疫苗接种记录", Tier.CONDITIONAL, [
            FieldSpec("citizen_id", sensitivity=Sensitivity.SENSITIVE, is_lookup_key=True,
                      is_subject_identifier=True, description="儿童公民身份号码"),
            FieldSpec("vaccine", description="疫苗名称"),
            FieldSpec("dose_date", FieldType.DATE, description="接种日期"),
        ],
        description="全市儿童免疫规划疫苗的接种情况。", keywords=["疫苗", "免疫规划"], themes=["HEAL"],
        legal_basis="《中华人民共和国疫苗管理法》第四十七条", personal_data=True,
        sharing_conditions="用于传染病防控，需提供案件编号", update_frequency="DAILY", spatial="杭州市",
        contact_name="市卫健委信息中心", contact_email="data@health.example.cn", contact_phone="0571-0000000",
        resource_code="330100-HEAL-0001", temporal_start=dt.date(2020, 1, 1))
    clinics = publish(
        health_clerk, health, "clinic-visits", "门诊量统计", Tier.OPEN, [
            FieldSpec("hospital", is_lookup_key=True, sensitivity=Sensitivity.PUBLIC, description="医院名称"),
            FieldSpec("visits", FieldType.INTEGER, sensitivity=Sensitivity.PUBLIC,
                      description="Outpatient visits in the month"),
            FieldSpec("clinic_note", sensitivity=Sensitivity.PUBLIC, description="是否设有疫苗门诊"),
        ],
        description="各医院每月门诊人次。", themes=["HEAL", "SOCI"], licence=CC_BY,
        resource_format=ResourceFormat.SPREADSHEET, update_frequency="MONTHLY")
    for i, name in enumerate(["市第一人民医院", "市中医院", "市儿童医院"]):
        Record.objects.create(dataset=clinics, generation=clinics.records_generation, key=name,
                              data={"hospital": name, "visits": 1000 * (i + 1), "clinic_note": "有" if i else None})
    vehicles = publish(
        police_clerk, police, "motor-vehicles", "机动车登记信息", Tier.NOT_SHARED, [
            FieldSpec("plate", is_lookup_key=True, description="号牌号码"),
            FieldSpec("owner_id", sensitivity=Sensitivity.PERSONAL, is_subject_identifier=True,
                      description="所有人身份号码"),
        ],
        description="全市机动车登记档案。", themes=["TRAN"], grade=Grade.IMPORTANT, personal_data=True,
        legal_basis="《中华人民共和国道路交通安全法》及机动车登记规定，涉及个人信息，不予共享")
    licences = publish(
        commerce_clerk, commerce, "business-licences", "Business licences", Tier.UNCONDITIONAL, [
            FieldSpec("credit_code", is_lookup_key=True, description="Unified social credit code"),
            FieldSpec("company_name", description="Registered name of the company"),
        ],
        description="Every company registered in the city, with its licence status.", keywords=["companies"],
        themes=["ECON"], resource_format=ResourceFormat.DATABASE)
    draft = dataset_register(actor=health_clerk, owner=health, identifier="vaccine-stock", title="疫苗库存",
                             tier=Tier.OPEN, fields=[FieldSpec("batch", is_lookup_key=True)], licence=CC_BY,
                             description="疫苗库存草稿")
    return Catalogue(vaccinations, clinics, vehicles, licences, draft)
