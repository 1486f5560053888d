"""The catalogue as DCAT-AP 3 (catalog.dcat): /catalog/dcat.ttl|jsonld for the published catalogue and
/catalog/datasets/<id>/dcat.ttl|jsonld for one dataset at its stable URI, anonymous.

The constraints below are the facts of the official DCAT-AP 3.0.1 SHACL shapes, written out for our own check
(the shapes file is not copied here). Source: github.com/SEMICeu/DCAT-AP, commit
7c531da7f154794da620fd0e57a3e8afe0286c0f: releases/3.0.1/shacl/dcat-ap-SHACL.ttl (sh:minCount, sh:maxCount,
sh:nodeKind, sh:class), releases/3.0.1/shacl/ranges.ttl (ranges) and
releases/3.0.1/html/shacl/mdr-vocabularies.shape.ttl (the controlled vocabularies: skos:inScheme of the EU
authority tables, IANA media-type URIs). Also from releases/3.0.0/shacl/dcat-ap-SHACL.ttl: it checks
dcat:accessURL, dcat:downloadURL and dct:relation values by sh:class rdfs:Resource (3.0.1 dropped that); the
export satisfies both releases.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF, RDFS, SKOS, XSD

from catalog.dcat import ADMS, DCAT, DCATAP, ELI, RECORD_API_PATH, VCARD
from catalog.models import Dataset, Tier
from catalog.services import FieldSpec, dataset_publish, dataset_register
from registry.models import Department

pytestmark = pytest.mark.django_db

BASE = "https://data.example.gov.cn"
AUTHORITY = "http://publications.europa.eu/resource/authority/"
IANA = "https://www.iana.org/assignments/media-types/"
FORMATS = {"ttl": "turtle", "jsonld": "json-ld"}
TITLE = "儿童疫苗接种记录"


@dataclass(frozen=True)
class Rule:
    """One sh:property of a DCAT-AP 3.0.1 node shape (with its range and controlled vocabulary)."""

    path: URIRef
    min: int = 0
    max: int | None = None
    literal: bool = False  # sh:nodeKind sh:Literal; otherwise sh:BlankNodeOrIRI
    cls: URIRef | None = None  # sh:class: the value must be typed so in the graph
    scheme: str | None = None  # mdr-vocabularies: the value is a term of this EU authority table
    datatypes: tuple[URIRef, ...] = ()  # the literal's datatype
    pattern: str | None = None  # mdr-vocabularies: the IRI starts with this


DATES = (XSD.date, XSD.dateTime)
SHAPES: dict[URIRef, list[Rule]] = {
    DCAT.Catalog: [
        Rule(DCTERMS.title, min=1, literal=True),
        Rule(DCTERMS.description, min=1, literal=True),
        Rule(DCTERMS.publisher, min=1, max=1, cls=FOAF.Agent),
        Rule(DCAT.dataset, cls=DCAT.Dataset),
        Rule(DCAT.themeTaxonomy, cls=SKOS.ConceptScheme),
        Rule(FOAF.homepage, max=1, cls=FOAF.Document),
        Rule(DCTERMS.language, cls=DCTERMS.LinguisticSystem, scheme="language"),
        Rule(DCTERMS.modified, max=1, literal=True, datatypes=DATES),
    ],
    DCAT.Dataset: [
        Rule(DCTERMS.title, min=1, literal=True),
        Rule(DCTERMS.description, min=1, literal=True),
        Rule(DCTERMS.identifier, literal=True),
        Rule(DCTERMS.publisher, max=1, cls=FOAF.Agent),
        Rule(DCAT.keyword, literal=True),
        Rule(DCAT.theme, cls=SKOS.Concept, scheme="data-theme"),
        Rule(DCTERMS.accessRights, max=1, cls=DCTERMS.RightsStatement, scheme="access-right"),
        Rule(DCATAP.applicableLegislation, cls=ELI.LegalResource),
        Rule(DCTERMS.accrualPeriodicity, max=1, cls=DCTERMS.Frequency, scheme="frequency"),
        Rule(DCTERMS.language, cls=DCTERMS.LinguisticSystem, scheme="language"),
        Rule(DCTERMS.issued, max=1, literal=True, datatypes=DATES),
        Rule(DCTERMS.modified, max=1, literal=True, datatypes=DATES),
        Rule(DCAT.version, max=1, literal=True),
        Rule(ADMS.versionNotes, literal=True),
        Rule(DCTERMS.conformsTo, cls=DCTERMS.Standard),
        Rule(DCTERMS.temporal, cls=DCTERMS.PeriodOfTime),
        Rule(DCTERMS.spatial, cls=DCTERMS.Location),
        Rule(DCAT.contactPoint, cls=VCARD.Kind),
        Rule(ADMS.identifier, cls=ADMS.Identifier),
        Rule(DCTERMS.relation, cls=RDFS.Resource),
        Rule(DCAT.distribution, cls=DCAT.Distribution),
    ],
    DCAT.Distribution: [
        Rule(DCAT.accessURL, min=1, cls=RDFS.Resource),
        Rule(DCAT.downloadURL, cls=RDFS.Resource),
        Rule(DCTERMS.title, literal=True),
        Rule(DCTERMS.description, literal=True),
        Rule(DCTERMS.format, max=1, cls=DCTERMS.MediaTypeOrExtent, scheme="file-type"),
        Rule(DCAT.mediaType, max=1, cls=DCTERMS.MediaType, pattern=IANA),
        Rule(DCTERMS.license, max=1, cls=DCTERMS.LicenseDocument),
        Rule(DCTERMS.rights, cls=DCTERMS.RightsStatement),
    ],
    FOAF.Agent: [
        Rule(FOAF.name, min=1, literal=True),
        Rule(DCTERMS.type, max=1, cls=SKOS.Concept),
        Rule(DCTERMS.identifier, literal=True),  # not in the shape (which is open): our 提供方代码
    ],
    SKOS.Concept: [Rule(SKOS.prefLabel, min=1, literal=True), Rule(SKOS.inScheme)],
    SKOS.ConceptScheme: [Rule(DCTERMS.title, min=1, literal=True)],
    ADMS.Identifier: [Rule(SKOS.notation, min=1, max=1, literal=True), Rule(ADMS.schemeAgency, literal=True)],
    DCTERMS.PeriodOfTime: [Rule(DCAT.startDate, max=1, literal=True, datatypes=(XSD.date,)),
                           Rule(DCAT.endDate, max=1, literal=True, datatypes=(XSD.date,))],
}
#: The classes whose nodes may carry only the properties listed above: what we export is DCAT-AP, and tested.
CLOSED = (DCAT.Catalog, DCAT.Dataset, DCAT.Distribution, FOAF.Agent)


def violations(graph: Graph) -> list[str]:
    """What in ``graph`` breaks a rule of ``SHAPES``, one line each (empty: it conforms)."""
    found = []
    for cls, rules in SHAPES.items():
        for node in graph.subjects(RDF.type, cls):
            known = {rule.path for rule in rules} | {RDF.type}
            if cls in CLOSED and (extra := {p for p in graph.predicates(node) if p not in known}):
                found.append(f"{node} ({cls}) has properties outside the profile: {sorted(extra)}")
            for rule in rules:
                values = list(graph.objects(node, rule.path))
                if len(values) < rule.min or (rule.max is not None and len(values) > rule.max):
                    found.append(f"{node} ({cls}) has {len(values)} {rule.path}")
                found += [f"{node} {rule.path} {value}: {problem}"
                          for value in values for problem in value_problems(graph, rule, value)]
    return found


def value_problems(graph: Graph, rule: Rule, value: Any) -> list[str]:
    if rule.literal:
        if not isinstance(value, Literal):
            return ["not a literal"]
        if rule.datatypes and value.datatype not in rule.datatypes:
            return [f"datatype {value.datatype}"]
        return []
    if not isinstance(value, URIRef | BNode):
        return ["not a node"]
    problems = []
    if rule.cls is not None and (value, RDF.type, rule.cls) not in graph:
        problems.append(f"not typed {rule.cls}")
    if rule.scheme is not None and (value, SKOS.inScheme, URIRef(AUTHORITY + rule.scheme)) not in graph:
        problems.append(f"not a term of {rule.scheme}")
    if rule.scheme is not None and not str(value).startswith(f"{AUTHORITY}{rule.scheme}/"):
        problems.append(f"not a URI of {rule.scheme}")
    if rule.pattern is not None and not str(value).startswith(rule.pattern):
        problems.append(f"not under {rule.pattern}")
    return problems


FIELDS = [FieldSpec("site_code", is_lookup_key=True, description="接种点编码"),
          FieldSpec("doses", type="integer", description="接种剂次")]


def full_metadata(tier: str, number: int) -> dict[str, Any]:
    return {
        "description": "各接种点按日汇总的儿童疫苗接种剂次。", "keywords": ["疫苗", "接种"], "themes": ["HEAL", "SOCI"],
        "legal_basis": "《中华人民共和国疫苗管理法》第十条", "sharing_conditions": "使用方须提供案件编号。",
        "sharing_method": "api_file", "open_conditions": "引用时注明来源。" if tier == Tier.OPEN else "",
        "licence": "https://creativecommons.org/licenses/by/4.0/" if tier == Tier.OPEN else "",
        "grade": "general", "resource_category": "base", "resource_code": f"330100-HEAL-000{number}",
        "resource_format": "database", "related_resources": ["330100-HEAL-0001", "110000-GOVE-0001"],
        "update_frequency": "DAILY", "temporal_start": dt.date(2020, 1, 1), "temporal_end": dt.date(2025, 12, 31),
        "spatial": "杭州市", "language": "ZHO", "conforms_to": "https://std.samr.gov.cn/gb/search/gbDetailed?id=1",
        "contact_name": "数据资源处", "contact_email": "data@health.example.gov.cn", "contact_phone": "0571-8700 1234",
    }


def minimal_metadata(tier: str) -> dict[str, Any]:
    """What publishing needs: a description (摘要); a legal basis for conditional and not shared, a licence for
    open."""
    if tier in (Tier.CONDITIONAL, Tier.NOT_SHARED):
        return {"description": "摘要。", "legal_basis": "《政务数据共享条例》"}
    if tier == Tier.OPEN:
        return {"description": "摘要。", "licence": "https://creativecommons.org/publicdomain/zero/1.0/"}
    return {"description": "摘要。"}


def publish(actor: Any, owner: Department, identifier: str, tier: str, **metadata: Any) -> Dataset:
    metadata.setdefault("description", "摘要。")  # publishing needs one
    dataset = dataset_register(actor=actor, owner=owner, identifier=identifier, title=TITLE, tier=tier,
                               fields=FIELDS, **metadata)
    return dataset_publish(dataset=dataset, actor=actor)


@pytest.fixture(autouse=True)
def _published_at_a_known_address(settings: Any) -> None:
    settings.PLATFORM_BASE_URL = BASE
    settings.ALLOWED_HOSTS = ["testserver", "attacker.example"]


@pytest.fixture
def catalogue(health: Department, health_clerk: Any) -> dict[str, Dataset]:
    """One dataset of each tier with full metadata (``<tier>-full``) and one with minimal (``<tier>-minimal``),
    and a draft."""
    health.name = "杭州市卫生健康委员会"
    health.save()
    datasets = {}
    for number, tier in enumerate(Tier.values, start=1):
        datasets[f"{tier}-full"] = publish(health_clerk, health, f"{tier}-full", tier, **full_metadata(tier, number))
        datasets[f"{tier}-minimal"] = publish(health_clerk, health, f"{tier}-minimal", tier, **minimal_metadata(tier))
    datasets["draft"] = dataset_register(actor=health_clerk, owner=health, identifier="draft", title="草稿",
                                         tier=Tier.CONDITIONAL, fields=FIELDS, legal_basis="《政务数据共享条例》")
    return datasets


def fetch(client: Client, url: str, fmt: str, **headers: Any) -> Graph:
    response = client.get(url, **headers)
    assert response.status_code == 200, response.content
    return Graph().parse(data=response.content.decode(), format=FORMATS[fmt])


def catalogue_graph(client: Client, fmt: str = "ttl") -> Graph:
    return fetch(client, reverse("catalog:dcat", kwargs={"fmt": fmt}), fmt)


def dataset_document(client: Client, identifier: str, fmt: str = "ttl", **headers: Any) -> Graph:
    return fetch(client, reverse("catalog:dataset_dcat", kwargs={"identifier": identifier, "fmt": fmt}), fmt,
                 **headers)


def uri(identifier: str) -> URIRef:
    return URIRef(f"{BASE}/catalog/datasets/{identifier}")


def authority(table: str, code: str) -> URIRef:
    return URIRef(f"{AUTHORITY}{table}/{code}")


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_catalogue_conforms_to_the_dcat_ap_3_shapes(client: Client, catalogue: dict[str, Dataset],
                                                        fmt: str) -> None:
    graph = catalogue_graph(client, fmt)
    assert violations(graph) == []
    catalogues = list(graph.subjects(RDF.type, DCAT.Catalog))
    assert catalogues == [URIRef(f"{BASE}/catalog/")]
    published = {uri(name) for name in catalogue if name != "draft"}
    assert set(graph.objects(catalogues[0], DCAT.dataset)) == published
    assert set(graph.subjects(RDF.type, DCAT.Dataset)) == published
    assert set(graph.subjects(RDF.type, FOAF.Agent)) == {URIRef(f"{BASE}/departments/health"),
                                                        URIRef(f"{BASE}/catalog/#publisher")}


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_dataset_document_conforms_to_the_shapes(client: Client, catalogue: dict[str, Dataset],
                                                      fmt: str) -> None:
    for name in catalogue:
        if name != "draft":
            assert violations(dataset_document(client, name, fmt)) == [], name


def test_the_turtle_and_the_json_ld_hold_the_same_triples(client: Client, catalogue: dict[str, Dataset]) -> None:
    assert set(catalogue_graph(client, "ttl")) == set(catalogue_graph(client, "jsonld"))
    assert set(dataset_document(client, "open-full", "ttl")) == set(dataset_document(client, "open-full", "jsonld"))


def part_of_catalogue(graph: Graph, dataset: URIRef) -> set[Any]:
    """The triples the dataset's description reaches: its own and its nodes', not the catalogue's description
    of a vocabulary (reached through skos:inScheme), and of a related dataset only that it is a resource."""
    triples: set[Any] = set()
    todo, seen = [dataset], {dataset}
    while todo:
        node = todo.pop()
        for triple in graph.triples((node, None, None)):
            triples.add(triple)
            value = triple[2]
            if triple[1] == SKOS.inScheme or not isinstance(value, URIRef) or value in seen:
                continue
            seen.add(value)
            if (value, RDF.type, DCAT.Dataset) in graph:
                triples.add((value, RDF.type, RDFS.Resource))
            else:
                todo.append(value)
    return triples


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_datasets_own_document_is_its_part_of_the_catalogue(client: Client, catalogue: dict[str, Dataset],
                                                              fmt: str) -> None:
    whole = catalogue_graph(client, fmt)
    for name in catalogue:
        if name != "draft":
            assert set(dataset_document(client, name, fmt)) == part_of_catalogue(whole, uri(name)), name


def test_the_dataset_uri_is_the_platforms_whatever_the_host(client: Client, catalogue: dict[str, Dataset]) -> None:
    usual = dataset_document(client, "open-full")
    spoofed = dataset_document(client, "open-full", HTTP_HOST="attacker.example")
    assert set(usual) == set(spoofed)
    assert (uri("open-full"), RDF.type, DCAT.Dataset) in spoofed
    assert not [term for triple in spoofed for term in triple if "attacker.example" in str(term)]
    assert reverse("catalog:dataset", kwargs={"identifier": "open-full"}) == "/catalog/datasets/open-full"


@pytest.mark.parametrize("fmt", FORMATS)
def test_chinese_texts_keep_their_language_tag(client: Client, catalogue: dict[str, Dataset], fmt: str) -> None:
    graph = catalogue_graph(client, fmt)
    dataset = uri("conditional-full")
    assert set(graph.objects(dataset, DCTERMS.title)) == {Literal(TITLE, lang="zh")}
    assert set(graph.objects(dataset, DCAT.keyword)) == {Literal("疫苗", lang="zh"), Literal("接种", lang="zh")}
    assert set(graph.objects(URIRef(f"{BASE}/departments/health"), FOAF.name)) == {
        Literal("杭州市卫生健康委员会", lang="zh")}
    assert Literal("《中华人民共和国疫苗管理法》第十条", lang="zh") in set(
        graph.objects(URIRef(f"{dataset}#legal-basis"), RDFS.label))


def test_an_english_dataset_is_tagged_english(client: Client, health: Department, health_clerk: Any) -> None:
    publish(health_clerk, health, "english", Tier.UNCONDITIONAL, language="ENG", description="Daily doses.")
    graph = dataset_document(client, "english")
    assert (uri("english"), DCTERMS.description, Literal("Daily doses.", lang="en")) in graph
    assert (uri("english"), DCTERMS.language, authority("language", "ENG")) in graph


@pytest.mark.parametrize(("tier", "right"), [(Tier.OPEN, "PUBLIC"), (Tier.UNCONDITIONAL, "RESTRICTED"),
                                             (Tier.CONDITIONAL, "RESTRICTED"), (Tier.NOT_SHARED, "NON_PUBLIC")])
def test_the_tier_gives_the_access_rights(client: Client, catalogue: dict[str, Dataset], tier: str,
                                          right: str) -> None:
    graph = catalogue_graph(client)
    for name in (f"{tier}-full", f"{tier}-minimal"):
        assert list(graph.objects(uri(name), DCTERMS.accessRights)) == [authority("access-right", right)]


def distributions(graph: Graph, name: str) -> set[str]:
    return {str(d).rsplit("#", 1)[1] for d in graph.objects(uri(name), DCAT.distribution)}


def test_a_dataset_that_is_not_shared_is_listed_with_its_legal_basis_and_nothing_to_read(
        client: Client, catalogue: dict[str, Dataset]) -> None:
    graph = catalogue_graph(client)
    for name in ("not_shared-full", "not_shared-minimal"):
        assert distributions(graph, name) == set()
        basis = URIRef(f"{uri(name)}#legal-basis")
        assert list(graph.objects(uri(name), DCATAP.applicableLegislation)) == [basis]
        assert (basis, RDF.type, ELI.LegalResource) in graph
        assert str(graph.value(basis, RDFS.label)) == catalogue[name].legal_basis


def test_shared_datasets_offer_the_signed_api_and_open_ones_licensed_downloads(
        client: Client, catalogue: dict[str, Dataset]) -> None:
    graph = catalogue_graph(client)
    for tier in (Tier.UNCONDITIONAL, Tier.CONDITIONAL):
        assert distributions(graph, f"{tier}-full") == {"api"}
        assert not list(graph.objects(URIRef(f"{uri(f'{tier}-full')}#api"), DCTERMS.license))
    assert distributions(graph, "open-full") == {"api", "csv", "json"}
    api = URIRef(f"{uri('open-full')}#api")
    assert graph.value(api, DCAT.accessURL) == URIRef(f"{BASE}/api/v1/datasets/open-full/records/")
    assert graph.value(api, DCTERMS.format) == authority("file-type", "JSON")
    csv = URIRef(f"{uri('open-full')}#csv")
    assert graph.value(csv, DCAT.downloadURL) == URIRef(f"{BASE}/catalog/datasets/open-full/download.csv")
    assert graph.value(csv, DCAT.mediaType) == URIRef(IANA + "text/csv")
    for name, licence in (("open-full", "https://creativecommons.org/licenses/by/4.0/"),
                          ("open-minimal", "https://creativecommons.org/publicdomain/zero/1.0/")):
        for part in ("api", "csv", "json"):
            assert list(graph.objects(URIRef(f"{uri(name)}#{part}"), DCTERMS.license)) == [URIRef(licence)]
    conditions = URIRef(f"{uri('conditional-full')}#conditions")
    assert graph.value(URIRef(f"{uri('conditional-full')}#api"), DCTERMS.rights) == conditions
    assert graph.value(conditions, RDFS.label) == Literal("使用方须提供案件编号。", lang="zh")


def test_the_api_access_url_is_where_the_exchange_serves_records() -> None:
    assert reverse("record-read", kwargs={"dataset_id": "d", "key": "k"}) == RECORD_API_PATH.format(
        identifier="d") + "k"


def test_full_metadata_is_all_exported(client: Client, catalogue: dict[str, Dataset]) -> None:
    graph = dataset_document(client, "conditional-full")
    dataset, owner = uri("conditional-full"), URIRef(f"{BASE}/departments/health")
    expected = catalogue["conditional-full"]
    assert graph.value(dataset, DCTERMS.publisher) == owner
    assert graph.value(owner, DCTERMS.identifier) == Literal("health")
    assert graph.value(dataset, DCTERMS.identifier) == Literal("conditional-full")
    assert set(graph.objects(dataset, DCAT.theme)) == {authority("data-theme", "HEAL"),
                                                       authority("data-theme", "SOCI")}
    assert graph.value(dataset, DCTERMS.accrualPeriodicity) == authority("frequency", "DAILY")
    assert graph.value(dataset, DCTERMS.language) == authority("language", "ZHO")
    assert graph.value(dataset, DCTERMS.issued) == Literal(expected.published_at, datatype=XSD.dateTime)
    assert graph.value(dataset, DCTERMS.modified) == Literal(expected.updated_at, datatype=XSD.dateTime)
    assert graph.value(dataset, DCAT.version) == Literal("1")
    assert graph.value(dataset, DCTERMS.conformsTo) == URIRef("https://std.samr.gov.cn/gb/search/gbDetailed?id=1")
    period = graph.value(dataset, DCTERMS.temporal)
    assert (graph.value(period, DCAT.startDate), graph.value(period, DCAT.endDate)) == (
        Literal("2020-01-01", datatype=XSD.date), Literal("2025-12-31", datatype=XSD.date))
    assert graph.value(graph.value(dataset, DCTERMS.spatial), SKOS.prefLabel) == Literal("杭州市", lang="zh")
    contact = graph.value(dataset, DCAT.contactPoint)
    assert (graph.value(contact, VCARD.fn), graph.value(contact, VCARD.hasEmail),
            graph.value(contact, VCARD.hasTelephone)) == (
        Literal("数据资源处", lang="zh"), URIRef("mailto:data@health.example.gov.cn"), URIRef("tel:0571-87001234"))
    code = graph.value(dataset, ADMS.identifier)
    assert graph.value(code, SKOS.notation) == Literal("330100-HEAL-0003")
    # 330100-HEAL-0001 is open-full's code (a published dataset); the other one is not in this catalogue
    related = set(graph.objects(dataset, DCTERMS.relation))
    assert related == {uri("open-full"), URIRef(f"{dataset}#related-110000-GOVE-0001")}
    assert graph.value(URIRef(f"{dataset}#related-110000-GOVE-0001"), DCTERMS.identifier) == Literal(
        "110000-GOVE-0001")


def test_drafts_are_neither_listed_nor_served(client: Client, catalogue: dict[str, Dataset]) -> None:
    assert (uri("draft"), None, None) not in catalogue_graph(client)
    for fmt in FORMATS:
        response = client.get(reverse("catalog:dataset_dcat", kwargs={"identifier": "draft", "fmt": fmt}))
        assert response.status_code == 404


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_unknown_dataset_is_404(client: Client, db: None, fmt: str) -> None:
    response = client.get(reverse("catalog:dataset_dcat", kwargs={"identifier": "no-such-thing", "fmt": fmt}))
    assert response.status_code == 404


def test_an_empty_catalogue_still_conforms(client: Client, db: None) -> None:
    graph = catalogue_graph(client)
    assert violations(graph) == []
    assert not list(graph.subjects(RDF.type, DCAT.Dataset))


@pytest.mark.parametrize(("fmt", "content_type"), [("ttl", "text/turtle; charset=utf-8"),
                                                   ("jsonld", "application/ld+json")])
def test_the_formats_have_their_content_types_and_can_be_revalidated(
        client: Client, catalogue: dict[str, Dataset], fmt: str, content_type: str) -> None:
    for url in (reverse("catalog:dcat", kwargs={"fmt": fmt}),
                reverse("catalog:dataset_dcat", kwargs={"identifier": "open-full", "fmt": fmt})):
        response = client.get(url)
        assert response["Content-Type"] == content_type
        assert response["ETag"]
        assert client.get(url, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_the_json_ld_has_a_compact_context(client: Client, catalogue: dict[str, Dataset]) -> None:
    body = client.get(reverse("catalog:dcat", kwargs={"fmt": "jsonld"})).json()
    assert body["@context"]["dcat"] == str(DCAT)
    assert '"dct:title"' in client.get(reverse("catalog:dcat", kwargs={"fmt": "jsonld"})).content.decode()


def test_a_change_changes_the_etag(client: Client, catalogue: dict[str, Dataset], health_clerk: Any) -> None:
    url = reverse("catalog:dcat", kwargs={"fmt": "ttl"})
    before = client.get(url)["ETag"]
    publish(health_clerk, catalogue["open-full"].owner, "another", Tier.UNCONDITIONAL)
    assert client.get(url, HTTP_IF_NONE_MATCH=before).status_code == 200


def test_the_catalogue_costs_one_query_however_many_datasets(client: Client, catalogue: dict[str, Dataset],
                                                             django_assert_num_queries: Any) -> None:
    # Expect 1 query: the published datasets with their owners and their current version's note
    with django_assert_num_queries(1):
        assert client.get(reverse("catalog:dcat", kwargs={"fmt": "ttl"})).status_code == 200
    # Expect 2 queries: the dataset (with owner and note), the published datasets holding its related codes
    with django_assert_num_queries(2):
        dataset_document(client, "conditional-full")



def test_free_text_addresses_are_encoded_not_fatal(client: Client, health: Department, health_clerk: Any) -> None:
    publish(health_clerk, health, "odd", Tier.UNCONDITIONAL, contact_phone="0571-8700 1234 转 8",
            conforms_to="https://std.example.cn/gb?id=1|2")
    graph = dataset_document(client, "odd")
    assert graph.value(URIRef(f"{uri('odd')}#contact"), VCARD.hasTelephone) == URIRef(
        "tel:0571-87001234%E8%BD%AC8")
    assert graph.value(uri("odd"), DCTERMS.conformsTo) == URIRef("https://std.example.cn/gb?id=1%7C2")
    assert violations(graph) == []
