"""The signed exchange API. Thin: parse, call one service, render; every response is signed."""

from typing import Any

from django.http import HttpRequest
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import AuditEvent
from core.errors import PlatformError
from registry.httpsig import response_sign

from .services import ExchangeRefused, record_read

_ERROR = inline_serializer("Error", {"error": inline_serializer("ErrorBody", {
    "code": serializers.CharField(), "message": serializers.CharField(),
    "detail": serializers.JSONField(allow_null=True)})})


RESPONSE_HEADERS = [
    ("Audit-Event", "The id of this response's audit event (refusals included)."),
    ("Audit-Leaf-Hash", "The event's RFC 6962 leaf hash, hex: prove it against a signed checkpoint."),
    ("Content-Digest", "RFC 9530 sha-256 of the body."),
    ("Signature-Input", 'The platform\'s signature parameters (label "platform").'),
    ("Signature", "The platform's Ed25519 signature over @status, content-digest, the audit headers and "
                  "the request's signature."),
]


def receipt(response: Response, event: AuditEvent) -> None:
    """Name the response's audit event, so the consumer can later prove it against a checkpoint."""
    response["Audit-Event"] = str(event.uid)
    response["Audit-Leaf-Hash"] = event.leaf_hash


class SignedExchangeApi(APIView):
    """Base for the signed exchange: the view verifies the request (in its service); the response,
    success or error, leaves signed by the platform key with its audit receipt."""

    permission_classes = [AllowAny]  # the signature is the authentication; checked in the service

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if isinstance(exc, ExchangeRefused):
            receipt(response, exc.event)
        return response

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        response.render()
        django_request: HttpRequest = request._request
        try:
            response_sign(response, django_request)
        except PlatformError as exc:  # no signing key: fail closed with an unsigned 503 and no data
            response = Response(exc.as_dict(), status=exc.status)
            response = super().finalize_response(request, response, *args, **kwargs)
        return response


class RecordReadApi(SignedExchangeApi):
    @extend_schema(
        operation_id="record_read",
        summary="Read one record's granted fields",
        description=(
            "Returns the fields one of the caller's grants allows (all of them, or those named in `fields`), "
            "under that grant's purpose; grants are never merged. Refused with 400 (bad input, or several "
            "grants and no choice), 401 (signature missing, invalid, replayed, unknown/revoked key), 403 (no "
            "grant, field not granted), 404 (no such dataset or record). Each of these is an audit event whose "
            "id and leaf hash come back in `Audit-Event` and `Audit-Leaf-Hash`; a 503 (audit log, nonce store "
            "or signing key unavailable) may carry neither."
        ),
        parameters=[
            OpenApiParameter("dataset_id", OpenApiTypes.STR, OpenApiParameter.PATH,
                             description="The dataset's identifier."),
            OpenApiParameter("key", OpenApiTypes.STR, OpenApiParameter.PATH,
                             description="The record's lookup key."),
            OpenApiParameter("fields", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False,
                             description="Comma-separated field names; default: every field of the grant. "
                                         "Picks the newest grant that covers them all."),
            OpenApiParameter("grant", OpenApiTypes.INT, OpenApiParameter.QUERY, required=False,
                             description="The grant (and so the purpose) to read under. Needed when you hold "
                                         "several grants for the dataset and name no fields."),
            OpenApiParameter("Signature-Input", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                             description='RFC 9421, e.g. sig1=("@method" "@target-uri");created=...;'
                                         'expires=...;keyid="...";nonce="...";alg="ed25519"'),
            OpenApiParameter("Signature", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                             description="RFC 9421 Ed25519 signature, e.g. sig1=:base64:"),
            *[OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.HEADER, response=True, description=text)
              for name, text in RESPONSE_HEADERS],
        ],
        auth=[{"httpMessageSignature": []}],  # type: ignore[list-item]  # security requirement objects
        responses={
            200: inline_serializer("RecordRead", {
                "dataset": serializers.CharField(), "key": serializers.CharField(),
                "version": serializers.IntegerField(), "updated_at": serializers.DateTimeField(),
                "grant": serializers.IntegerField(help_text="The grant the read was served under."),
                "purpose": serializers.CharField(help_text="That grant's purpose code."),
                "fields": serializers.DictField(child=serializers.JSONField(allow_null=True)),
            }),
            400: OpenApiResponse(_ERROR, description="Bad input, e.g. an unknown field."),
            401: OpenApiResponse(_ERROR, description="The signature is missing, invalid or replayed."),
            403: OpenApiResponse(_ERROR, description="No grant, or a field the grant does not cover."),
            404: OpenApiResponse(_ERROR, description="No such published dataset or record."),
            503: OpenApiResponse(_ERROR, description="Audit log, nonce store or signing key unavailable."),
        },
    )
    def get(self, request: Request, dataset_id: str, key: str) -> Response:
        raw_fields = request.query_params.get("fields")
        fields = [name.strip() for name in raw_fields.split(",") if name.strip()] if raw_fields else None
        result = record_read(request=request._request, dataset_identifier=dataset_id, key=key, fields=fields,
                             grant=request.query_params.get("grant"))
        response = Response(result.body)
        receipt(response, result.event)
        return response
