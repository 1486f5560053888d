"""The public catalogue's reads: what a dataset is found by (its search text), the ranked and faceted search,
a dataset with what its page shows, and an open dataset's records. The pages (``catalog.views``) and the JSON
API (``catalog.api``) both call these, so they always find, rank and count the same.

Search works the same on PostgreSQL and SQLite with plain ``LIKE`` over ``Dataset.search_text`` (lowercased):
the catalogue holds hundreds to a few thousand datasets, so no full-text index or word segmenter is needed.
Chinese has no spaces between words, so a term is matched as a substring; a longer run of Chinese characters
also matches a dataset holding most of its character pairs (bigrams), so 疫苗记录 still finds 疫苗接种记录.
"""

import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import StrIndex
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual, LessThan
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ErrorCode, PlatformError
from registry.models import Department

from .models import Dataset, DatasetStatus, Field, Grade, Record, ResourceFormat, Sensitivity, Theme, Tier

MAX_QUERY_LENGTH = 200
PAGE_SIZE = 20
MAX_PAGE = 10_000
PREVIEW_ROWS = 20
#: The facets, in the order pages show them; each is also the name of its query parameter.
FACETS = ("department", "tier", "theme", "grade", "format")
#: Rank weights of a term's best match (summed over the terms): the title says most about a dataset.
WEIGHT_TITLE, WEIGHT_KEYWORD, WEIGHT_DESCRIPTION, WEIGHT_ELSEWHERE = 8, 4, 2, 1

_CHOICES: dict[str, Any] = {"tier": Tier, "theme": Theme, "grade": Grade, "format": ResourceFormat}
_HAN = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)")
_TERM_SEPARATORS = re.compile(r"[\s,，、;；。]+")


def search_document(dataset: Dataset) -> str:
    """The text search matches for ``dataset``, lowercased: its keywords on the first line (the ranking
    tells a keyword match by its position before the first line break), then its title, identifier,
    description, department, resource code, area and every field's name and description, one per line."""
    def flat(text: str) -> str:
        return " ".join(text.split())

    rest = [dataset.title, dataset.identifier, dataset.description, dataset.owner.name, dataset.owner.code,
            dataset.resource_code, dataset.spatial]
    rest += [f"{f.name} {f.description}" for f in dataset.fields.all()]
    lines = [flat(" ".join(dataset.keywords))] + [flat(part) for part in rest if part.strip()]
    return "\n".join(lines).lower()


@dataclass(frozen=True)
class CatalogueQuery:
    """A search as the pages and the API take it: text, at most one value per facet, a page number."""

    text: str = ""
    filters: Mapping[str, str] = field(default_factory=dict)
    page: int = 1

    @property
    def terms(self) -> list[str]:
        return [term for term in _TERM_SEPARATORS.split(self.text.lower()) if term]


def catalogue_query_parse(params: Mapping[str, Any]) -> CatalogueQuery:
    """The query parameters q, the facets and page, checked; PlatformError(invalid_input) says what to fix."""
    errors: dict[str, str] = {}
    text = " ".join(str(params.get("q", "")).split())
    if len(text) > MAX_QUERY_LENGTH:
        errors["q"] = _("The search text is longer than %(max)d characters.") % {"max": MAX_QUERY_LENGTH}
    elif not text.isprintable():
        errors["q"] = _("The search text may not contain control characters.")
    filters = {}
    for facet in FACETS:
        value = str(params.get(facet, "")).strip()
        if not value:
            continue
        if facet == "department":
            if not re.fullmatch(r"[-a-zA-Z0-9_]{1,64}", value) or not Department.objects.filter(code=value).exists():
                errors[facet] = _("No department has the code %(code)s.") % {"code": value[:64]}
        elif value not in _CHOICES[facet].values:
            errors[facet] = _("Unknown %(facet)s %(value)s; use one of: %(known)s.") % {
                "facet": facet, "value": value[:64], "known": ", ".join(_CHOICES[facet].values)}
        filters[facet] = value
    raw_page = str(params.get("page", "1")).strip() or "1"
    page = 1
    if not re.fullmatch(r"[0-9]{1,6}", raw_page) or not 1 <= int(raw_page) <= MAX_PAGE:
        errors["page"] = _("page is a whole number from 1 to %(max)d.") % {"max": MAX_PAGE}
    else:
        page = int(raw_page)
    if errors:
        raise PlatformError(ErrorCode.INVALID_INPUT, " ".join(errors.values()), detail=errors)
    return CatalogueQuery(text=text, filters=filters, page=page)


MAX_BIGRAMS = 16


def _contains(text: str) -> Q:
    return Q(search_text__contains=text)  # search_text and the terms are lowercase; LIKE wildcards are escaped


def _bigrams_mostly(run: str) -> Q:
    """More than half of a Chinese run's distinct character pairs occur in the dataset's search text."""
    # At most MAX_BIGRAMS pairs: a query is one SQL expression, and a long run must not overflow its parser.
    bigrams = list(dict.fromkeys(run[i:i + 2] for i in range(len(run) - 1)))[:MAX_BIGRAMS]
    hits: Any = Value(0)
    for bigram in bigrams:
        hits = hits + Case(When(_contains(bigram), then=Value(1)), default=Value(0))
    return Q(GreaterThanOrEqual(hits, len(bigrams) // 2 + 1))


def _term_matches(term: str) -> Q:
    """The term as a substring; or, when it holds a Chinese run of more than two characters, each of its
    parts: that run by most of its bigrams, the other parts as substrings."""
    parts = [part for part in _HAN.split(term) if part]
    if not any(_HAN.fullmatch(part) and len(part) > 2 for part in parts):
        return _contains(term)
    loose = Q()
    for part in parts:
        loose &= _bigrams_mostly(part) if _HAN.fullmatch(part) and len(part) > 2 else _contains(part)
    return _contains(term) | loose


def _term_rank(term: str) -> Case:
    """The weight of the term's best match: title, then keywords (the search text's first line), then
    description, then anywhere else; 0 when only its bigrams matched."""
    position = StrIndex("search_text", Value(term))
    in_keywords = GreaterThan(position, 0) & LessThan(position, StrIndex("search_text", Value("\n")))
    return Case(
        When(title__icontains=term, then=Value(WEIGHT_TITLE)),
        When(in_keywords, then=Value(WEIGHT_KEYWORD)),
        When(description__icontains=term, then=Value(WEIGHT_DESCRIPTION)),
        When(_contains(term), then=Value(WEIGHT_ELSEWHERE)),
        default=Value(0), output_field=IntegerField())


def _facet_condition(facet: str, value: str) -> Q:
    if facet == "theme":  # a JSON list of theme codes (validated, plain capitals): its text holds "CODE"
        return Q(themes__icontains=f'"{value}"')
    column = {"department": "owner__code", "tier": "tier", "grade": "grade", "format": "resource_format"}[facet]
    return Q(**{column: value})


def catalogue_published() -> QuerySet[Dataset]:
    """Every published dataset, of every department and tier: what anyone may find (drafts never)."""
    return Dataset.objects.filter(status=DatasetStatus.PUBLISHED)


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool


@dataclass
class CatalogueResult:
    query: CatalogueQuery
    count: int
    datasets: Sequence[Dataset]
    facets: dict[str, list[FacetValue]]

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // PAGE_SIZE))


def _facets(rows: list[tuple[Any, ...]], query: CatalogueQuery) -> tuple[int, dict[str, list[FacetValue]]]:
    """Standard faceting over the text matches: each facet's counts with the other facets' filters applied.
    Counted in Python over one small query, so the JSON list of themes counts the same on both databases."""
    names: dict[str, str] = {}
    counters: dict[str, Counter[str]] = {facet: Counter() for facet in FACETS}
    total = 0
    for code, name, tier, grade, resource_format, themes in rows:
        names[code] = name
        values = {"department": [code], "tier": [tier], "theme": list(themes or []), "grade": [grade],
                  "format": [resource_format]}
        passes = {facet: value in values[facet] for facet, value in query.filters.items()}
        total += all(passes.values())
        for facet in FACETS:
            if all(ok for other, ok in passes.items() if other != facet):
                counters[facet].update(dict.fromkeys(values[facet], 1))
    facets: dict[str, list[FacetValue]] = {}
    for facet in FACETS:
        selected = query.filters.get(facet)
        if facet == "department":
            order = sorted(names, key=lambda c: (-counters[facet][c], names[c]))
            labels = names
        else:
            order = list(_CHOICES[facet].values)
            labels = {value: str(label) for value, label in _CHOICES[facet].choices}
        facets[facet] = [FacetValue(value, labels.get(value, value), counters[facet][value], value == selected)
                         for value in order if counters[facet][value] or value == selected]
    return total, facets


def catalogue_search(query: CatalogueQuery) -> CatalogueResult:
    """One page of the published datasets matching every term and facet filter, best first, with the facets.

    Two queries: the facet columns of every text match (for the counts and the total), and the page itself
    ranked in SQL (``_term_rank``) with a stable tie-break (newest first, then identifier).
    """
    matched = catalogue_published()
    for term in query.terms:
        matched = matched.filter(_term_matches(term))
    rows = list(matched.order_by().values_list("owner__code", "owner__name", "tier", "grade", "resource_format",
                                               "themes"))
    total, facets = _facets(rows, query)
    page = matched.select_related("owner")
    for facet, value in query.filters.items():
        page = page.filter(_facet_condition(facet, value))
    rank: Any = Value(0)
    for term in query.terms:
        rank = rank + _term_rank(term)
    start = (query.page - 1) * PAGE_SIZE
    datasets = list(page.annotate(rank=rank).order_by("-rank", "-published_at", "identifier")[start:start + PAGE_SIZE]
                    ) if start < total else []
    return CatalogueResult(query=query, count=total, datasets=datasets, facets=facets)


def theme_labels(dataset: Dataset) -> list[tuple[str, str]]:
    """The dataset's themes as (code, label in the current language); unknown codes as they are."""
    labels = dict(Theme.choices)
    return [(code, str(labels.get(code, code))) for code in dataset.themes]


def dataset_uri(identifier: str) -> str:
    """A dataset's stable URI (pages, API and DCAT alike): its public page under ``PLATFORM_BASE_URL``, never
    the request's host."""
    return settings.PLATFORM_BASE_URL + reverse("catalog:dataset", kwargs={"identifier": identifier})


def catalogue_dataset(identifier: str) -> Dataset | None:
    """A published dataset with what its page shows: owner, fields, versions, and ``using_departments``,
    how many departments hold a grant for it that is neither revoked nor expired."""
    in_force = Q(grants__revoked_at=None, grants__valid_until__gt=timezone.now())
    return (catalogue_published().filter(identifier=identifier).select_related("owner")
            .prefetch_related("fields", "versions")
            .annotate(using_departments=Count("grants__consumer__department", filter=in_force, distinct=True))
            .first())


def open_fields(dataset: Dataset) -> list[Field]:
    """The fields an open dataset shows the public. Open data never holds personal information (the publishing
    rules refuse it); personal fields are left out here too, so a rule change can never leak them, and so is
    a subject identifier unless its clerk marked it public (a company's credit code, not a person's ID)."""
    return [f for f in dataset.fields.all()
            if f.sensitivity == Sensitivity.PUBLIC
            or (f.sensitivity == Sensitivity.INTERNAL and not f.is_subject_identifier)]


def open_records(dataset: Dataset, generation: int, *, limit: int | None = None,
                 chunk_size: int = 2000) -> Iterator[dict[str, Any]]:
    """The served records of an open dataset (one records generation, not deleted), by key, as their data.
    Refuses any other tier: records of shared data never reach the public catalogue."""
    if not dataset.is_open or dataset.status != DatasetStatus.PUBLISHED:
        raise PlatformError(ErrorCode.FORBIDDEN, _("Only open data can be previewed or downloaded."))
    records = (Record.objects.filter(dataset=dataset, generation=generation, deleted_at__isnull=True)
               .order_by("key").values_list("data", flat=True))
    if limit is not None:
        yield from records[:limit]
    else:
        yield from records.iterator(chunk_size=chunk_size)


def open_records_count(dataset: Dataset, generation: int) -> int:
    return Record.objects.filter(dataset=dataset, generation=generation, deleted_at__isnull=True).count()

