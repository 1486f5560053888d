"""catalog.search: Chinese and English search over the published catalogue, ranked in SQL, with facet counts;
the same on PostgreSQL and SQLite (run this file on both)."""

from typing import Any

import pytest

from catalog.models import Dataset, Tier
from catalog.search import CatalogueQuery, catalogue_query_parse, catalogue_search, search_document
from catalog.services import FieldSpec, dataset_update
from core.errors import PlatformError
from registry.models import Department
from tests.catalog import conftest_finding as finding
from tests.catalog.conftest_finding import Catalogue, publish

pytestmark = pytest.mark.django_db
catalogue, commerce = finding.catalogue, finding.commerce  # the shared fixtures


def found(text: str = "", **filters: str) -> list[str]:
    return [d.identifier for d in catalogue_search(CatalogueQuery(text=text, filters=filters)).datasets]


# --- Chinese ---

@pytest.mark.parametrize("word", ["疫苗", "接种", "疫苗接种", "儿童疫苗接种记录"])
def test_a_chinese_word_finds_the_dataset_whose_title_holds_it(catalogue: Catalogue, word: str) -> None:
    assert found(word)[0] == "child-vaccinations"


def test_a_title_match_ranks_above_a_match_in_a_fields_description(catalogue: Catalogue) -> None:
    assert found("疫苗") == ["child-vaccinations", "clinic-visits"]


def test_a_word_only_in_a_fields_description_finds_the_dataset(catalogue: Catalogue) -> None:
    assert found("疫苗门诊") == ["clinic-visits"]
    assert found("outpatient") == ["clinic-visits"]


def test_a_longer_chinese_word_finds_a_dataset_holding_most_of_its_character_pairs(catalogue: Catalogue) -> None:
    """疫苗记录 is not in 儿童疫苗接种记录, but 疫苗 and 记录 are (two of its three pairs)."""
    assert found("疫苗记录") == ["child-vaccinations"]
    assert found("疫苗接种") == ["child-vaccinations"]  # 疫苗 alone (one pair of three) is not enough
    assert found("车辆登记") == []  # 登记 alone is one pair of three


def test_the_longest_chinese_query_is_answered_not_a_500(catalogue: Catalogue, client: Any) -> None:
    """200 distinct characters in one word: the query stays one bounded SQL expression."""
    word = "".join(chr(0x4E00 + i * 7) for i in range(200))
    assert found(word) == []
    assert client.get("/catalog/", {"q": word}).status_code == 200


def test_every_word_must_match(catalogue: Catalogue) -> None:
    assert found("疫苗 门诊") == ["clinic-visits"]
    assert found("疫苗，接种") == ["child-vaccinations"]  # Chinese punctuation separates words too
    assert found("疫苗 companies") == []


def test_it_finds_by_department_identifier_and_resource_code(catalogue: Catalogue) -> None:
    assert found("public security") == ["motor-vehicles"]
    assert found("child-vaccinations") == ["child-vaccinations"]
    assert found("330100-heal-0001") == ["child-vaccinations"]


# --- English and ranking ---

def test_english_search_ignores_case(catalogue: Catalogue) -> None:
    assert found("BUSINESS Licences") == ["business-licences"]
    assert found("registered company") == ["business-licences"]


def test_a_keyword_ranks_above_the_description_and_the_title_above_both(catalogue: Catalogue, health: Department,
                                                                        health_clerk: Any) -> None:
    fields = [FieldSpec("id", is_lookup_key=True)]
    publish(health_clerk, health, "a-in-description", "Beds", Tier.UNCONDITIONAL, fields,
            description="Hospital beds for influenza patients")
    publish(health_clerk, health, "b-in-keywords", "Wards", Tier.UNCONDITIONAL, fields, keywords=["influenza"])
    publish(health_clerk, health, "c-in-title", "Influenza cases", Tier.UNCONDITIONAL, fields)
    publish(health_clerk, health, "d-in-a-field", "Clinics", Tier.UNCONDITIONAL,
            [FieldSpec("id", is_lookup_key=True, description="influenza clinic number")])
    assert found("influenza") == ["c-in-title", "b-in-keywords", "a-in-description", "d-in-a-field"]


def test_the_search_document_puts_the_keywords_on_its_first_line(catalogue: Catalogue) -> None:
    document = search_document(catalogue.vaccinations)
    assert document.splitlines()[0] == "疫苗 免疫规划"
    assert "儿童疫苗接种记录" in document and "接种日期" in document and "health commission" in document


def test_a_stored_search_text_follows_an_update(catalogue: Catalogue, health_clerk: Any) -> None:
    dataset_update(actor=health_clerk, dataset=catalogue.clinics, description="包含流感门诊")
    assert found("流感") == ["clinic-visits"]


@pytest.mark.parametrize("wildcard", ["%", "d_se", "疫%", "\\"])
def test_like_wildcards_in_the_search_are_plain_characters(catalogue: Catalogue, wildcard: str) -> None:
    """As wildcards, d_se would match dose_date and 疫% any 疫."""
    assert found(wildcard) == []


def test_no_words_lists_every_published_dataset_newest_first(catalogue: Catalogue) -> None:
    assert found() == ["business-licences", "motor-vehicles", "clinic-visits", "child-vaccinations"]


# --- Only published datasets ---

def test_drafts_are_never_found(catalogue: Catalogue) -> None:
    assert "vaccine-stock" not in found("疫苗")
    assert found("库存") == []
    result = catalogue_search(CatalogueQuery())
    assert result.count == 4
    assert sum(v.count for v in result.facets["tier"]) == 4


# --- Facets ---

def counts(result: Any, facet: str) -> dict[str, int]:
    return {v.value: v.count for v in result.facets[facet]}


def test_facets_count_the_matches(catalogue: Catalogue) -> None:
    result = catalogue_search(CatalogueQuery())
    assert counts(result, "department") == {"health": 2, "commerce": 1, "police": 1}
    assert [v.label for v in result.facets["department"]] == ["Health Commission", "Public Security Bureau",
                                                              "市场监督管理局"]
    assert counts(result, "tier") == {"open": 1, "unconditional": 1, "conditional": 1, "not_shared": 1}
    assert counts(result, "theme") == {"ECON": 1, "HEAL": 2, "SOCI": 1, "TRAN": 1}
    assert counts(result, "grade") == {"general": 3, "important": 1}
    assert counts(result, "format") == {"database": 3, "spreadsheet": 1}
    assert dict((v.value, v.label) for v in result.facets["tier"])["open"] == "Open (public)"


def test_facets_count_within_the_search_with_the_other_facets_applied(catalogue: Catalogue) -> None:
    result = catalogue_search(CatalogueQuery(text="疫苗", filters={"tier": "open"}))
    assert [d.identifier for d in result.datasets] == ["clinic-visits"]
    assert result.count == 1
    # The tier facet ignores its own filter (so the other tiers can be chosen instead) ...
    assert counts(result, "tier") == {"open": 1, "conditional": 1}
    assert [v.selected for v in result.facets["tier"]] == [True, False]
    # ... the others apply it.
    assert counts(result, "department") == {"health": 1}
    assert counts(result, "theme") == {"HEAL": 1, "SOCI": 1}


@pytest.mark.parametrize(("facet", "value", "expected"), [
    ("department", "police", ["motor-vehicles"]),
    ("tier", "unconditional", ["business-licences"]),
    ("theme", "HEAL", ["clinic-visits", "child-vaccinations"]),
    ("theme", "SOCI", ["clinic-visits"]),
    ("grade", "important", ["motor-vehicles"]),
    ("format", "spreadsheet", ["clinic-visits"]),
])
def test_a_facet_filters_the_results(catalogue: Catalogue, facet: str, value: str, expected: list[str]) -> None:
    assert found(**{facet: value}) == expected


def test_a_selected_value_without_matches_is_still_listed_so_it_can_be_removed(catalogue: Catalogue) -> None:
    result = catalogue_search(CatalogueQuery(text="companies", filters={"theme": "HEAL"}))
    assert result.count == 0 and result.datasets == []
    assert [(v.value, v.count, v.selected) for v in result.facets["theme"]] == [("ECON", 1, False),
                                                                                ("HEAL", 0, True)]


def test_it_pages_the_results(catalogue: Catalogue, health: Department, health_clerk: Any) -> None:
    for i in range(21):
        publish(health_clerk, health, f"survey-{i:02}", f"Survey {i}", Tier.UNCONDITIONAL,
                [FieldSpec("id", is_lookup_key=True)])
    first = catalogue_search(CatalogueQuery(text="survey"))
    second = catalogue_search(CatalogueQuery(text="survey", page=2))
    assert (first.count, first.pages, len(first.datasets), len(second.datasets)) == (21, 2, 20, 1)
    assert catalogue_search(CatalogueQuery(text="survey", page=3)).datasets == []


def test_a_search_costs_two_queries(catalogue: Catalogue, django_assert_num_queries: Any) -> None:
    # The facet columns of the matches; the ranked page with its departments.
    with django_assert_num_queries(2):
        result = catalogue_search(CatalogueQuery(text="疫苗 记录", filters={"theme": "HEAL"}))
        assert [d.owner.code for d in result.datasets] == ["health"]


# --- The parameters ---

def test_it_reads_the_parameters(catalogue: Catalogue) -> None:
    query = catalogue_query_parse({"q": "  疫苗\u3000 接种 ", "tier": "open", "department": "health", "page": "2"})
    assert query == CatalogueQuery(text="疫苗 接种", filters={"tier": "open", "department": "health"}, page=2)
    assert query.terms == ["疫苗", "接种"]


@pytest.mark.parametrize(("params", "field"), [
    ({"tier": "secret"}, "tier"),
    ({"theme": "heal"}, "theme"),
    ({"grade": "top"}, "grade"),
    ({"format": "pdf"}, "format"),
    ({"department": "nobody"}, "department"),
    ({"department": "x\x00"}, "department"),
    ({"page": "two"}, "page"),
    ({"page": "0"}, "page"),
    ({"page": "-1"}, "page"),
    ({"q": "疫" * 201}, "q"),
    ({"q": "a\x00b"}, "q"),
])
def test_bad_parameters_say_what_to_fix(catalogue: Catalogue, params: dict[str, str], field: str) -> None:
    with pytest.raises(PlatformError) as caught:
        catalogue_query_parse(params)
    assert (caught.value.status, caught.value.code) == (400, "invalid_input")
    assert list(caught.value.detail) == [field]
    assert caught.value.message


def test_the_search_finds_nothing_else_for_a_dataset_not_yet_indexed(catalogue: Catalogue) -> None:
    """Datasets reach search through their search text only: one saved without it is not found by words."""
    Dataset.objects.filter(pk=catalogue.licences.pk).update(search_text="")
    assert found("business") == []
    assert "business-licences" in found()
