"""One application error type, one table of error codes, and one renderer for every API error.

Every error leaves the API as ``{"error": {"code": ..., "message": ..., "detail": ...}}`` with a
stable machine ``code`` (an English identifier that never changes with the language), the HTTP
status that code always has, and a ``message`` in the caller's language that says what to fix.
"""

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response


class ErrorCode(StrEnum):
    """Every error the platform gives: code, HTTP status, default message. Compares equal to its code."""

    status: int
    default_message: Promise

    def __new__(cls, code: str, status: int, message: Promise) -> "ErrorCode":
        member = str.__new__(cls, code)
        member._value_ = code
        member.status = status
        member.default_message = message
        return member

    # --- Bad input (400) ---
    INVALID_INPUT = "invalid_input", 400, _("The input is invalid; the detail says which fields to fix.")
    INVALID_CHARACTERS = "invalid_characters", 400, _("The dataset id, the key and the field names may not "
                                                      "contain control characters.")
    UNKNOWN_FIELD = "unknown_field", 400, _("The dataset has no field of that name.")
    SEVERAL_GRANTS = "several_grants", 400, _("You hold several grants for this dataset; name one with ?grant= "
                                              "or the fields with ?fields=.")
    BAD_GRANT = "bad_grant", 400, _("grant is the id of one of your grants (a whole number).")
    NO_FIELDS = "no_fields", 400, _("Choose at least one field.")
    BAD_PURPOSE_CODE = "bad_purpose_code", 400, _("A purpose code is lowercase, e.g. 'law-enforcement.investigation'.")
    PURPOSE_REQUIRED = "purpose_required", 400, _("State the purpose and the legal basis.")
    BAD_DURATION = "bad_duration", 400, _("The duration is out of range.")
    REASON_REQUIRED = "reason_required", 400, _("A rejection must state its reason.")
    REJECTION_INCOMPLETE = "rejection_incomplete", 400, _("A rejection names a reason from the list, a legal basis "
                                                          "and an explanation.")
    COMMENT_REQUIRED = "comment_required", 400, _("Say what the requesting department must change.")
    NOT_A_PART = "not_a_part", 400, _("Approval in part grants fewer fields, a shorter duration or a lower quota "
                                      "than requested, and nothing beyond it.")
    UNKNOWN_PURPOSE = "unknown_purpose", 400, _("Choose a purpose from the platform's list of purposes.")
    BAD_VOLUME = "bad_volume", 400, _("The expected daily volume is out of range.")
    NOT_AN_APPROVER = "not_an_approver", 400, _("The person is not an approver of the providing department.")
    NOT_PUBLISHED = "not_published", 400, _("The dataset is not published.")
    NOT_SHARED = "not_shared", 400, _("The dataset is not shared (不予共享); its legal basis says why.")
    OPEN_DATASET = "open_dataset", 400, _("The dataset is open data; it needs no request.")
    CONSUMER_INACTIVE = "consumer_inactive", 400, _("The consumer system is deactivated.")
    NOT_PUBLISHABLE = "not_publishable", 400, _("The dataset cannot be published yet.")
    NO_LOOKUP_KEY = "no_lookup_key", 400, _("Define the dataset's fields and mark one as the lookup key first.")
    INVALID_KEY = "invalid_key", 400, _("The key is not valid; the detail says what to fix.")
    BAD_MASKING = "bad_masking", 400, _("A grant's masking can only be as strict as the dataset's default, or "
                                        "stricter, and suit the field; the detail names the field.")
    BAD_ROW_FILTER = "bad_row_filter", 400, _("A row filter names fields of the dataset, each with at least one "
                                              "value.")
    TOO_MANY_PARAMETERS = "too_many_parameters", 400, _("The query string has too many parameters; the message "
                                                        "says how many are allowed.")
    INVALID_JSON = "invalid_json", 400, _("The body is not a JSON object of the shape the operation describes; the "
                                          "detail says what to fix.")
    BAD_LIMIT = "bad_limit", 400, _("limit is a whole number from 1 to the maximum the message names.")
    BAD_CURSOR = "bad_cursor", 400, _("after is the next_cursor of the previous page, unchanged.")
    COSIGNATURE_INVALID = "cosignature_invalid", 400, _("The cosignature does not verify with the witness's key "
                                                        "over that checkpoint; it was not stored.")
    PROOF_SIZE = "proof_size", 400, _("The tree sizes of a proof must be whole numbers from 1 to the log's current "
                                      "size, the first no larger than the second.")
    FILTER_NOT_ALLOWED = "filter_not_allowed", 400, _("Filter only on fields your grant allows unmasked; the "
                                                      "message lists them.")
    BATCH_TOO_LARGE = "batch_too_large", 400, _("A batch holds from 1 to 1,000 operations.")
    RECORDS_INVALID = "records_invalid", 400, _("Some records of the batch are not valid; the detail lists each "
                                                "problem by row and field. Nothing was written.")
    TOO_MANY_KEYS = "too_many_keys", 400, _("A bulk lookup takes from 1 to 1,000 distinct keys.")
    # --- The request signature (401) ---
    SIGNATURE_MISSING = "signature_missing", 401, _("Sign the request per RFC 9421: the Signature-Input and "
                                                    "Signature headers are required.")
    SIGNATURE_INVALID = "signature_invalid", 401, _("The request signature was not accepted.")
    SIGNATURE_PARAMETERS_MISSING = "signature_parameters_missing", 401, _(
        "The signature must carry the parameters created, expires, keyid and nonce.")
    SIGNATURE_LIFETIME_TOO_LONG = "signature_lifetime_too_long", 401, _("The signature's expires is too far "
                                                                        "after its created.")
    NONCE_INVALID = "nonce_invalid", 401, _("The nonce must be 16-128 printable characters, fresh and random "
                                            "for every request.")
    REPLAYED = "replayed", 401, _("This signature's nonce was already used: a replay. Sign every request afresh "
                                  "with a new nonce.")
    UNKNOWN_KEY = "unknown_key", 401, _("No key is registered under this keyid.")
    KEY_REVOKED = "key_revoked", 401, _("This key has been revoked; sign with a current key of the system.")
    KEY_NOT_VALID = "key_not_valid", 401, _("This key is not valid now (before its not-before or past its expiry).")
    SYSTEM_INACTIVE = "system_inactive", 401, _("The key's system or its department is deactivated.")
    # --- Refused (403) ---
    FORBIDDEN = "forbidden", 403, _("Your roles do not allow this.")
    OWN_REQUEST = "own_request", 403, _("Separation of duties: nobody decides a request they filed.")
    NO_GRANT = "no_grant", 403, _("No grant of yours in force covers this dataset.")
    FIELD_NOT_GRANTED = "field_not_granted", 403, _("Your grant does not cover these fields.")
    GRANT_REVOKED = "grant_revoked", 403, _("Your grant was revoked by the providing department; the message says "
                                            "why. File a new request if you still need the data.")
    GRANT_SUSPENDED = "grant_suspended", 403, _("Your grant is suspended until the providing department approves "
                                                "it again; the message says why.")
    NOT_THE_PROVIDER = "not_the_provider", 403, _("Only the providing department's systems may write this "
                                                  "dataset's records.")
    EXPORT_LINK_INVALID = "export_link_invalid", 403, _("This download link is not one the platform gave; ask for "
                                                        "the export's status for a new one.")
    # --- Not found (404) ---
    NOT_FOUND = "not_found", 404, _("No API endpoint has this address; see /api/docs/.")
    DATASET_NOT_FOUND = "dataset_not_found", 404, _("No published dataset has this identifier.")
    EXPORT_NOT_FOUND = "export_not_found", 404, _("You have no export with this id.")
    RECORD_NOT_FOUND = "record_not_found", 404, _("No record has this key.")
    LEAF_NOT_FOUND = "leaf_not_found", 404, _("No sequenced event of the audit log has this leaf hash or index.")
    NO_CHECKPOINT = "no_checkpoint", 404, _("The audit log has no signed checkpoint of that size.")
    UNKNOWN_WITNESS = "unknown_witness", 404, _("No witness is registered under this name.")
    # --- Method (405) ---
    METHOD_NOT_ALLOWED = "method_not_allowed", 405, _("This address does not accept this HTTP method.")
    # --- Accept header (406) ---
    NOT_ACCEPTABLE = "not_acceptable", 406, _("The API answers in JSON only: send Accept: application/json, "
                                                          "or no Accept header.")
    # --- Too many requests (429): Retry-After says when to try again ---
    RATE_LIMITED = "rate_limited", 429, _("Too many requests from this system or address; wait the seconds "
                                          "Retry-After names.")
    QUOTA_EXCEEDED = "quota_exceeded", 429, _("This grant's daily quota of records is used up; it starts again at "
                                              "midnight (Beijing time), when Retry-After ends.")
    # --- Conflict (409) ---
    CONFLICT = "conflict", 409, _("Someone else changed this at the same time; nothing was saved. Try again.")
    NOT_DRAFT = "not_draft", 409, _("Only a draft can be published.")
    ALREADY_DECIDED = "already_decided", 409, _("This request is already decided.")
    NO_LONGER_PUBLISHED = "no_longer_published", 409, _("The dataset is no longer published.")
    NOT_SUSPENDED = "not_suspended", 409, _("Only a suspended grant can be approved again.")
    TRANSITION_NOT_ALLOWED = "transition_not_allowed", 409, _("The request is not in a state that allows this.")
    NOT_ESCALATED = "not_escalated", 409, _("Only an escalated request can be handed to another approver.")
    GRANT_ENDED = "grant_ended", 409, _("The grant is already revoked or expired.")
    BATCH_ID_REUSED = "batch_id_reused", 409, _("This batch id was already used for another body; give every batch "
                                                "its own id.")
    IMPORT_IN_PROGRESS = "import_in_progress", 409, _("An import of this dataset is being loaded; push again when "
                                                      "Retry-After has passed.")
    RENEWAL_PENDING = "renewal_pending", 409, _("This grant already has a renewal filed or granted.")
    # --- Gone (410) ---
    EXPORT_GONE = "export_gone", 410, _("This export was already downloaded or its link expired; create a new "
                                        "export.")
    # --- Too large (413, 414) ---
    PAYLOAD_TOO_LARGE = "payload_too_large", 413, _("The request body is too large; the message says the limit.")
    URI_TOO_LONG = "uri_too_long", 414, _("The request's address is too long; the message says the limit.")
    # --- Unsupported body (415) ---
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type", 415, _("Send the body as application/json.")
    # --- The platform (500, 503) ---
    INTERNAL_ERROR = "internal_error", 500, _("The platform failed to answer; the error is logged.")
    UNAVAILABLE = "unavailable", 503, _("The key registry cannot be read; retry later.")
    AUDIT_UNAVAILABLE = "audit_unavailable", 503, _("The audit log cannot be written, so nothing was served. "
                                                    "Retry later.")
    NONCE_STORE_UNAVAILABLE = "nonce_store_unavailable", 503, _("The replay-protection store cannot be written; "
                                                                "the request was refused. Retry later.")
    RATE_LIMIT_UNAVAILABLE = "rate_limit_unavailable", 503, _("The rate-limit store cannot be read; the request "
                                                              "was refused. Retry later.")
    SIGNING_KEY_UNAVAILABLE = "signing_key_unavailable", 503, _("The platform signing key cannot be read; "
                                                                "nothing is served unsigned.")


class PlatformError(Exception):
    """A refusal or bad input: a code from the table (which fixes the status) and a message saying what to fix."""

    def __init__(self, code: ErrorCode, message: str | Promise | None = None, *, detail: Any = None) -> None:
        self.code = code
        self.status = code.status
        # Rendered now, in the language of the request being answered (LocaleMiddleware set it).
        self.message: str = str(code.default_message if message is None else message)
        self.detail = detail
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"error": {"code": str(self.code), "message": self.message, "detail": self.detail}}


def validation_error(exc: ValidationError, *, code: ErrorCode = ErrorCode.INVALID_INPUT) -> PlatformError:
    """Django's ValidationError as ours: the messages joined, the per-field messages as the detail.

    The one conversion: the exception handler uses it for any ValidationError that reaches it, and a
    service that knows a more precise code (``bad_purpose_code``) passes it here instead of converting
    by hand.
    """
    detail = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    return PlatformError(code, " ".join(exc.messages), detail=detail)


_DRF_CODES = {
    drf_exceptions.MethodNotAllowed: ErrorCode.METHOD_NOT_ALLOWED,
    drf_exceptions.NotAcceptable: ErrorCode.NOT_ACCEPTABLE,
    drf_exceptions.UnsupportedMediaType: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    drf_exceptions.NotFound: ErrorCode.NOT_FOUND,
    drf_exceptions.PermissionDenied: ErrorCode.FORBIDDEN,
    drf_exceptions.NotAuthenticated: ErrorCode.SIGNATURE_MISSING,
    drf_exceptions.AuthenticationFailed: ErrorCode.SIGNATURE_INVALID,
}


def platform_error(exc: Exception) -> PlatformError | None:
    """Any exception a view can raise as ours: Django's and DRF's own converted; None for the unexpected."""
    if isinstance(exc, PlatformError):
        return exc
    if isinstance(exc, ValidationError):
        return validation_error(exc)
    if isinstance(exc, Http404):
        return PlatformError(ErrorCode.NOT_FOUND)
    if isinstance(exc, drf_exceptions.APIException):
        code = next((c for kind, c in _DRF_CODES.items() if isinstance(exc, kind)), ErrorCode.INVALID_INPUT)
        detail = exc.detail if not isinstance(exc.detail, str) else None
        # DRF's own words when they say something particular ('Method "POST" not allowed.'); our table's,
        # which say what to fix, instead of DRF's generic default.
        particular = detail is None and str(exc.detail) != str(exc.default_detail)
        return PlatformError(code, str(exc.detail) if particular else None, detail=detail)
    return None


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The one place every API error is rendered; Django's and DRF's own exceptions are converted here."""
    error = platform_error(exc)
    if error is None:
        return None  # unexpected: Django's 500 handling, logged
    return Response(error.as_dict(), status=error.status)


# --- The OpenAPI schema: each operation lists the codes it can return, and one component lists them all ---


def _error_body_schema(codes: list[ErrorCode]) -> dict[str, Any]:
    """The error body with ``code`` narrowed to these codes (each is one of the ``ErrorCode`` component's)."""
    return {
        "type": "object",
        "properties": {"error": {
            "type": "object",
            "properties": {"code": {"type": "string", "enum": [code.value for code in codes]},
                           "message": {"type": "string"},
                           "detail": {"nullable": True}},
            "required": ["code", "message", "detail"],
        }},
        "required": ["error"],
    }


def _codes_described(codes: list[ErrorCode]) -> Promise:
    """A Markdown list of the codes and their default messages, translated when the schema is rendered."""
    template = "\n".join(f"- `{code.value}`: {{}}" for code in codes)
    return format_lazy(template, *(code.default_message for code in codes))


def error_responses(codes: Iterable[ErrorCode]) -> dict[int, OpenApiResponse]:
    """The error part of an operation's ``extend_schema(responses=...)``, built from the codes its view declares.

    One response per HTTP status: its description lists the codes with their default messages, and its
    error body's ``code`` is an enum of exactly those codes.
    """
    by_status: dict[int, list[ErrorCode]] = {}
    for code in dict.fromkeys(codes):
        by_status.setdefault(code.status, []).append(code)
    return {status: OpenApiResponse(_error_body_schema(members), description=_codes_described(members))
            for status, members in sorted(by_status.items())}


def schema_add_error_codes(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the ``ErrorCode`` component, the whole table with each code's
    HTTP status (also as ``x-status``, for tools) and default message, in the schema's language."""
    rows = "\n".join(f"| `{code.value}` | {code.status} | {code.default_message} |" for code in ErrorCode)
    component = {
        "type": "string",
        "enum": [code.value for code in ErrorCode],
        "description": "{}\n\n| code | HTTP status | message |\n|---|---|---|\n{}".format(
            _("Every error code the platform gives. Each code always comes with the same HTTP status."), rows),
        "x-status": {code.value: code.status for code in ErrorCode},
    }
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorCode"] = component
    result["components"]["schemas"] = dict(sorted(schemas.items()))
    return result
