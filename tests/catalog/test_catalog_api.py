"""The catalogue API at /api/v1/catalog/: the public metadata as JSON, for anyone; the same search, ranking and
facets as the pages; bad parameters and unknown datasets in the platform's error format."""

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from exchange.models import Grant
from registry.models import System
from tests.catalog import conftest_finding as finding
from tests.catalog.conftest_finding import Catalogue

pytestmark = pytest.mark.django_db
catalogue, commerce = finding.catalogue, finding.commerce  # the shared fixtures

LIST = "/api/v1/catalog/datasets"


def get(path: str, **params: str) -> Any:
    return Client().get(path, params)


def test_anyone_lists_the_published_catalogue(catalogue: Catalogue) -> None:
    response = get(LIST)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    assert body["count"] == 4 and (body["page"], body["pages"]) == (1, 1)
    assert [d["identifier"] for d in body["results"]] == [
        "business-licences", "motor-vehicles", "clinic-visits", "child-vaccinations"]
    assert "vaccine-stock" not in response.content.decode()  # the draft
    assert set(body["facets"]) == {"department", "tier", "theme", "grade", "format"}


def test_a_result_describes_the_dataset(catalogue: Catalogue) -> None:
    result = get(LIST, q="门诊量").json()["results"][0]
    assert result == {
        "identifier": "clinic-visits", "uri": "http://127.0.0.1:8000/catalog/datasets/clinic-visits",
        "title": "门诊量统计", "description": "各医院每月门诊人次。", "keywords": [], "themes": ["HEAL", "SOCI"],
        "department": {"code": "health", "name": "Health Commission"}, "tier": "open", "is_open": True,
        "grade": "general", "personal_data": False, "format": "spreadsheet", "update_frequency": "MONTHLY",
        "version": 1, "published_at": result["published_at"], "updated_at": result["updated_at"]}
    assert dt.datetime.fromisoformat(result["published_at"]) <= timezone.now()


def test_the_search_ranks_and_facets_as_the_pages_do(catalogue: Catalogue) -> None:
    body = get(LIST, q="疫苗").json()
    assert [d["identifier"] for d in body["results"]] == ["child-vaccinations", "clinic-visits"]
    assert body["facets"]["tier"] == [
        {"value": "open", "label": "Open (public)", "count": 1, "selected": False},
        {"value": "conditional", "label": "Conditional sharing (有条件共享)", "count": 1, "selected": False}]
    filtered = get(LIST, q="接种 疫苗", department="health", theme="HEAL", grade="general", format="database",
                   tier="conditional").json()
    assert [d["identifier"] for d in filtered["results"]] == ["child-vaccinations"]
    assert {"value": "health", "label": "Health Commission", "count": 1, "selected": True} in \
        filtered["facets"]["department"]


def test_it_pages(catalogue: Catalogue) -> None:
    body = get(LIST, page="2").json()
    assert (body["count"], body["page"], body["results"]) == (4, 2, [])


@pytest.mark.parametrize(("params", "field"), [
    ({"tier": "public"}, "tier"), ({"page": "x"}, "page"), ({"q": "a" * 201}, "q"),
    ({"department": "nowhere"}, "department"), ({"theme": "HEALTH"}, "theme"),
])
def test_bad_parameters_are_a_400_saying_what_to_fix(catalogue: Catalogue, params: dict[str, str],
                                                     field: str) -> None:
    response = get(LIST, **params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and list(error["detail"]) == [field]
    assert error["message"] == error["detail"][field]


def test_anyone_reads_a_datasets_metadata(catalogue: Catalogue, police_system: System) -> None:
    now = timezone.now()
    Grant.objects.create(consumer=police_system, dataset=catalogue.vaccinations, allowed_fields=["vaccine"],
                         purpose_code="public-health.tracing", purpose="Tracing", valid_from=now,
                         valid_until=now + dt.timedelta(days=1))
    Grant.objects.create(consumer=police_system, dataset=catalogue.vaccinations, allowed_fields=["vaccine"],
                         purpose_code="public-health.tracing", purpose="Expired", valid_from=now,
                         valid_until=now - dt.timedelta(days=1))
    response = get(f"{LIST}/child-vaccinations")
    assert response.status_code == 200
    body = response.json()
    assert body["uri"] == "http://127.0.0.1:8000/catalog/datasets/child-vaccinations"
    assert (body["title"], body["tier"], body["legal_basis"]) == (
        "儿童疫苗接种记录", "conditional", "《中华人民共和国疫苗管理法》第四十七条")
    assert (body["contact_name"], body["spatial"], body["temporal_start"], body["temporal_end"]) == (
        "市卫健委信息中心", "杭州市", "2020-01-01", None)
    assert body["using_departments"] == 1
    assert body["fields"][0] == {"name": "citizen_id", "type": "string", "description": "儿童公民身份号码",
                                 "sensitivity": "sensitive", "is_lookup_key": True}
    assert [f["name"] for f in body["fields"]] == ["citizen_id", "vaccine", "dose_date"]
    assert [(v["number"], v["tier"], v["note"]) for v in body["versions"]] == [(1, "conditional", "")]
    assert body["links"] == {
        "dcat_ttl": "http://127.0.0.1:8000/catalog/datasets/child-vaccinations/dcat.ttl",
        "dcat_jsonld": "http://127.0.0.1:8000/catalog/datasets/child-vaccinations/dcat.jsonld"}
    assert "records" not in body


def test_an_open_datasets_detail_links_its_downloads(catalogue: Catalogue) -> None:
    links = get(f"{LIST}/clinic-visits").json()["links"]
    assert links["csv"] == "http://127.0.0.1:8000/catalog/datasets/clinic-visits/download.csv"
    assert links["json"] == "http://127.0.0.1:8000/catalog/datasets/clinic-visits/download.json"


@pytest.mark.parametrize("identifier", ["no-such-dataset", "vaccine-stock"])
def test_an_unknown_or_draft_dataset_is_a_404(catalogue: Catalogue, identifier: str) -> None:
    response = get(f"{LIST}/{identifier}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "dataset_not_found"


def test_it_answers_in_json_only(catalogue: Catalogue) -> None:
    response = Client().get(LIST, headers={"accept": "text/html"})
    assert response.status_code == 406
    assert response.json()["error"]["code"] == "not_acceptable"


def test_a_signed_in_session_changes_nothing(catalogue: Catalogue, health_clerk: Any) -> None:
    http = Client()
    http.force_login(health_clerk)
    assert http.get(LIST).json() == get(LIST).json()


def test_the_list_costs_a_fixed_number_of_queries(catalogue: Catalogue, django_assert_max_num_queries: Any) -> None:
    # The facet columns of the matches and the ranked page; the department code is checked when filtered by.
    with django_assert_max_num_queries(3):
        assert get(LIST, q="疫苗", department="health").status_code == 200


def test_the_detail_costs_a_fixed_number_of_queries(catalogue: Catalogue,
                                                    django_assert_max_num_queries: Any) -> None:
    # The dataset with its owner and usage count, its fields, its versions.
    with django_assert_max_num_queries(3):
        assert get(f"{LIST}/child-vaccinations").status_code == 200
