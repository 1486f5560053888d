"""The published catalogue as DCAT-AP 3 (Turtle and JSON-LD), so other portals and catalogues can harvest it.

Built to the official DCAT-AP 3.0.1 SHACL shapes, and valid under 3.0.0's too (github.com/SEMICeu/DCAT-AP,
releases/3.0.x/shacl/; the mapping of every field is in docs/catalogue-crosswalk.md):

- Every node whose range the shapes check by class (``sh:class``) is typed in the output itself, and each
  EU authority-table term carries its scheme (``skos:inScheme``), so a validator needs no vocabulary imports.
- URIs are built from ``settings.PLATFORM_BASE_URL``, never from the request's Host header: a dataset's URI is
  the address of its public page, whoever asks.
- No blank nodes: the nodes a dataset owns are fragments of its URI (``#api``, ``#temporal``...), so a
  dataset's own document holds exactly the triples of its part of the catalogue.
- Only published datasets, of every tier: ``not_shared`` ones stay listed (NON_PUBLIC, with their legal
  basis) but have no distribution, which DCAT-AP allows (``dcat:distribution`` is optional).

Metadata only, public and anonymous: no audit event.
"""

import hashlib
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import translation
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.encoding import iri_to_uri
from django.utils.functional import Promise
from django.utils.http import quote_etag
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_safe
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF, RDFS, SKOS, XSD, NamespaceManager

from registry.models import Department, PlatformRoleName

from . import search
from .models import Dataset, DatasetStatus, DatasetVersion, Language, Theme, Tier

# rdflib's DCAT is DCAT 2 and warns on DCAT 3 terms (dcat:version): an open namespace instead.
DCAT = Namespace("http://www.w3.org/ns/dcat#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
DCATAP = Namespace("http://data.europa.eu/r5r/")
ELI = Namespace("http://data.europa.eu/eli/ontology#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
PREFIXES = {"dcat": DCAT, "dct": DCTERMS, "dcatap": DCATAP, "adms": ADMS, "eli": ELI, "foaf": FOAF,
            "vcard": VCARD, "skos": SKOS, "rdfs": RDFS, "xsd": XSD}
#: The JSON-LD ``@context``: the prefixes above, so properties read as ``dct:title``.
JSONLD_CONTEXT = {prefix: str(namespace) for prefix, namespace in PREFIXES.items()}

#: The EU Publications Office's authority tables, the controlled vocabularies DCAT-AP requires.
AUTHORITY = "http://publications.europa.eu/resource/authority/"
#: IANA media types: DCAT-AP checks ``dcat:mediaType`` by this URI prefix.
IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"

#: dct:accessRights of each tier: a term of the EU access-right table.
ACCESS_RIGHTS: dict[str, str] = {Tier.OPEN: "PUBLIC", Tier.UNCONDITIONAL: "RESTRICTED",
                                 Tier.CONDITIONAL: "RESTRICTED", Tier.NOT_SHARED: "NON_PUBLIC"}
#: The language tag of a dataset's texts, from its ``language`` (EU language authority code).
LANGUAGE_TAGS: dict[str, str] = {Language.CHINESE: "zh", Language.ENGLISH: "en"}
#: The platform's own texts are given in each interface language: (Django language, language tag).
INTERFACE_LANGUAGES = (("en", "en"), ("zh-hans", "zh"))

#: Where the exchange serves a dataset's records by key (exchange/urls.py, mounted at /api/v1/). A string, not
#: a reverse(): the catalogue sits below the exchange and must not name its routes; a test pins the two together.
RECORD_API_PATH = "/api/v1/datasets/{identifier}/records/"
#: Downloads of open data: (URL format, file-type authority code, IANA media type).
DOWNLOADS = (("csv", "CSV", "text/csv"), ("json", "JSON", "application/json"))

FORMATS = {"ttl": ("turtle", "text/turtle; charset=utf-8"), "jsonld": ("json-ld", "application/ld+json")}

CATALOGUE_TITLE = gettext_lazy("Government data resource catalogue")
CATALOGUE_DESCRIPTION = gettext_lazy(
    "The datasets the departments publish on the data-sharing platform, of every sharing tier: open data, "
    "data shared with every department or on approved request, and data not shared, with its legal basis.")
THEMES_TITLE = gettext_lazy("Data themes (EU data theme vocabulary)")
RESOURCE_CODE_SCHEME = gettext_lazy("Government information resource catalogue (GB/T 21063)")
API_TITLE = gettext_lazy("Record API")
API_DESCRIPTION = gettext_lazy(
    "Records by key from the platform's exchange API, for registered systems that sign their requests "
    "(RFC 9421) and hold a grant for this dataset.")
DOWNLOAD_TITLE = gettext_lazy("Download (%(format)s)")
DOWNLOAD_DESCRIPTION = gettext_lazy("All the dataset's current records in one %(format)s file, for anyone.")


def _uri(path: str) -> URIRef:
    return URIRef(settings.PLATFORM_BASE_URL + path)


def catalogue_uri() -> URIRef:
    return _uri(reverse("catalog:index"))


def dataset_uri(identifier: str) -> URIRef:
    return URIRef(search.dataset_uri(identifier))


def department_uri(department: Department) -> URIRef:
    return _uri(f"/departments/{department.code}")


def _texts(text: Promise | str, **params: str) -> list[Literal]:
    """A platform text in each interface language, tagged; a language whose translation is missing (it would
    repeat the English) is left out rather than mislabelled."""
    literals: list[Literal] = []
    for django_language, tag in INTERFACE_LANGUAGES:
        with translation.override(django_language):
            value = str(text) % params if params else str(text)
        if all(value != str(literal) for literal in literals):
            literals.append(Literal(value, lang=tag))
    return literals


def _add_texts(graph: Graph, subject: URIRef, predicate: URIRef, text: Promise | str, **params: str) -> None:
    for literal in _texts(text, **params):
        graph.add((subject, predicate, literal))


def _term(graph: Graph, authority: str, code: str, rdf_class: URIRef) -> URIRef:
    """A term of an EU authority table, typed as the class the shapes expect for the property, in its scheme."""
    term = URIRef(f"{AUTHORITY}{authority}/{code}")
    graph.add((term, RDF.type, rdf_class))
    graph.add((term, SKOS.inScheme, URIRef(AUTHORITY + authority)))
    return term


def _resource(graph: Graph, iri: URIRef) -> URIRef:
    """An address typed rdfs:Resource: DCAT-AP 3.0.0's shapes check dcat:accessURL, dcat:downloadURL and
    dct:relation values by that class (3.0.1 no longer does); stating it keeps the output valid under both."""
    graph.add((iri, RDF.type, RDFS.Resource))
    return iri


class _PrefixesOnly(NamespaceManager):
    """Prefixed names for our prefixes only, every other URI in full. rdflib's default also tries to find a
    namespace for every other URI, which costs time quadratic in the number of datasets (each dataset's
    fragments form a namespace): measured 6.6 s instead of 2.6 s for a thousand datasets, worse with more."""

    def compute_qname(self, uri: str, generate: bool = True) -> tuple[str, URIRef, str]:
        if not str(uri).startswith(_NAMESPACES):
            raise KeyError(uri)  # the Turtle serializer then writes the URI in full
        return super().compute_qname(uri, generate=False)


_NAMESPACES = tuple(str(namespace) for namespace in PREFIXES.values())


def _graph() -> Graph:
    graph = Graph(bind_namespaces="none")
    graph.namespace_manager = _PrefixesOnly(graph, bind_namespaces="none")
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    return graph


def _agent_add(graph: Graph, department: Department) -> URIRef:
    """The owning department as the publisher (提供方): its Chinese name and its code (提供方代码)."""
    agent = department_uri(department)
    graph.add((agent, RDF.type, FOAF.Agent))
    graph.add((agent, FOAF.name, Literal(department.name, lang="zh")))
    graph.add((agent, DCTERMS.identifier, Literal(department.code)))
    return agent


def _distribution_add(graph: Graph, dataset: URIRef, node: URIRef, *, texts: tuple[list[Literal], list[Literal]],
                      access_url: URIRef, download: bool, file_type: str, media_type: str, licence: URIRef | None,
                      rights: URIRef | None) -> None:
    graph.add((dataset, DCAT.distribution, node))
    graph.add((node, RDF.type, DCAT.Distribution))
    title, description = texts
    for literal in title:
        graph.add((node, DCTERMS.title, literal))
    for literal in description:
        graph.add((node, DCTERMS.description, literal))
    graph.add((node, DCAT.accessURL, _resource(graph, access_url)))
    if download:
        graph.add((node, DCAT.downloadURL, access_url))
    graph.add((node, DCTERMS.format, _term(graph, "file-type", file_type, DCTERMS.MediaTypeOrExtent)))
    media = URIRef(IANA_MEDIA_TYPES + media_type)
    graph.add((media, RDF.type, DCTERMS.MediaType))
    graph.add((node, DCAT.mediaType, media))
    if licence is not None:
        graph.add((node, DCTERMS.license, licence))
    if rights is not None:
        graph.add((node, DCTERMS.rights, rights))


def _distributions_add(graph: Graph, uri: URIRef, dataset: Dataset, lang: str) -> None:
    """The signed record API for every shared tier; CSV and JSON downloads for open data, under its licence.
    The conditions of sharing (共享条件) or of reuse (开放条件) are the distributions' rights statement."""
    if dataset.tier == Tier.NOT_SHARED:
        return
    is_open = dataset.tier == Tier.OPEN
    licence = URIRef(dataset.licence) if is_open and dataset.licence else None
    if licence is not None:
        graph.add((licence, RDF.type, DCTERMS.LicenseDocument))
    conditions = dataset.open_conditions if is_open else dataset.sharing_conditions
    rights = URIRef(f"{uri}#conditions") if conditions else None
    if rights is not None:
        graph.add((rights, RDF.type, DCTERMS.RightsStatement))
        graph.add((rights, RDFS.label, Literal(conditions, lang=lang)))
    _distribution_add(graph, uri, URIRef(f"{uri}#api"), texts=(_texts(API_TITLE), _texts(API_DESCRIPTION)),
                      access_url=_uri(RECORD_API_PATH.format(identifier=dataset.identifier)), download=False,
                      file_type="JSON", media_type="application/json", licence=licence, rights=rights)
    if not is_open:
        return
    for fmt, file_type, media_type in DOWNLOADS:
        url = _uri(reverse("catalog:download", kwargs={"identifier": dataset.identifier, "fmt": fmt}))
        texts = (_texts(DOWNLOAD_TITLE, format=file_type), _texts(DOWNLOAD_DESCRIPTION, format=file_type))
        _distribution_add(graph, uri, URIRef(f"{uri}#{fmt}"), texts=texts, access_url=url, download=True,
                          file_type=file_type, media_type=media_type, licence=licence, rights=rights)


def _contact_add(graph: Graph, uri: URIRef, dataset: Dataset, lang: str) -> None:
    if not (dataset.contact_name or dataset.contact_email or dataset.contact_phone):
        return
    contact = URIRef(f"{uri}#contact")
    graph.add((uri, DCAT.contactPoint, contact))
    graph.add((contact, RDF.type, VCARD.Kind))
    graph.add((contact, VCARD.fn, Literal(dataset.contact_name or dataset.owner.name, lang=lang)))
    if dataset.contact_email:
        graph.add((contact, VCARD.hasEmail, URIRef(iri_to_uri(f"mailto:{dataset.contact_email}"))))
    if dataset.contact_phone:  # free text: "0571-8700 1234" becomes tel:0571-87001234, anything odd %-encoded
        graph.add((contact, VCARD.hasTelephone, URIRef(iri_to_uri("tel:" + "".join(dataset.contact_phone.split())))))


def _coverage_add(graph: Graph, uri: URIRef, dataset: Dataset, lang: str) -> None:
    """Temporal coverage as a period with dates; the area as a location named by its label (the shapes only
    warn that it is not a term of the EU place table or GeoNames, which a Chinese area name cannot be)."""
    if dataset.temporal_start or dataset.temporal_end:
        period = URIRef(f"{uri}#temporal")
        graph.add((uri, DCTERMS.temporal, period))
        graph.add((period, RDF.type, DCTERMS.PeriodOfTime))
        if dataset.temporal_start:
            graph.add((period, DCAT.startDate, Literal(dataset.temporal_start, datatype=XSD.date)))
        if dataset.temporal_end:
            graph.add((period, DCAT.endDate, Literal(dataset.temporal_end, datatype=XSD.date)))
    if dataset.spatial:
        location = URIRef(f"{uri}#spatial")
        graph.add((uri, DCTERMS.spatial, location))
        graph.add((location, RDF.type, DCTERMS.Location))
        graph.add((location, SKOS.prefLabel, Literal(dataset.spatial, lang=lang)))


def _codes_add(graph: Graph, uri: URIRef, dataset: Dataset, lang: str, related: dict[str, str]) -> None:
    """The 目录's resource code as a secondary identifier, and its related resource codes as relations: the
    published dataset holding that code where there is one, else a node named by the code."""
    if dataset.resource_code:
        code = URIRef(f"{uri}#resource-code")
        graph.add((uri, ADMS.identifier, code))
        graph.add((code, RDF.type, ADMS.Identifier))
        graph.add((code, SKOS.notation, Literal(dataset.resource_code)))
        _add_texts(graph, code, ADMS.schemeAgency, RESOURCE_CODE_SCHEME)
    for related_code in dataset.related_resources:
        if related_code in related:
            graph.add((uri, DCTERMS.relation, _resource(graph, dataset_uri(related[related_code]))))
        else:
            node = _resource(graph, URIRef(f"{uri}#related-{related_code}"))
            graph.add((uri, DCTERMS.relation, node))
            graph.add((node, DCTERMS.identifier, Literal(related_code)))


def _dataset_add(graph: Graph, dataset: Dataset, related: dict[str, str]) -> URIRef:
    """One published dataset with everything it owns; ``related`` maps resource codes of published datasets to
    their identifiers."""
    uri = dataset_uri(dataset.identifier)
    lang = LANGUAGE_TAGS.get(dataset.language, "zh")
    graph.add((uri, RDF.type, DCAT.Dataset))
    graph.add((uri, DCTERMS.identifier, Literal(dataset.identifier)))
    graph.add((uri, DCTERMS.title, Literal(dataset.title, lang=lang)))
    # Mandatory in DCAT-AP (and 摘要 in the 目录): publishing requires it (``Dataset.clean``).
    graph.add((uri, DCTERMS.description, Literal(dataset.description, lang=lang)))
    graph.add((uri, DCTERMS.publisher, _agent_add(graph, dataset.owner)))
    for keyword in dataset.keywords:
        graph.add((uri, DCAT.keyword, Literal(keyword, lang=lang)))
    for code in dataset.themes:
        if code not in Theme.values:  # the model refuses them; an old row must not break the whole export
            continue
        theme = _term(graph, "data-theme", code, SKOS.Concept)
        _add_texts(graph, theme, SKOS.prefLabel, Theme(code).label)
        graph.add((uri, DCAT.theme, theme))
    graph.add((uri, DCTERMS.accessRights,
               _term(graph, "access-right", ACCESS_RIGHTS[dataset.tier], DCTERMS.RightsStatement)))
    if dataset.legal_basis:
        basis = URIRef(f"{uri}#legal-basis")
        graph.add((uri, DCATAP.applicableLegislation, basis))
        graph.add((basis, RDF.type, ELI.LegalResource))
        graph.add((basis, RDFS.label, Literal(dataset.legal_basis, lang=lang)))
    graph.add((uri, DCTERMS.accrualPeriodicity,
               _term(graph, "frequency", dataset.update_frequency, DCTERMS.Frequency)))
    graph.add((uri, DCTERMS.language, _term(graph, "language", dataset.language, DCTERMS.LinguisticSystem)))
    if dataset.published_at:
        graph.add((uri, DCTERMS.issued, Literal(dataset.published_at, datatype=XSD.dateTime)))
    graph.add((uri, DCTERMS.modified, Literal(dataset.updated_at, datatype=XSD.dateTime)))
    graph.add((uri, DCAT.version, Literal(str(dataset.version))))
    if note := getattr(dataset, "version_note", ""):
        graph.add((uri, ADMS.versionNotes, Literal(note, lang=lang)))
    if dataset.conforms_to:
        standard = URIRef(iri_to_uri(dataset.conforms_to))  # a valid URL may still hold | or ^, not valid in RDF
        graph.add((uri, DCTERMS.conformsTo, standard))
        graph.add((standard, RDF.type, DCTERMS.Standard))
    _coverage_add(graph, uri, dataset, lang)
    _contact_add(graph, uri, dataset, lang)
    _codes_add(graph, uri, dataset, lang, related)
    _distributions_add(graph, uri, dataset, lang)
    return uri


def published_datasets() -> QuerySet[Dataset]:
    """Published datasets with what the export reads, in one query: the owner, and the current version's note
    (``version_note``)."""
    note = DatasetVersion.objects.filter(dataset=OuterRef("pk"), number=OuterRef("version")).values("note")[:1]
    return (search.catalogue_published().select_related("owner")
            .annotate(version_note=Subquery(note)).order_by("identifier"))


def catalogue_graph(datasets: list[Dataset]) -> Graph:
    """The catalogue of ``datasets`` (published ones, see ``published_datasets``), published by the platform's
    data authority (数据主管部门)."""
    graph = _graph()
    catalogue = catalogue_uri()
    graph.add((catalogue, RDF.type, DCAT.Catalog))
    _add_texts(graph, catalogue, DCTERMS.title, CATALOGUE_TITLE)
    _add_texts(graph, catalogue, DCTERMS.description, CATALOGUE_DESCRIPTION)
    publisher = URIRef(f"{catalogue}#publisher")
    graph.add((catalogue, DCTERMS.publisher, publisher))
    graph.add((publisher, RDF.type, FOAF.Agent))
    _add_texts(graph, publisher, FOAF.name, PlatformRoleName.DATA_AUTHORITY.label)
    homepage = _uri("/")
    graph.add((catalogue, FOAF.homepage, homepage))
    graph.add((homepage, RDF.type, FOAF.Document))
    themes = URIRef(AUTHORITY + "data-theme")
    graph.add((catalogue, DCAT.themeTaxonomy, themes))
    graph.add((themes, RDF.type, SKOS.ConceptScheme))
    _add_texts(graph, themes, DCTERMS.title, THEMES_TITLE)
    for code in Language.values:
        graph.add((catalogue, DCTERMS.language, _term(graph, "language", code, DCTERMS.LinguisticSystem)))
    if datasets:
        modified = max(dataset.updated_at for dataset in datasets)
        graph.add((catalogue, DCTERMS.modified, Literal(modified, datatype=XSD.dateTime)))
    related = {dataset.resource_code: dataset.identifier for dataset in datasets if dataset.resource_code}
    for dataset in datasets:
        graph.add((catalogue, DCAT.dataset, _dataset_add(graph, dataset, related)))
    return graph


def dataset_graph(dataset: Dataset) -> Graph:
    """One published dataset's document: the same triples as its part of the catalogue."""
    graph = _graph()
    related: dict[str, str] = {}
    if dataset.related_resources:
        related = dict(Dataset.objects.filter(status=DatasetStatus.PUBLISHED,
                                              resource_code__in=dataset.related_resources)
                       .values_list("resource_code", "identifier"))
    _dataset_add(graph, dataset, related)
    return graph


def _rdf_response(request: HttpRequest, graph: Graph, fmt: str) -> HttpResponse:
    """The graph in ``fmt``, with an ETag over its triples (sorted: JSON-LD's order varies between processes)
    so a harvester's conditional GET costs no transfer."""
    if fmt not in FORMATS:
        raise Http404(_("Use dcat.ttl or dcat.jsonld."))
    rdflib_format, content_type = FORMATS[fmt]
    triples = sorted(graph.serialize(format="nt").splitlines())
    etag = quote_etag(hashlib.sha256("\n".join([fmt, *triples]).encode()).hexdigest()[:32])
    not_modified = get_conditional_response(request, etag=etag)
    if not_modified is not None:
        return not_modified
    options: dict[str, Any] = {"context": JSONLD_CONTEXT, "indent": 2} if fmt == "jsonld" else {}
    response = HttpResponse(graph.serialize(format=rdflib_format, **options).encode(), content_type=content_type)
    response["ETag"] = etag
    response["Access-Control-Allow-Origin"] = "*"  # public metadata: harvesters and browsers may read it
    patch_cache_control(response, public=True, max_age=300)
    return response


@require_safe
def catalogue_rdf(request: HttpRequest, fmt: str) -> HttpResponse:
    """The whole published catalogue: /catalog/dcat.ttl and /catalog/dcat.jsonld."""
    return _rdf_response(request, catalogue_graph(list(published_datasets())), fmt)


@require_safe
def dataset_rdf(request: HttpRequest, identifier: str, fmt: str) -> HttpResponse:
    """One published dataset: /catalog/datasets/<identifier>/dcat.ttl and .jsonld. A draft is as unknown as a
    missing one."""
    dataset = published_datasets().filter(identifier=identifier).first()
    if dataset is None:
        raise Http404(_("There is no published dataset %(identifier)s.") % {"identifier": identifier})
    return _rdf_response(request, dataset_graph(dataset), fmt)
