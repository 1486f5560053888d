"""Public catalogue pages (being built: issue 7)."""
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse


def catalogue_index(request: HttpRequest) -> HttpResponse:
    raise Http404


def dataset_page(request: HttpRequest, identifier: str) -> HttpResponse:
    raise Http404


def dataset_download(request: HttpRequest, identifier: str, fmt: str) -> HttpResponse:
    raise Http404


__all__: list[Any] = []
