"""The catalogue API (``/api/v1/catalog/``): the public catalogue's metadata as JSON, for anyone, unsigned.

The same search, ranking and facets as the pages (``catalog.search``); plain dicts, no ModelSerializer.
Records are not served here: open data is downloaded from the dataset's page, shared data through the
signed exchange API.
"""

import copy
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ErrorCode, PlatformError, error_responses

from .models import Dataset, FieldType, Grade, ResourceFormat, Sensitivity, Theme, Tier
from .search import (
    FACETS,
    MAX_QUERY_LENGTH,
    PAGE_SIZE,
    catalogue_dataset,
    catalogue_query_parse,
    catalogue_search,
    dataset_uri,
)
from .services import METADATA_FIELDS

#: The metadata the detail adds to a search result's (resource_format is the result's "format").
DETAIL_METADATA = [name for name in METADATA_FIELDS if name not in (
    "title", "description", "keywords", "themes", "grade", "personal_data", "resource_format", "update_frequency")]


def _absolute(path: str) -> str:
    return settings.PLATFORM_BASE_URL + path


def dataset_summary(dataset: Dataset) -> dict[str, Any]:
    """What a search result says about a dataset."""
    return {
        "identifier": dataset.identifier,
        "uri": dataset_uri(dataset.identifier),
        "title": dataset.title,
        "description": dataset.description,
        "keywords": dataset.keywords,
        "themes": dataset.themes,
        "department": {"code": dataset.owner.code, "name": dataset.owner.name},
        "tier": dataset.tier,
        "is_open": dataset.is_open,
        "grade": dataset.grade,
        "personal_data": dataset.personal_data,
        "format": dataset.resource_format,
        "update_frequency": dataset.update_frequency,
        "version": dataset.version,
        "published_at": dataset.published_at,
        "updated_at": dataset.updated_at,
    }


def dataset_detail(dataset: Dataset) -> dict[str, Any]:
    """A dataset's whole public description: its metadata, fields, versions, how many departments use it."""
    identifier = dataset.identifier
    links = {f"dcat_{fmt}": _absolute(reverse("catalog:dataset_dcat", kwargs={"identifier": identifier, "fmt": fmt}))
             for fmt in ("ttl", "jsonld")}
    if dataset.is_open:
        links |= {fmt: _absolute(reverse("catalog:download", kwargs={"identifier": identifier, "fmt": fmt}))
                  for fmt in ("csv", "json")}
    return {
        **dataset_summary(dataset),
        **{name: getattr(dataset, name) for name in DETAIL_METADATA},
        "using_departments": dataset.using_departments,  # type: ignore[attr-defined]  # catalogue_dataset's
        "fields": [{"name": f.name, "type": f.type, "description": f.description, "sensitivity": f.sensitivity,
                    "is_lookup_key": f.is_lookup_key} for f in dataset.fields.all()],
        "versions": [{"number": v.number, "tier": v.tier, "note": v.note, "published_at": v.published_at}
                     for v in dataset.versions.all()],
        "links": links,
    }


def _choice(choices: Any) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=choices.choices)


_DEPARTMENT = inline_serializer("CatalogueDepartment", {"code": serializers.CharField(),
                                                        "name": serializers.CharField()})
_SUMMARY_FIELDS: dict[str, Any] = {
    "identifier": serializers.SlugField(),
    "uri": serializers.URLField(help_text=_("The dataset's stable URI (its public page).")),
    "title": serializers.CharField(),
    "description": serializers.CharField(),
    "keywords": serializers.ListField(child=serializers.CharField()),
    "themes": serializers.ListField(child=_choice(Theme)),
    "department": _DEPARTMENT,
    "tier": _choice(Tier),
    "is_open": serializers.BooleanField(),
    "grade": _choice(Grade),
    "personal_data": serializers.BooleanField(),
    "format": _choice(ResourceFormat),
    "update_frequency": serializers.CharField(),
    "version": serializers.IntegerField(),
    "published_at": serializers.DateTimeField(allow_null=True),
    "updated_at": serializers.DateTimeField(),
}


_FACET_VALUES = inline_serializer("CatalogueFacetValue", {
    "value": serializers.CharField(), "label": serializers.CharField(help_text=_("In the caller's language.")),
    "count": serializers.IntegerField(), "selected": serializers.BooleanField()}, many=True)
_LIST = inline_serializer("CatalogueSearch", {
    "count": serializers.IntegerField(help_text=_("How many datasets match.")),
    "page": serializers.IntegerField(),
    "pages": serializers.IntegerField(),
    "results": inline_serializer("CatalogueDataset", _SUMMARY_FIELDS, many=True),
    "facets": inline_serializer("CatalogueFacets", {
        facet: copy.deepcopy(_FACET_VALUES) for facet in FACETS}),  # a field is bound to one parent
})
_DETAIL = inline_serializer("CatalogueDatasetDetail", {
    **_SUMMARY_FIELDS,
    **{name: serializers.JSONField() for name in DETAIL_METADATA},
    "using_departments": serializers.IntegerField(
        help_text=_("How many departments hold a grant for it that is neither revoked nor expired.")),
    "fields": inline_serializer("CatalogueField", {
        "name": serializers.CharField(), "type": _choice(FieldType), "description": serializers.CharField(),
        "sensitivity": _choice(Sensitivity), "is_lookup_key": serializers.BooleanField()}, many=True),
    "versions": inline_serializer("CatalogueVersion", {
        "number": serializers.IntegerField(), "tier": _choice(Tier), "note": serializers.CharField(),
        "published_at": serializers.DateTimeField()}, many=True),
    "links": serializers.DictField(child=serializers.URLField(), help_text=_(
        "dcat_ttl and dcat_jsonld (its DCAT-AP 3 description); for open data also csv and json (downloads).")),
})


class CatalogueApi(APIView):
    """Public metadata: anyone may read it, with no authentication at all."""

    permission_classes = [AllowAny]
    authentication_classes = []


class DatasetListApi(CatalogueApi):
    error_codes = (ErrorCode.INVALID_INPUT, ErrorCode.NOT_ACCEPTABLE)

    @extend_schema(
        operation_id="catalog_datasets_search",
        summary=_("Search the catalogue"),
        description=_(
            "The published datasets of every department, best match first, with facet counts. Every word of `q` "
            "must match (Chinese words also inside longer ones); a match in the title ranks above one in the "
            "keywords, then the description, then the fields. Each facet counts the matches with the other "
            "facets' filters applied."),
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, required=False, description=format_lazy(
                _("Search words, separated by spaces; at most {max} characters."), max=MAX_QUERY_LENGTH)),
            OpenApiParameter("department", OpenApiTypes.STR, required=False,
                             description=_("A providing department's code.")),
            OpenApiParameter("tier", OpenApiTypes.STR, required=False, enum=Tier.values),
            OpenApiParameter("theme", OpenApiTypes.STR, required=False, enum=Theme.values),
            OpenApiParameter("grade", OpenApiTypes.STR, required=False, enum=Grade.values),
            OpenApiParameter("format", OpenApiTypes.STR, required=False, enum=ResourceFormat.values),
            OpenApiParameter("page", OpenApiTypes.INT, required=False, description=format_lazy(
                _("Page number, from 1; {size} datasets a page."), size=PAGE_SIZE)),
        ],
        responses={200: _LIST, **error_responses(error_codes)},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        result = catalogue_search(catalogue_query_parse(request.query_params))
        return Response({
            "count": result.count, "page": result.query.page, "pages": result.pages,
            "results": [dataset_summary(dataset) for dataset in result.datasets],
            "facets": {facet: [{"value": v.value, "label": v.label, "count": v.count, "selected": v.selected}
                               for v in values] for facet, values in result.facets.items()},
        })


class DatasetDetailApi(CatalogueApi):
    error_codes = (ErrorCode.DATASET_NOT_FOUND, ErrorCode.NOT_ACCEPTABLE)

    @extend_schema(
        operation_id="catalog_dataset_read",
        summary=_("A published dataset's metadata"),
        description=_("Its DCAT-AP and 政务信息资源目录 metadata, fields (name, type, description, sensitivity), "
                      "versions and how many departments use it. Records are never served here."),
        parameters=[OpenApiParameter("identifier", OpenApiTypes.STR, OpenApiParameter.PATH,
                                     description=_("The dataset's identifier."))],
        responses={200: _DETAIL, **error_responses(error_codes)},
        auth=[],
    )
    def get(self, request: Request, identifier: str) -> Response:
        dataset = catalogue_dataset(identifier)
        if dataset is None:
            raise PlatformError(ErrorCode.DATASET_NOT_FOUND)
        return Response(dataset_detail(dataset))
