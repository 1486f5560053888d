"""The public catalogue's pages at /catalog/: search with facets and dataset pages for anyone; records only of
open data (a preview and audited CSV/JSON downloads), never of the other tiers; Chinese by default."""

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from catalog.models import Dataset, Field, Sensitivity, Tier
from exchange.models import Grant
from registry.models import Department, Role, System
from tests.catalog import conftest_finding as finding
from tests.catalog.conftest_finding import Catalogue
from tests.conftest import audit_inserts_refused, make_user

pytestmark = pytest.mark.django_db
catalogue, commerce = finding.catalogue, finding.commerce  # the shared fixtures


def page(path: str, user: Any = None, **params: str) -> tuple[int, str]:
    http = Client()
    if user is not None:
        http.force_login(user)
    response = http.get(path, params)
    return response.status_code, response.content.decode()


def dataset_path(dataset: Dataset) -> str:
    return reverse("catalog:dataset", kwargs={"identifier": dataset.identifier})


def download(dataset: Dataset, fmt: str, user: Any = None) -> Any:
    http = Client()
    if user is not None:
        http.force_login(user)
    return http.get(reverse("catalog:download", kwargs={"identifier": dataset.identifier, "fmt": fmt}))


def downloads() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="dataset.downloaded").order_by("id"))


# --- Language ---

def test_the_pages_speak_chinese_by_default(platform_language: str, catalogue: Catalogue) -> None:
    for path in ["/catalog/", dataset_path(catalogue.vaccinations)]:
        status, html = page(path)
        assert status == 200
        assert '<html lang="zh-hans"' in html
        assert "有条件共享" in html  # the tier, as Chinese government practice names it
        assert '<form id="language-chooser" action="/i18n/setlang/" method="post">' in html
        assert '<button type="submit" name="language" value="en" lang="en">English</button>' in html


def test_the_pages_have_no_inline_scripts_or_styles(catalogue: Catalogue) -> None:
    for path in ["/catalog/", dataset_path(catalogue.clinics), dataset_path(catalogue.vehicles)]:
        html = page(path)[1]
        assert "<script" not in html and "style=" not in html and "<style" not in html
        assert '<link rel="stylesheet" href="/static/catalog/catalogue.css">' in html


def test_the_home_page_links_to_the_catalogue(db: None) -> None:
    assert 'href="/catalog/"' in page("/")[1]


# --- Search ---

def test_anyone_finds_every_departments_published_datasets(catalogue: Catalogue) -> None:
    status, html = page("/catalog/")
    assert status == 200
    assert "4 datasets" in html
    for dataset in (catalogue.vaccinations, catalogue.clinics, catalogue.vehicles, catalogue.licences):
        assert f'href="{dataset_path(dataset)}">{dataset.title}</a>' in html
    assert "疫苗库存" not in html  # a draft


def test_a_chinese_search_lists_the_title_match_first(catalogue: Catalogue) -> None:
    status, html = page("/catalog/", q="疫苗")
    assert status == 200 and "2 datasets" in html
    assert html.index("儿童疫苗接种记录") < html.index("门诊量统计")
    assert 'value="疫苗"' in html  # the search box keeps the words


def test_facet_links_add_and_remove_a_filter(catalogue: Catalogue) -> None:
    html = page("/catalog/", q="疫苗")[1]
    assert 'href="/catalog/?q=%E7%96%AB%E8%8B%97&amp;tier=open">Open (public) <span class="count">1</span>' in html
    status, filtered = page("/catalog/", q="疫苗", tier="open")
    assert status == 200 and "1 dataset" in filtered and "儿童疫苗接种记录" not in filtered
    assert 'href="/catalog/?q=%E7%96%AB%E8%8B%97" aria-current="true"' in filtered  # removes the filter
    assert '<input type="hidden" name="tier" value="open">' in filtered  # a new search keeps it


def test_a_search_without_matches_says_so(catalogue: Catalogue) -> None:
    status, html = page("/catalog/", q="潮汐")
    assert status == 200 and "No published dataset matches." in html


def test_bad_parameters_give_a_400_page_saying_what_to_fix(catalogue: Catalogue) -> None:
    status, html = page("/catalog/", tier="secret")
    assert status == 400
    assert "Unknown tier secret" in html


def test_the_list_page_costs_a_fixed_number_of_queries(catalogue: Catalogue, health: Department,
                                                       health_clerk: Any,
                                                       django_assert_max_num_queries: Any) -> None:
    http = Client()
    http.force_login(health_clerk)
    # Session, user, the facet columns, the ranked page: whatever the number of datasets.
    with django_assert_max_num_queries(6):
        assert http.get("/catalog/", {"q": "疫苗"}).status_code == 200


# --- The dataset page ---

def test_a_dataset_page_shows_its_metadata_fields_and_versions(catalogue: Catalogue, police_system: System) -> None:
    now = timezone.now()
    for consumer, revoked in [(police_system, None), (police_system, None),
                              (System.objects.create(department=Department.objects.get(code="commerce"),
                                                     code="commerce-sys", name="Commerce"), now)]:
        Grant.objects.create(consumer=consumer, dataset=catalogue.vaccinations, allowed_fields=["vaccine"],
                             purpose_code="public-health.tracing", purpose="Tracing", valid_from=now,
                             valid_until=now + dt.timedelta(days=30), revoked_at=revoked)
    status, html = page(dataset_path(catalogue.vaccinations))
    assert status == 200
    for text in ["<h1>儿童疫苗接种记录</h1>", "全市儿童免疫规划疫苗的接种情况。",
                 "《中华人民共和国疫苗管理法》第四十七条", "用于传染病防控，需提供案件编号",
                 "Health Commission", "(health)", "市卫健委信息中心", "data@health.example.cn",
                 "Daily (每日)", "杭州市", "330100-HEAL-0001", "Health", "免疫规划", "Sensitive personal",
                 "儿童公民身份号码", "Date (YYYY-MM-DD)", "Version 1", "Conditional sharing (有条件共享)",
                 "Holds personal information"]:
        assert text in html, text
    assert "<dt>Departments using it</dt><dd>1</dd>" in html  # police twice, commerce's grant revoked
    assert '<link rel="alternate" type="text/turtle" href="/catalog/datasets/child-vaccinations/dcat.ttl">' in html
    assert ('<link rel="alternate" type="application/ld+json" '
            'href="/catalog/datasets/child-vaccinations/dcat.jsonld">') in html
    assert '<link rel="canonical" href="http://127.0.0.1:8000/catalog/datasets/child-vaccinations">' in html


def test_a_not_shared_dataset_is_listed_with_its_legal_basis(catalogue: Catalogue) -> None:
    status, html = page(dataset_path(catalogue.vehicles))
    assert status == 200
    assert "《中华人民共和国道路交通安全法》及机动车登记规定，涉及个人信息，不予共享" in html
    assert "listed for transparency and is not shared" in html
    assert "Request access" not in html


def test_an_open_dataset_shows_a_preview_and_its_downloads(catalogue: Catalogue) -> None:
    status, html = page(dataset_path(catalogue.clinics))
    assert status == 200
    assert "<td>市第一人民医院</td><td>1000</td><td></td>" in html
    assert "<td>市儿童医院</td><td>3000</td><td>有</td>" in html
    assert 'href="/catalog/datasets/clinic-visits/download.csv"' in html
    assert 'href="/catalog/datasets/clinic-visits/download.json"' in html
    assert "CC BY 4.0" in html and 'rel="license"' in html
    assert not downloads()  # showing the page downloads nothing


def test_a_shared_datasets_page_shows_no_records(catalogue: Catalogue, vaccinations: Dataset) -> None:
    """The fixture's vaccinations dataset has a record; no page of the catalogue ever shows it."""
    vaccinations.tier = Tier.UNCONDITIONAL
    vaccinations.save()
    html = page(dataset_path(vaccinations))[1]
    assert "Li Wei" not in html and "110101199003070011" not in html
    assert "download.csv" not in html and "Preview" not in html


@pytest.mark.parametrize("identifier", ["no-such-dataset", "vaccine-stock"])
def test_an_unknown_or_draft_dataset_is_a_clear_404(catalogue: Catalogue, identifier: str) -> None:
    status, html = page(f"/catalog/datasets/{identifier}")
    assert status == 404
    assert "No published dataset has this identifier." in html


# --- Request access and manage: signed-in people only ---

@pytest.mark.parametrize(("name", "label"), [("vaccinations", "Request access"), ("licences", "Subscribe"),
                                              ("clinics", None), ("vehicles", "Register a demand")])
def test_signed_in_people_may_request_shared_data_each_tier_in_its_words(catalogue: Catalogue, police_clerk: Any,
                                                                         name: str, label: str | None) -> None:
    """Conditional sharing is requested, unconditional subscribed to, not-shared data registered as demand;
    open data needs nothing."""
    dataset = getattr(catalogue, name)
    assert 'href="/admin/exchange/accessrequest/add/' not in page(dataset_path(dataset))[1]  # anonymous
    html = page(dataset_path(dataset), police_clerk)[1]
    link = f'href="/admin/exchange/accessrequest/add/?dataset={dataset.pk}">'
    assert (link in html) is (label is not None)
    if label is not None:
        assert f"{link}{label}</a>" in html
    assert ("Manage in the admin" in html) is (dataset.owner.code == "police")  # only their own department's


def test_only_people_who_may_file_requests_see_the_button(catalogue: Catalogue, auditor: Any) -> None:
    assert "Request access" not in page(dataset_path(catalogue.vaccinations), auditor)[1]


def test_a_subject_identifier_not_marked_public_stays_out_of_open_data(catalogue: Catalogue) -> None:
    Field.objects.filter(dataset=catalogue.clinics, name="visits").update(sensitivity=Sensitivity.INTERNAL,
                                                                          is_subject_identifier=True)
    html = page(dataset_path(catalogue.clinics))[1]
    assert "<td>1000</td>" not in html
    assert "visits" not in download(catalogue.clinics, "csv").getvalue().decode("utf-8-sig").splitlines()[0]


def test_a_head_request_downloads_and_records_nothing(catalogue: Catalogue) -> None:
    response = Client().head(reverse("catalog:download", kwargs={"identifier": "clinic-visits", "fmt": "csv"}))
    assert response.status_code == 405 and not downloads()


def test_the_owning_departments_clerk_may_manage_it_in_the_admin(catalogue: Catalogue, health_clerk: Any) -> None:
    html = page(dataset_path(catalogue.vaccinations), health_clerk)[1]
    change = reverse("admin:catalog_dataset_change", args=[catalogue.vaccinations.pk])
    assert f'href="{change}">Manage in the admin</a>' in html


def test_anonymous_visitors_are_offered_to_sign_in(catalogue: Catalogue) -> None:
    html = page(dataset_path(catalogue.vaccinations))[1]
    assert "Sign in to request access." in html


# --- Downloads of open data ---

def test_the_csv_download_is_utf8_with_a_bom_and_audited(catalogue: Catalogue) -> None:
    response = download(catalogue.clinics, "csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="clinic-visits.csv"'
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    assert body.decode("utf-8-sig").splitlines() == [
        "hospital,visits,clinic_note", "市中医院,2000,有", "市儿童医院,3000,有", "市第一人民医院,1000,"]
    event = downloads()[0]
    assert (event.actor_type, event.object_type, event.object_id) == ("anonymous", "dataset", "clinic-visits")
    assert event.detail == {"format": "csv", "rows": 3, "version": 1}


def test_the_json_download_names_the_dataset_and_its_records(catalogue: Catalogue, police_clerk: Any) -> None:
    response = download(catalogue.clinics, "json", police_clerk)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = json.loads(b"".join(response.streaming_content))
    assert body["dataset"] == "clinic-visits" and body["version"] == 1
    assert body["fields"] == ["hospital", "visits", "clinic_note"]
    assert body["records"][0] == {"hospital": "市中医院", "visits": 2000, "clinic_note": "有"}
    assert len(body["records"]) == 3
    event = downloads()[0]
    assert (event.actor_type, event.actor_id) == ("user", "police-clerk")
    assert event.detail == {"format": "json", "rows": 3, "version": 1}


def test_a_download_of_a_dataset_without_records_is_an_empty_file(catalogue: Catalogue) -> None:
    catalogue.clinics.records.all().delete()
    assert json.loads(b"".join(download(catalogue.clinics, "json").streaming_content))["records"] == []
    csv = b"".join(download(catalogue.clinics, "csv").streaming_content)
    assert csv == "\ufeffhospital,visits,clinic_note\r\n".encode()


def test_only_the_served_generation_is_downloaded(catalogue: Catalogue) -> None:
    clinics = catalogue.clinics
    clinics.records.create(generation=clinics.records_generation + 1, key="staged", data={"hospital": "staged"})
    clinics.records.filter(key="市中医院").update(deleted_at=timezone.now())
    body = b"".join(download(clinics, "csv").streaming_content).decode("utf-8-sig")
    assert "staged" not in body and "市中医院" not in body
    assert downloads()[0].detail["rows"] == 2


@pytest.mark.parametrize("name", ["vaccinations", "licences", "vehicles"])
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_shared_dataset_cannot_be_downloaded(catalogue: Catalogue, name: str, fmt: str, root: Any) -> None:
    response = download(getattr(catalogue, name), fmt, root)
    assert response.status_code == 403
    assert "Only open data can be downloaded." in response.content.decode()
    assert not downloads()


def test_a_draft_cannot_be_downloaded(catalogue: Catalogue) -> None:
    assert download(catalogue.draft, "csv").status_code == 404
    assert not downloads()


def test_no_download_leaves_unaudited(catalogue: Catalogue) -> None:
    with audit_inserts_refused():
        response = download(catalogue.clinics, "csv")
    assert response.status_code == 503
    assert "The audit log cannot be written, so nothing was served." in response.content.decode()
    assert "市第一人民医院" not in response.content.decode()
    assert not downloads()


def test_an_auditor_finds_who_downloaded_what(catalogue: Catalogue, health: Department) -> None:
    reader = make_user("reader", health, Role.APPROVER)
    download(catalogue.clinics, "csv", reader)
    download(catalogue.clinics, "json")
    assert [(e.actor_id, e.detail["format"]) for e in downloads()] == [("reader", "csv"), ("", "json")]

