"""The signed exchange API. Thin: parse, call one service, render; every response is signed."""

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import AuditEvent
from core.errors import ErrorCode, PlatformError, error_responses
from registry.httpsig import response_sign

from .services import ExchangeRefused, record_read

RESPONSE_HEADERS = [
    ("Audit-Event", _("The id of this response's audit event (refusals included).")),
    ("Audit-Leaf-Hash", _("The event's RFC 6962 leaf hash, hex: prove it against a signed checkpoint.")),
    ("Content-Digest", _("RFC 9530 sha-256 of the body.")),
    ("Cache-Control", _("Always no-store: records are citizens' data, and no cache may keep a copy.")),
    ("Signature-Input", _('The platform\'s signature parameters (label "platform").')),
    ("Signature", _("The platform's Ed25519 signature over @status, content-digest, the audit headers and "
                    "the request's signature.")),
]

# Every error the signed record read can answer with; its OpenAPI responses are built from this list.
RECORD_READ_ERRORS = (
    # Bad input (400): refused after the signature is verified, and audited.
    ErrorCode.INVALID_CHARACTERS, ErrorCode.BAD_GRANT, ErrorCode.UNKNOWN_FIELD, ErrorCode.SEVERAL_GRANTS,
    # The signature and its key (401, registry.httpsig).
    ErrorCode.SIGNATURE_MISSING, ErrorCode.SIGNATURE_INVALID, ErrorCode.SIGNATURE_PARAMETERS_MISSING,
    ErrorCode.SIGNATURE_LIFETIME_TOO_LONG, ErrorCode.NONCE_INVALID, ErrorCode.REPLAYED, ErrorCode.UNKNOWN_KEY,
    ErrorCode.KEY_REVOKED, ErrorCode.KEY_NOT_VALID, ErrorCode.SYSTEM_INACTIVE,
    # The grant (403).
    ErrorCode.NO_GRANT, ErrorCode.FIELD_NOT_GRANTED, ErrorCode.GRANT_SUSPENDED, ErrorCode.GRANT_REVOKED,
    # Not found (404).
    ErrorCode.DATASET_NOT_FOUND, ErrorCode.RECORD_NOT_FOUND,
    # An Accept header that excludes JSON (406, DRF's content negotiation).
    ErrorCode.NOT_ACCEPTABLE,
    # Unexpected (500, govplatform.views.server_error; unsigned).
    ErrorCode.INTERNAL_ERROR,
    # Fail closed (503): key registry, nonce store, audit log, platform signing key.
    ErrorCode.UNAVAILABLE, ErrorCode.NONCE_STORE_UNAVAILABLE, ErrorCode.AUDIT_UNAVAILABLE,
    ErrorCode.SIGNING_KEY_UNAVAILABLE,
)
# The statuses whose answers can carry the platform's signature and the audit receipt (not a 500).
SIGNED_STATUSES = sorted({200, *(code.status for code in RECORD_READ_ERRORS)} - {ErrorCode.INTERNAL_ERROR.status})


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
        # Records are citizens' data: no cache on the way (a proxy, the consumer's HTTP library) keeps a copy.
        response["Cache-Control"] = "no-store"
        response.render()
        django_request: HttpRequest = request._request
        try:
            response_sign(response, django_request)
        except PlatformError as exc:  # no signing key: fail closed with an unsigned 503 and no data
            response = Response(exc.as_dict(), status=exc.status)
            response = super().finalize_response(request, response, *args, **kwargs)
            response["Cache-Control"] = "no-store"
        return response


class RecordReadApi(SignedExchangeApi):
    error_codes = RECORD_READ_ERRORS

    @extend_schema(
        operation_id="record_read",
        summary=_("Read one record's granted fields"),
        description=_(
            "Returns the fields one of the caller's grants allows (all of them, or those named in `fields`), "
            "under that grant's purpose; grants are never merged. A refusal (400, 401, 403, 404, and a 503 of "
            "the key registry or the nonce store) is an audit event whose id and leaf hash come back in "
            "`Audit-Event` and `Audit-Leaf-Hash`; a 406, a 500 and a 503 of the audit log or the signing key "
            "carry neither. Every answer is signed by the platform key except a 500 and a 503 for want of that "
            "key. An error's `message` follows Accept-Language; its `code` does not."
        ),
        parameters=[
            OpenApiParameter("dataset_id", OpenApiTypes.STR, OpenApiParameter.PATH,
                             description=_("The dataset's identifier.")),
            OpenApiParameter("key", OpenApiTypes.STR, OpenApiParameter.PATH,
                             description=_("The record's lookup key.")),
            OpenApiParameter("fields", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False,
                             description=_("Comma-separated field names; default: every field of the grant. "
                                           "Picks the newest grant that covers them all.")),
            OpenApiParameter("grant", OpenApiTypes.INT, OpenApiParameter.QUERY, required=False,
                             description=_("The grant (and so the purpose) to read under. Needed when you hold "
                                           "several grants for the dataset and name no fields.")),
            OpenApiParameter("Signature-Input", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                             description=_('RFC 9421, e.g. sig1=("@method" "@target-uri");created=...;'
                                           'expires=...;keyid="...";nonce="...";alg="ed25519"')),
            OpenApiParameter("Signature", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                             description=_("RFC 9421 Ed25519 signature, e.g. sig1=:base64:")),
            *[OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.HEADER, response=SIGNED_STATUSES,
                               description=text)
              for name, text in RESPONSE_HEADERS],
        ],
        auth=[{"httpMessageSignature": []}],  # type: ignore[list-item]  # security requirement objects
        responses={
            200: inline_serializer("RecordRead", {
                "dataset": serializers.CharField(), "key": serializers.CharField(),
                "version": serializers.IntegerField(), "updated_at": serializers.DateTimeField(),
                "grant": serializers.IntegerField(help_text=_("The grant the read was served under.")),
                "purpose": serializers.CharField(help_text=_("That grant's purpose code.")),
                "fields": serializers.DictField(child=serializers.JSONField(allow_null=True)),
            }),
            **error_responses(error_codes),
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
