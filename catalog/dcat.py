"""DCAT-AP 3 export (being built: issue 7)."""
from django.http import Http404, HttpRequest, HttpResponse


def catalogue_rdf(request: HttpRequest, fmt: str) -> HttpResponse:
    raise Http404


def dataset_rdf(request: HttpRequest, identifier: str, fmt: str) -> HttpResponse:
    raise Http404
