"""The baselines of figure 1: the same record, read without the exchange's signatures, grants or audit.

``BareRecordView`` is the least Django can do: one ORM query and a JSON body. ``TokenRecordApi`` is
what a conventional DRF API would do: TokenAuthentication, IsAuthenticated, the same query. Both
answer with the signed read's body shape for the same fields, so every row moves the same bytes.
Served only by ``bench.urls`` (bench settings), never by the platform's URLs.
"""

from typing import Any

import orjson
from django.http import Http404, HttpRequest, HttpResponse
from rest_framework.authentication import TokenAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import DatasetStatus, Record


def _record_body(dataset_id: str, key: str, fields: str | None) -> dict[str, Any]:
    record = (Record.objects.select_related("dataset")
              .filter(dataset__identifier=dataset_id, dataset__status=DatasetStatus.PUBLISHED, key=key,
                      deleted_at__isnull=True)
              .first())
    if record is None:
        raise Http404
    names = [name for name in (fields or "").split(",") if name] or list(record.data)
    return {"dataset": record.dataset.identifier, "key": record.key, "version": record.version,
            "updated_at": record.updated_at.isoformat(), "fields": {name: record.data.get(name) for name in names}}


def bare_record_view(request: HttpRequest, dataset_id: str, key: str) -> HttpResponse:
    return HttpResponse(orjson.dumps(_record_body(dataset_id, key, request.GET.get("fields"))),
                        content_type="application/json")


class TokenRecordApi(APIView):
    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request, dataset_id: str, key: str) -> Response:
        return Response(_record_body(dataset_id, key, request.query_params.get("fields")))
