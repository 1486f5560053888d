"""The systems' API. Thin: parse, call one service, render; every answer is signed and audited."""

import base64
import functools
from typing import Any

from django.http import FileResponse, HttpRequest
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import APIException
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.events import EventType
from core.errors import ErrorCode, PlatformError, error_responses, platform_error
from registry.httpsig import response_sign

from .exports import export_download, export_status, exports_create
from .gateway import ExchangeRefused, caller_verify, refusal_counted
from .push import MAX_OPERATIONS, records_push
from .reads import (
    LIST_LIMIT_DEFAULT,
    LIST_LIMIT_MAX,
    LOOKUP_MAX_KEYS,
    grants_mine,
    record_read,
    records_list,
    records_lookup,
)

RESPONSE_HEADERS = [
    ("Audit-Event", _("The id of this answer's audit event, refusals included. A refusal of a caller the platform "
                      "could not verify is counted with the others from its address in one event per window: "
                      "this names that event, written when the window closes, and no leaf hash is given.")),
    ("Audit-Leaf-Hash", _("The event's RFC 6962 leaf hash, hex: prove it against a signed checkpoint.")),
    ("Content-Digest", _("RFC 9530 sha-256 of the body.")),
    ("Cache-Control", _("Always no-store: records are citizens' data, and no cache may keep a copy.")),
    ("Signature-Input", _('The platform\'s signature parameters (label "platform").')),
    ("Signature", _("The platform's Ed25519 signature over @status, content-digest, the audit headers and "
                    "the request's signature.")),
]
RETRY_AFTER = ("Retry-After", _("On a 429: the seconds to wait (the rate window's end, or midnight Beijing time "
                                "for a grant's daily quota)."))

# What the front door (exchange.gateway) can refuse on every call, before the operation's own checks.
GATEWAY_ERRORS = (
    ErrorCode.INVALID_INPUT, ErrorCode.TOO_MANY_PARAMETERS, ErrorCode.PAYLOAD_TOO_LARGE, ErrorCode.URI_TOO_LONG,
    ErrorCode.RATE_LIMITED,
    ErrorCode.SIGNATURE_MISSING, ErrorCode.SIGNATURE_INVALID, ErrorCode.SIGNATURE_PARAMETERS_MISSING,
    ErrorCode.SIGNATURE_LIFETIME_TOO_LONG, ErrorCode.NONCE_INVALID, ErrorCode.REPLAYED, ErrorCode.UNKNOWN_KEY,
    ErrorCode.KEY_REVOKED, ErrorCode.KEY_NOT_VALID, ErrorCode.SYSTEM_INACTIVE,
    # An Accept header that excludes JSON (406, DRF's content negotiation).
    ErrorCode.NOT_ACCEPTABLE,
    # Unexpected (500, govplatform.views.server_error; unsigned).
    ErrorCode.INTERNAL_ERROR,
    # Fail closed (503): key registry, nonce store, rate-limit store, audit log, platform signing key.
    ErrorCode.UNAVAILABLE, ErrorCode.NONCE_STORE_UNAVAILABLE, ErrorCode.RATE_LIMIT_UNAVAILABLE,
    ErrorCode.AUDIT_UNAVAILABLE, ErrorCode.SIGNING_KEY_UNAVAILABLE,
)
# Choosing the dataset and the one grant a read is served under (exchange.reads.terms_for).
GRANT_ERRORS = (
    ErrorCode.INVALID_CHARACTERS, ErrorCode.BAD_GRANT, ErrorCode.UNKNOWN_FIELD, ErrorCode.SEVERAL_GRANTS,
    ErrorCode.NO_GRANT, ErrorCode.FIELD_NOT_GRANTED, ErrorCode.GRANT_SUSPENDED, ErrorCode.GRANT_REVOKED,
    ErrorCode.DATASET_NOT_FOUND, ErrorCode.QUOTA_EXCEEDED,
)
RECORD_READ_ERRORS = (*GATEWAY_ERRORS, *GRANT_ERRORS, ErrorCode.RECORD_NOT_FOUND)
RECORDS_LIST_ERRORS = (*GATEWAY_ERRORS, *GRANT_ERRORS, ErrorCode.BAD_LIMIT, ErrorCode.BAD_CURSOR,
                       ErrorCode.FILTER_NOT_ALLOWED)
RECORDS_LOOKUP_ERRORS = (*GATEWAY_ERRORS, *GRANT_ERRORS, ErrorCode.INVALID_JSON, ErrorCode.TOO_MANY_KEYS)
GRANTS_ERRORS = GATEWAY_ERRORS


def signed_statuses(codes: tuple[ErrorCode, ...], ok: int = 200) -> list[int]:
    """The statuses whose answers carry the platform's signature and the audit receipt (not a 500)."""
    return sorted({ok, *(code.status for code in codes)} - {ErrorCode.INTERNAL_ERROR.status})


SIGNATURE_PARAMETERS = [
    OpenApiParameter("Signature-Input", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                     description=_('RFC 9421, e.g. sig1=("@method" "@target-uri");created=...;'
                                   'expires=...;keyid="...";nonce="...";alg="ed25519"; with a body, '
                                   '"content-digest" is covered too.')),
    OpenApiParameter("Signature", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                     description=_("RFC 9421 Ed25519 signature, e.g. sig1=:base64:")),
]
OPEN_SIGNATURE_PARAMETERS = [
    OpenApiParameter(parameter.name, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
                     description=format_lazy("{} {}", _("Required unless the dataset is open data (then optional; "
                                                         "verified when sent)."), parameter.description))
    for parameter in SIGNATURE_PARAMETERS
]


def response_headers(codes: tuple[ErrorCode, ...], ok: int = 200) -> list[OpenApiParameter]:
    statuses = signed_statuses(codes, ok)
    headers = [OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.HEADER, response=statuses,
                                description=text) for name, text in RESPONSE_HEADERS]
    if 429 in statuses:
        headers.append(OpenApiParameter(RETRY_AFTER[0], OpenApiTypes.INT, OpenApiParameter.HEADER,
                                        response=[429], description=RETRY_AFTER[1]))
    return headers


def _dataset_parameter() -> OpenApiParameter:
    return OpenApiParameter("dataset_id", OpenApiTypes.STR, OpenApiParameter.PATH,
                            description=_("The dataset's identifier."))


def _fields_parameter() -> OpenApiParameter:
    return OpenApiParameter("fields", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False,
                            description=_("Comma-separated field names; default: every field of the grant. "
                                          "Picks the newest grant that covers them all."))


def _grant_parameter() -> OpenApiParameter:
    return OpenApiParameter("grant", OpenApiTypes.INT, OpenApiParameter.QUERY, required=False,
                            description=_("The grant (and so the purpose) to read under. Needed when you hold "
                                          "several grants for the dataset and name no fields."))


_FIELDS = serializers.DictField(child=serializers.JSONField(allow_null=True),
                                help_text=_("The served fields, masked as the grant says."))
_MASKING = serializers.DictField(child=serializers.CharField(), help_text=_(
    "The fields served masked, and how: partial, generalise, pseudonym or redact."))
@functools.cache  # one component, however many answers carry it
def _records() -> Any:
    return inline_serializer("ServedRecord", {
        "key": serializers.CharField(allow_null=True, help_text=_(
            "The record's key; in a list, null unless the grant serves the key field unmasked.")),
        "version": serializers.IntegerField(), "updated_at": serializers.DateTimeField(),
        "fields": _FIELDS,
    }, many=True)


def _served(name: str, extra: dict[str, Any]) -> Any:
    return inline_serializer(name, {
        "dataset": serializers.CharField(),
        "grant": serializers.IntegerField(allow_null=True, help_text=_(
            "The grant the answer was served under; null for open data.")),
        "purpose": serializers.CharField(allow_null=True, help_text=_("That grant's purpose code.")),
        "masking": _MASKING, **extra})


def receipt(response: Response, exc_or_result: Any) -> None:
    """Name the answer's audit event, so the consumer can later prove it against a checkpoint."""
    event = getattr(exc_or_result, "event", None)
    if event is not None:
        response["Audit-Event"] = str(event.uid)
        response["Audit-Leaf-Hash"] = event.leaf_hash
    elif getattr(exc_or_result, "receipt", ""):
        response["Audit-Event"] = exc_or_result.receipt


class SignedExchangeApi(APIView):
    """Base for the systems' API: the service lets the caller in (exchange.gateway); the answer, success
    or error, leaves signed by the platform key with its audit receipt."""

    permission_classes = [AllowAny]  # the signature is the authentication; checked in the service

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if isinstance(exc, ExchangeRefused):
            receipt(response, exc)
            for name, value in exc.headers.items():
                response[name] = value
        elif isinstance(exc, APIException) and (error := platform_error(exc)) is not None:
            # Refused by DRF before any service ran (a method this address does not take, an Accept header
            # that excludes JSON): counted like any refusal of a caller not yet verified.
            try:
                receipt(response, refusal_counted(self.request._request, error))
            except PlatformError as unavailable:
                return super().handle_exception(unavailable)
        return response

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        # Records are citizens' data: no cache on the way (a proxy, the consumer's HTTP library) keeps a copy.
        response["Cache-Control"] = "no-store"
        if response.streaming:  # an export's file: its Content-Digest is the digest the signed status and the log name
            return response
        response.render()
        django_request: HttpRequest = request._request
        try:
            response_sign(response, django_request)
        except PlatformError as exc:  # no signing key: fail closed with an unsigned 503 and no data
            response = Response(exc.as_dict(), status=exc.status)
            response = super().finalize_response(request, response, *args, **kwargs)
            response["Cache-Control"] = "no-store"
        return response

    @staticmethod
    def answer(result: Any, status: int = 200) -> Response:
        response = Response(result.body, status=status)
        receipt(response, result)
        return response


_COMMON = _(
    "Every answer is signed by the platform key (except a 500, and a 503 for want of that key) and names its "
    "audit event in `Audit-Event`. An error's `message` follows Accept-Language; its `code` does not.")


class GrantsApi(SignedExchangeApi):
    error_codes = GRANTS_ERRORS

    @extend_schema(
        operation_id="grants_mine",
        summary=_("My grants: what this system may read"),
        description=format_lazy("{} {}", _(
            "The calling system's grants that are in force, not yet in force or suspended: dataset, purpose, fields, "
            "masking, row filter, validity and today's quota."), _COMMON),
        parameters=[*SIGNATURE_PARAMETERS, *response_headers(GRANTS_ERRORS)],
        auth=[{"httpMessageSignature": []}],  # type: ignore[list-item]  # security requirement objects
        responses={200: inline_serializer("MyGrants", {
            "system": serializers.CharField(),
            "grants": inline_serializer("MyGrant", {
                "id": serializers.IntegerField(), "dataset": serializers.CharField(),
                "dataset_title": serializers.CharField(), "provider": serializers.CharField(),
                "purpose": serializers.CharField(), "purpose_text": serializers.CharField(),
                "fields": serializers.ListField(child=serializers.CharField()),
                "masking": _MASKING,
                "row_filter": serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                                    help_text=_("Only records whose field is one of these values.")),
                "valid_from": serializers.DateTimeField(), "valid_until": serializers.DateTimeField(),
                "state": serializers.ChoiceField(choices=["active", "pending", "suspended"]),
                "suspension_reason": serializers.CharField(),
                "daily_quota": serializers.IntegerField(allow_null=True),
                "used_today": serializers.IntegerField(),
                "left_today": serializers.IntegerField(allow_null=True),
            }, many=True),
        }), **error_responses(error_codes)},
    )
    def get(self, request: Request) -> Response:
        return self.answer(grants_mine(request=request._request))


class RecordReadApi(SignedExchangeApi):
    error_codes = RECORD_READ_ERRORS

    @extend_schema(
        operation_id="record_read",
        summary=_("Read one record's granted fields"),
        description=format_lazy("{} {}", _(
            "Returns the fields one of the caller's grants allows (all of them, or those named in `fields`), "
            "masked as the grant says, under that grant's purpose; grants are never merged. A record outside the "
            "grant's row filter is not found. Each record served counts against the grant's daily quota. Open "
            "data is served to anyone, signed or not."), _COMMON),
        parameters=[
            _dataset_parameter(),
            OpenApiParameter("key", OpenApiTypes.STR, OpenApiParameter.PATH,
                             description=_("The record's lookup key, percent-encoded as your client does: the "
                                           "signature is checked against the address exactly as sent.")),
            _fields_parameter(), _grant_parameter(), *OPEN_SIGNATURE_PARAMETERS, *response_headers(RECORD_READ_ERRORS),
        ],
        auth=[{"httpMessageSignature": []}, {}],  # type: ignore[list-item]  # security requirement objects
        responses={200: _served("RecordRead", {
            "key": serializers.CharField(), "version": serializers.IntegerField(),
            "updated_at": serializers.DateTimeField(), "fields": _FIELDS}), **error_responses(error_codes)},
    )
    def get(self, request: Request, dataset_id: str, key: str) -> Response:
        return self.answer(record_read(request=request._request, dataset_identifier=dataset_id, key=key))


class RecordListApi(SignedExchangeApi):
    error_codes = RECORDS_LIST_ERRORS

    @extend_schema(
        operation_id="records_list",
        summary=_("List a dataset's records under a grant, a page at a time"),
        description=format_lazy("{} {}", format_lazy(_(
            "Records in a stable order, `limit` at a time (default {default}, at most {max}); pass "
            "`next_cursor` as `after` for the next page. Any other query parameter `name=value` filters on "
            "a field your grant serves unmasked (an exact match; a number or yes/no as its value). Masking, the "
            "row filter and the daily quota (one per record served) apply."), default=LIST_LIMIT_DEFAULT,
            max=LIST_LIMIT_MAX),
            _COMMON),
        parameters=[
            _dataset_parameter(), _fields_parameter(), _grant_parameter(),
            OpenApiParameter("limit", OpenApiTypes.INT, OpenApiParameter.QUERY, required=False,
                             description=_("Records per page, 1 to %(max)d.") % {"max": LIST_LIMIT_MAX}),
            OpenApiParameter("after", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False,
                             description=_("The previous page's next_cursor.")),
            *OPEN_SIGNATURE_PARAMETERS, *response_headers(RECORDS_LIST_ERRORS),
        ],
        auth=[{"httpMessageSignature": []}, {}],  # type: ignore[list-item]  # security requirement objects
        responses={200: _served("RecordPage", {
            "records": _records(),
            "next_cursor": serializers.CharField(allow_null=True, help_text=_("null on the last page.")),
        }), **error_responses(error_codes)},
    )
    def get(self, request: Request, dataset_id: str) -> Response:
        return self.answer(records_list(request=request._request, dataset_identifier=dataset_id))


class RecordLookupApi(SignedExchangeApi):
    error_codes = RECORDS_LOOKUP_ERRORS

    @extend_schema(
        operation_id="records_lookup",
        summary=_("Look up to 1,000 records by key in one call"),
        description=format_lazy("{} {}", format_lazy(_(
            "The body names the keys (1 to {max}), and optionally the fields and the grant. Found records "
            "come back in the order asked; keys with no record (or outside the grant's row filter) are listed "
            "in not_found. One audit event lists every subject asked about. The body's `content-digest` must "
            "be signed."), max=LOOKUP_MAX_KEYS), _COMMON),
        parameters=[_dataset_parameter(), *OPEN_SIGNATURE_PARAMETERS,
                    OpenApiParameter("Content-Digest", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
                                     description=_("RFC 9530 sha-256 of the body; required with a signature.")),
                    *response_headers(RECORDS_LOOKUP_ERRORS)],
        auth=[{"httpMessageSignature": []}, {}],  # type: ignore[list-item]  # security requirement objects
        request=inline_serializer("LookupRequest", {
            "keys": serializers.ListField(child=serializers.CharField(min_length=1), min_length=1,
                                          max_length=LOOKUP_MAX_KEYS),
            "fields": serializers.ListField(child=serializers.CharField(), required=False),
            "grant": serializers.IntegerField(required=False, min_value=1),
        }),
        examples=[OpenApiExample("lookup", value={"keys": ["110101199001011234", "110101198505052345"],
                                                  "fields": ["vaccine", "dose_date"]}, request_only=True)],
        responses={200: _served("LookupResult", {
            "records": _records(),
            "not_found": serializers.ListField(child=serializers.CharField()),
        }), **error_responses(error_codes)},
    )
    def post(self, request: Request, dataset_id: str) -> Response:
        return self.answer(records_lookup(request=request._request, dataset_identifier=dataset_id))


RECORDS_PUSH_ERRORS = (*GATEWAY_ERRORS, ErrorCode.INVALID_JSON, ErrorCode.BATCH_TOO_LARGE, ErrorCode.RECORDS_INVALID,
                       ErrorCode.DATASET_NOT_FOUND, ErrorCode.NOT_THE_PROVIDER, ErrorCode.BATCH_ID_REUSED,
                       ErrorCode.IMPORT_IN_PROGRESS)


class RecordBatchApi(SignedExchangeApi):
    error_codes = RECORDS_PUSH_ERRORS

    @extend_schema(
        operation_id="records_push",
        summary=_("Push a batch of records (the providing department's systems)"),
        description=format_lazy("{} {}", format_lazy(_(
            "Upserts and deletes records of a dataset your department provides, all or nothing, at most {max} "
            "operations. An upserted record replaces the record's values (fields left out become empty); every "
            "value is checked against its field's type as an import checks it. The same `batch_id` with the same "
            "body answers the first result again (`replayed`) and writes nothing; with another body it is refused. "
            "While an import of the dataset is being loaded the push is refused (409, Retry-After). The body's "
            "`content-digest` must be signed."), max=MAX_OPERATIONS), _COMMON),
        parameters=[_dataset_parameter(), *SIGNATURE_PARAMETERS,
                    OpenApiParameter("Content-Digest", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                                     description=_("RFC 9530 sha-256 of the body, covered by the signature.")),
                    *response_headers(RECORDS_PUSH_ERRORS),
                    OpenApiParameter("Retry-After", OpenApiTypes.INT, OpenApiParameter.HEADER, response=[409],
                                     description=_("On import_in_progress: the seconds to wait."))],
        auth=[{"httpMessageSignature": []}],  # type: ignore[list-item]  # security requirement objects
        request=inline_serializer("RecordBatchRequest", {
            "batch_id": serializers.RegexField(r"^[\x21-\x7e]{1,64}$", help_text=_("Your id for the batch.")),
            "upsert": serializers.ListField(child=serializers.DictField(child=serializers.JSONField(allow_null=True)),
                                            required=False),
            "delete": serializers.ListField(child=serializers.CharField(min_length=1), required=False),
        }),
        examples=[OpenApiExample("batch", request_only=True, value={
            "batch_id": "2026-11-24-0001",
            "upsert": [{"citizen_id": "110101199003070011", "full_name": "李伟", "vaccine": "hepatitis-b",
                        "dose_date": "2026-03-01"}],
            "delete": ["110101198505052345"]})],
        responses={200: inline_serializer("RecordBatchResult", {
            "dataset": serializers.CharField(), "batch_id": serializers.CharField(),
            "upserted": serializers.IntegerField(), "deleted": serializers.IntegerField(),
            "not_found": serializers.ListField(child=serializers.CharField(), help_text=_(
                "Keys asked to be deleted that had no record.")),
            "body_digest": serializers.CharField(), "replayed": serializers.BooleanField(),
        }), **error_responses(error_codes)},
    )
    def post(self, request: Request, dataset_id: str) -> Response:
        return self.answer(records_push(request=request._request, dataset_identifier=dataset_id))


EXPORT_CREATE_ERRORS = (*GATEWAY_ERRORS, *GRANT_ERRORS, ErrorCode.INVALID_JSON)
EXPORT_STATUS_ERRORS = (*GATEWAY_ERRORS, ErrorCode.EXPORT_NOT_FOUND)
EXPORT_DOWNLOAD_ERRORS = (ErrorCode.EXPORT_LINK_INVALID, ErrorCode.EXPORT_GONE, ErrorCode.NOT_ACCEPTABLE,
                          ErrorCode.INTERNAL_ERROR, ErrorCode.AUDIT_UNAVAILABLE, ErrorCode.SIGNING_KEY_UNAVAILABLE)


@functools.cache  # one component, however many answers carry it
def _export_status() -> Any:
    return inline_serializer("ExportStatus", {
        "id": serializers.UUIDField(), "dataset": serializers.CharField(),
        "grant": serializers.IntegerField(allow_null=True), "format": serializers.ChoiceField(choices=["csv", "jsonl"]),
        "fields": serializers.ListField(child=serializers.CharField()),
        "state": serializers.ChoiceField(choices=["queued", "running", "done", "failed", "downloaded", "expired"]),
        "rows_total": serializers.IntegerField(), "rows_done": serializers.IntegerField(),
        "file_digest": serializers.CharField(allow_null=True, help_text=_("SHA-256 of the file, hex, once done.")),
        "file_size": serializers.IntegerField(), "error": serializers.CharField(allow_null=True),
        "link_expires_at": serializers.DateTimeField(allow_null=True),
        "status_url": serializers.CharField(),
        "download_url": serializers.CharField(allow_null=True, help_text=_(
            "Once done: the signed link that downloads the file once, until link_expires_at.")),
    })


class ExportCreateApi(SignedExchangeApi):
    error_codes = EXPORT_CREATE_ERRORS

    @extend_schema(
        operation_id="exports_create",
        summary=_("Export a dataset under a grant (CSV or JSON Lines), made in the background"),
        description=format_lazy("{} {}", _(
            "Chooses the grant and the fields as a read does; masking and the row filter apply to every record. "
            "The records the export will hold count against the grant's daily quota now. Answers 202 with the "
            "export's status; poll `status_url` until `state` is `done`, then fetch `download_url` once. The "
            "file's SHA-256 is in the status, in the audit log and in the download's Content-Digest."), _COMMON),
        parameters=[_dataset_parameter(), *SIGNATURE_PARAMETERS, *response_headers(EXPORT_CREATE_ERRORS, 202)],
        auth=[{"httpMessageSignature": []}],  # type: ignore[list-item]  # security requirement objects
        request=inline_serializer("ExportRequest", {
            "format": serializers.ChoiceField(choices=["csv", "jsonl"]),
            "fields": serializers.ListField(child=serializers.CharField(), required=False, min_length=1),
            "grant": serializers.IntegerField(required=False, min_value=1),
        }),
        responses={202: _export_status(), **error_responses(error_codes)},
    )
    def post(self, request: Request, dataset_id: str) -> Response:
        return self.answer(exports_create(request=request._request, dataset_identifier=dataset_id), status=202)


class ExportStatusApi(SignedExchangeApi):
    error_codes = EXPORT_STATUS_ERRORS

    @extend_schema(
        operation_id="export_status",
        summary=_("An export's progress and, once done, its download link"),
        description=format_lazy("{} {}", _("Only the system that asked for the export sees it; to any other the id "
                                           "does not exist."), _COMMON),
        parameters=[OpenApiParameter("export_id", OpenApiTypes.STR, OpenApiParameter.PATH,
                                     description=_("The export's id.")),
                    *SIGNATURE_PARAMETERS, *response_headers(EXPORT_STATUS_ERRORS)],
        auth=[{"httpMessageSignature": []}],  # type: ignore[list-item]  # security requirement objects
        responses={200: _export_status(), **error_responses(error_codes)},
    )
    def get(self, request: Request, export_id: str) -> Response:
        return self.answer(export_status(request=request._request, export_id=export_id))


class ExportDownloadApi(SignedExchangeApi):
    error_codes = EXPORT_DOWNLOAD_ERRORS

    @extend_schema(
        operation_id="export_download",
        summary=_("Download an export's file, once, through its signed link"),
        description=_("Needs no request signature: the link the status gave is the credential, valid until it "
                      "expires and for one download. The file streams with `Content-Digest` (its SHA-256, as in the "
                      "status and the audit log) and `Cache-Control: no-store`; it is deleted once sent. Refusals are "
                      "signed JSON errors."),
        parameters=[OpenApiParameter("export_id", OpenApiTypes.STR, OpenApiParameter.PATH,
                                     description=_("The export's id.")),
                    OpenApiParameter("expires", OpenApiTypes.INT, OpenApiParameter.QUERY,
                                     description=_("From the link.")),
                    OpenApiParameter("signature", OpenApiTypes.STR, OpenApiParameter.QUERY,
                                     description=_("From the link.")),
                    OpenApiParameter("Content-Digest", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200],
                                     description=_("RFC 9530 sha-256 of the file.")),
                    OpenApiParameter("Audit-Event", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200],
                                     description=_("The download's audit event."))],
        auth=[{}],  # type: ignore[list-item]  # the link is the credential
        responses={(200, "text/csv"): OpenApiTypes.BINARY, (200, "application/x-ndjson"): OpenApiTypes.BINARY,
                   **error_responses(error_codes)},
    )
    def get(self, request: Request, export_id: str) -> Any:
        try:
            download = export_download(request=request._request, export_id=export_id,
                                       expires=request.query_params.get("expires"),
                                       signature=request.query_params.get("signature"))
        except PlatformError as exc:
            if exc.status >= 500:
                raise
            # A link holder is not a verified system: counted with its address's other refusals of the window.
            raise refusal_counted(request._request, exc) from exc
        job = download.job
        response = FileResponse(download.handle, content_type="text/csv; charset=utf-8" if job.format == "csv"
                                else "application/x-ndjson", as_attachment=True,
                                filename=f"{job.dataset.identifier}-{job.uid}.{job.format}")
        response["Content-Digest"] = "sha-256=:" + base64.b64encode(bytes.fromhex(job.file_digest)).decode() + ":"
        response["Audit-Event"] = str(download.event.uid)
        response["Audit-Leaf-Hash"] = download.event.leaf_hash
        return response


class ExchangeNotFoundApi(SignedExchangeApi):
    """Any other address under /api/v1/: a signed, audited 404 (counted unless the caller is verified)."""

    schema = None  # not an operation of the API

    def dispatch_not_found(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        caller = caller_verify(request._request, action=EventType.API_NOT_FOUND, object_id=request.path[:128],
                               unsigned_allowed=True)
        raise caller.refuse(ErrorCode.NOT_FOUND)

    get = post = put = patch = delete = dispatch_not_found
