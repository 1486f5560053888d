"""The public catalogue's pages, server-rendered for anyone, signed in or not: search with facets, a dataset's
page, and an open dataset's downloads. The metadata and schema of every published dataset are public; records
only of open data (``catalog.search.open_records``)."""

import csv
import logging
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlencode

import orjson
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from core.errors import PlatformError
from registry.policy import Perm, allows

from .imports.values import value_text
from .models import Dataset, Field, Tier
from .search import (
    FACETS,
    PAGE_SIZE,
    PREVIEW_ROWS,
    CatalogueQuery,
    CatalogueResult,
    catalogue_dataset,
    catalogue_published,
    catalogue_query_parse,
    catalogue_search,
    dataset_uri,
    open_fields,
    open_records,
    open_records_count,
    theme_labels,
)
from .services import dataset_download_record

logger = logging.getLogger(__name__)

FACET_TITLES = {"department": _("Providing department"), "tier": _("Sharing tier"), "theme": _("Theme"),
                "grade": _("Classification grade"), "format": _("Format")}
#: The request button of a dataset's page, by tier: a subscription is granted at once, a conditional request is
#: decided by the providing department, and a request for data that is not shared is answered at once and
#: recorded as demand (共享需求). Open data needs no request.
REQUEST_BUTTONS: dict[str, Promise] = {Tier.UNCONDITIONAL: _("Subscribe"), Tier.CONDITIONAL: _("Request access"),
                   Tier.NOT_SHARED: _("Register a demand")}
ROWS_PER_CHUNK = 1000


def _query_url(request: HttpRequest, query: CatalogueQuery, **changes: Any) -> str:
    """This page's address with the search as it is, changed as told (None removes a parameter)."""
    params: dict[str, Any] = {"q": query.text, **query.filters, **changes}
    kept = {name: value for name, value in params.items() if value not in (None, "")}
    return request.path + ("?" + urlencode(kept) if kept else "")


def _facet_links(request: HttpRequest, result: CatalogueResult) -> list[dict[str, Any]]:
    """Each facet's values as links: a value adds its filter (back to page 1), a selected one removes it."""
    return [{"name": facet, "title": FACET_TITLES[facet],
             "values": [{"value": v, "url": _query_url(request, result.query, **{facet: None if v.selected
                                                                                 else v.value})}
                        for v in result.facets[facet]]}
            for facet in FACETS if result.facets[facet]]


def catalogue_index(request: HttpRequest) -> HttpResponse:
    try:
        query = catalogue_query_parse(request.GET)
    except PlatformError as exc:
        return render(request, "catalog/index.html", {"query": CatalogueQuery(), "error": exc.message},
                      status=exc.status)
    result = catalogue_search(query)
    page = query.page
    context = {
        "query": query,
        "result": result,
        "hits": [{"dataset": d, "themes": theme_labels(d)} for d in result.datasets],
        "facets": _facet_links(request, result),
        "active_filters": [{"title": FACET_TITLES[facet], "label": v.label, "url": _query_url(request, query,
                                                                                            **{facet: None})}
                           for facet in FACETS for v in result.facets[facet] if v.selected],
        "first": (page - 1) * PAGE_SIZE + 1,
        "last": min(page * PAGE_SIZE, result.count),
        "previous_url": _query_url(request, query, page=page - 1) if page > 1 else None,
        "next_url": _query_url(request, query, page=page + 1) if page < result.pages else None,
    }
    return render(request, "catalog/index.html", context)


def _refusal(request: HttpRequest, status: int, title: Any, message: Any, dataset: Dataset | None = None
             ) -> HttpResponse:
    return render(request, "catalog/refusal.html", {"title": title, "message": message, "dataset": dataset},
                  status=status)


def _not_found(request: HttpRequest) -> HttpResponse:
    return _refusal(request, 404, _("Dataset not found"),
                    _("No published dataset has this identifier. It may not be published yet, or its address "
                      "was mistyped: search the catalogue for it."))


def dataset_page(request: HttpRequest, identifier: str) -> HttpResponse:
    dataset = catalogue_dataset(identifier)
    if dataset is None:
        return _not_found(request)
    user = request.user
    signed_in = bool(user.is_authenticated)
    context: dict[str, Any] = {
        "dataset": dataset,
        "uri": dataset_uri(dataset.identifier),
        "fields": list(dataset.fields.all()),
        "versions": list(dataset.versions.all()),
        "themes": theme_labels(dataset),
        "dcat_links": [(fmt, media, reverse("catalog:dataset_dcat", kwargs={"identifier": identifier, "fmt": fmt}))
                       for fmt, media in (("ttl", "text/turtle"), ("jsonld", "application/ld+json"))],
        "request_url": (reverse("admin:exchange_accessrequest_add") + f"?dataset={dataset.pk}"
                        if dataset.tier in REQUEST_BUTTONS and allows(user, Perm.REQUEST_FILE) else None),
        "request_label": REQUEST_BUTTONS.get(dataset.tier),
        "manage_url": (reverse("admin:catalog_dataset_change", args=[dataset.pk])
                       if signed_in and allows(user, Perm.DATASET_MANAGE, dataset) else None),
    }
    if dataset.is_open:
        columns = open_fields(dataset)
        records = open_records(dataset, dataset.records_generation, limit=PREVIEW_ROWS)
        context.update(columns=columns, preview=[[value_text(data.get(f.name)) for f in columns] for data in records],
                       rows=open_records_count(dataset, dataset.records_generation),
                       downloads=[(fmt, reverse("catalog:download", kwargs={"identifier": identifier, "fmt": fmt}))
                                  for fmt in ("csv", "json")])
    return render(request, "catalog/dataset.html", context)


class _Echo:
    """csv.writer writes into this and gets the line back, so rows can be streamed."""

    def write(self, value: str) -> str:
        return value


def _csv_chunks(columns: list[Field], records: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """UTF-8 with a byte order mark, so Excel in Chinese opens it as UTF-8 rather than GBK."""
    writer = csv.writer(_Echo())
    yield ("\ufeff" + writer.writerow([f.name for f in columns])).encode()
    lines: list[str] = []
    for data in records:
        lines.append(writer.writerow([value_text(data.get(f.name)) for f in columns]))
        if len(lines) == ROWS_PER_CHUNK:
            yield "".join(lines).encode()
            lines = []
    if lines:
        yield "".join(lines).encode()


def _json_chunks(dataset: Dataset, columns: list[Field], records: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """One JSON object: the dataset's identifier, version, licence and field names, then its records."""
    head = orjson.dumps({"dataset": dataset.identifier, "title": dataset.title, "version": dataset.version,
                         "licence": dataset.licence, "uri": dataset_uri(dataset.identifier),
                         "fields": [f.name for f in columns]})
    yield head[:-1] + b',"records":['
    chunk: list[bytes] = []
    first = True
    for data in records:
        chunk.append((b"" if first else b",") + orjson.dumps({f.name: data.get(f.name) for f in columns}))
        first = False
        if len(chunk) == ROWS_PER_CHUNK:
            yield b"".join(chunk)
            chunk = []
    yield b"".join(chunk) + b"]}"


@require_GET  # a download is audited: HEAD, which would record one without serving it, is refused
def dataset_download(request: HttpRequest, identifier: str, fmt: str) -> HttpResponseBase:
    """An open dataset's records as CSV or JSON, streamed. Every download is an audit event, committed before
    the first byte leaves: if it cannot be written, nothing is served (503)."""
    dataset = catalogue_published().select_related("owner").prefetch_related("fields").filter(
        identifier=identifier).first()
    if dataset is None:
        return _not_found(request)
    if not dataset.is_open:
        return _refusal(request, 403, _("Not open data"),
                        _("Only open data can be downloaded. This dataset's sharing tier is %(tier)s: its "
                          "description and fields are public, its records are not.")
                        % {"tier": dataset.get_tier_display()}, dataset)
    generation = dataset.records_generation
    try:
        dataset_download_record(dataset=dataset, generation=generation, user=request.user, fmt=fmt)
    except PlatformError as exc:
        logger.exception("the download of %s could not be audited; nothing was served", dataset.identifier)
        return _refusal(request, exc.status, _("Download unavailable"), exc.message, dataset)
    columns = open_fields(dataset)
    records = open_records(dataset, generation)
    if fmt == "csv":
        response = StreamingHttpResponse(_csv_chunks(columns, records), content_type="text/csv; charset=utf-8")
    else:
        response = StreamingHttpResponse(_json_chunks(dataset, columns, records), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{dataset.identifier}.{fmt}"'
    return response
