"""The exchange's front door: every call of the systems' API passes here before its service runs.

In order: the platform key is there (nothing leaves unsigned); the source address is within its
rate; the request is well formed (the target's length, the number of query parameters, the body's
size); the signature verifies (RFC 9421, ``registry.httpsig``) and its nonce is fresh; the system is
within its rate. Open-data calls may come unsigned.

A refusal before the caller is verified (and any rate-limit refusal) is counted, per source address
and window, into one audit event (``audit.services.refusal_count``): a flood is evidenced, with its
first and last request digests, but cannot grow the log without bound. Its ``Audit-Event`` header
names the event the window will become. Everything a verified system does, and every open read, is
an audit event of its own, committed before the answer leaves; if the log cannot be written,
nothing is served (503).
"""

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.events import EventType
from audit.models import AuditEvent, Outcome
from audit.services import Actor, event_append, refusal_count
from core.errors import ErrorCode, PlatformError
from core.keys import platform_key
from registry.httpsig import SignatureRefused, VerifiedRequest, request_target_uri, request_verify, signature_digest
from registry.models import System
from registry.ratelimit import Limited, rate_limit_hit
from registry.versions import access_version


class ExchangeRefused(PlatformError):
    """A refusal of the systems' API, already audited: carries what the response's receipt names.

    ``event`` for a refusal logged as an event of its own; ``receipt`` alone (the id of the window's
    event to come) for one counted in a refusal tally.
    """

    def __init__(self, error: PlatformError, *, event: AuditEvent | None = None, receipt: str = "",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(error.code, error.message, detail=error.detail)
        self.event = event
        self.receipt = str(event.uid) if event is not None else receipt
        self.headers = headers or {}


def audit_or_fail_closed(**fields: Any) -> AuditEvent:
    """Append an exchange event now; without the log nothing is served (503 audit_unavailable)."""
    try:
        return event_append(**fields)
    except DatabaseError as exc:
        raise PlatformError(ErrorCode.AUDIT_UNAVAILABLE) from exc


def printable(value: str) -> str:
    """Caller-chosen text as the log keeps it: control characters (NUL breaks PostgreSQL) replaced."""
    return "".join(char if char.isprintable() else "\ufffd" for char in value)


def _retry_after(limited: Limited) -> dict[str, str]:
    return {"Retry-After": str(limited.retry_after)}


def request_digest(request: HttpRequest) -> str:
    """What names a request in the log without its URL or body: SHA-256 of its Signature header, or,
    for an unsigned request, a keyed hash of its method and target (a target may hold a citizen's id)."""
    digest = signature_digest(request)
    if digest:
        return digest
    line = f"{request.method} {request_target_uri(request)}".encode("utf-8", "replace")
    return hmac.new(settings.AUDIT_SUBJECT_HASH_KEY.encode(), line, hashlib.sha256).hexdigest()


def _source(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown")[:64]


def refusal_counted(request: HttpRequest, error: PlatformError, *, actor: Actor | None = None,
                    headers: dict[str, str] | None = None) -> ExchangeRefused:
    """A refusal counted in its source's window (not an event of its own); fail closed without the tally."""
    try:
        receipt = refusal_count(actor=actor or Actor.anonymous(), source=_source(request), reason=str(error.code),
                                request_digest=request_digest(request))
    except DatabaseError as exc:
        raise PlatformError(ErrorCode.AUDIT_UNAVAILABLE) from exc
    return ExchangeRefused(error, receipt=receipt, headers=headers)


@dataclass
class Caller:
    """A caller that passed the front door: a verified system, or (on open data) nobody in particular."""

    request: HttpRequest
    action: EventType
    version: int
    system: System | None
    verified: VerifiedRequest | None
    context: dict[str, Any] = field(default_factory=dict)

    def refuse(self, code: ErrorCode, message: str | None = None, *, headers: dict[str, str] | None = None,
               detail: Any = None, **fields: Any) -> ExchangeRefused:
        """Audit the refusal and return it to raise: an event of its own for a verified system; counted
        in its source's window for an unsigned caller (anyone can send those, as many as they like)."""
        if self.system is None:
            return refusal_counted(self.request, PlatformError(code, message, detail=detail), actor=Actor.anonymous(),
                            headers=headers)
        event = self.record(outcome=Outcome.REFUSED, reason=code, **fields)
        return ExchangeRefused(PlatformError(code, message, detail=detail), event=event, headers=headers)

    def refuse_error(self, error: PlatformError, **fields: Any) -> ExchangeRefused:
        return self.refuse(error.code, error.message, detail=error.detail, **fields)

    def record(self, *, outcome: str = Outcome.OK, detail: dict[str, Any] | None = None,
               **fields: Any) -> AuditEvent:
        """The call's audit event, committed now: the context, these fields, the details merged."""
        merged = {**self.context, **fields}
        merged["detail"] = {**self.context.get("detail", {}), **(detail or {})}
        return audit_or_fail_closed(action=self.action, outcome=outcome, **merged)

    def note(self, **fields: Any) -> None:
        """Add to what every event of this call records (the grant, the subjects, detail keys)."""
        detail = fields.pop("detail", None)
        self.context.update(fields)
        if detail:
            self.context["detail"] = {**self.context.get("detail", {}), **detail}


def _shape_check(request: HttpRequest) -> PlatformError | None:
    """The request's size and shape, checked before anything is read or verified."""
    target = request_target_uri(request)
    if len(target) > settings.EXCHANGE_MAX_TARGET_LENGTH:
        return PlatformError(ErrorCode.URI_TOO_LONG, _("The address may be at most %(limit)d characters.") % {
            "limit": settings.EXCHANGE_MAX_TARGET_LENGTH})
    query = request.META.get("QUERY_STRING", "")
    parameters = len([part for part in query.replace(";", "&").split("&") if part])
    if parameters > settings.EXCHANGE_MAX_QUERY_PARAMS:
        return PlatformError(ErrorCode.TOO_MANY_PARAMETERS, _(
            "The query string has %(count)d parameters; at most %(limit)d are allowed.") % {
            "count": parameters, "limit": settings.EXCHANGE_MAX_QUERY_PARAMS})
    too_large = PlatformError(ErrorCode.PAYLOAD_TOO_LARGE, _("The body may be at most %(limit)d bytes.") % {
        "limit": settings.EXCHANGE_MAX_BODY_BYTES})
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return PlatformError(ErrorCode.INVALID_INPUT, _("Content-Length must be a whole number."))
    if length > settings.EXCHANGE_MAX_BODY_BYTES:
        return too_large
    try:
        body = request.body
    except RequestDataTooBig:
        return too_large
    if len(body) > settings.EXCHANGE_MAX_BODY_BYTES:
        return too_large
    return None


def caller_verify(request: HttpRequest, *, action: EventType, object_id: str,
                  unsigned_allowed: bool = False) -> Caller:
    """Let the caller in or refuse it (ExchangeRefused); PlatformError 503 when the platform cannot check.

    ``unsigned_allowed``: the call may come without a signature (open data); a signature it does carry
    is verified all the same.
    """
    platform_key()  # nothing is served, or audited as served, when responses cannot be signed
    anonymous = Actor.anonymous()
    limited = rate_limit_hit(f"source:{_source(request)}", limit=settings.EXCHANGE_RATE_PER_SOURCE)
    if limited is not None:
        raise refusal_counted(request, PlatformError(ErrorCode.RATE_LIMITED), actor=anonymous,
                       headers=_retry_after(limited))
    if (shape := _shape_check(request)) is not None:
        raise refusal_counted(request, shape, actor=anonymous)
    try:
        # Read once, before anything is looked up: the key, the dataset and the grants then come
        # from memory unless something changed since (registry.versions).
        version = access_version()
    except DatabaseError as exc:  # the database is down: nothing can be checked, nor audited
        raise PlatformError(ErrorCode.UNAVAILABLE) from exc
    object_id = printable(object_id)
    signed = "Signature" in request.headers or "Signature-Input" in request.headers
    if unsigned_allowed and not signed:
        return Caller(request, action, version, None, None, context={
            "actor": anonymous, "object_id": object_id, "request_digest": request_digest(request),
            "detail": {"source": _source(request)}})
    try:
        verified = request_verify(request, version=version)
    except SignatureRefused as exc:
        # Not proven to come from the key's system (anyone can name a keyid): counted as anonymous,
        # under the claimed keyid.
        raise refusal_counted(request, exc, actor=Actor.anonymous(exc.claimed_key_id)) from exc
    except PlatformError as exc:  # the nonce store or key registry is down
        raise refusal_counted(request, exc, actor=anonymous) from exc
    system = verified.key.system
    actor = Actor.for_system(system)
    limited = rate_limit_hit(f"system:{system.code}", limit=settings.EXCHANGE_RATE_PER_SYSTEM)
    if limited is not None:
        raise refusal_counted(request, PlatformError(ErrorCode.RATE_LIMITED), actor=actor,
                              headers=_retry_after(limited))
    return Caller(request, action, version, system, verified, context={
        "actor": actor, "object_id": object_id, "request_digest": verified.signature_digest,
        "detail": {"keyid": verified.key.key_id}})


def json_object(caller: Caller, request: HttpRequest, keys: set[str], shape: str) -> dict[str, Any]:
    """The request's body as a JSON object of (at most) these ``keys``, or a refusal (400 invalid_json) whose
    message is ``shape``, the sentence that says what the body must be."""
    try:
        body = orjson.loads(request.body or b"null")
    except orjson.JSONDecodeError as exc:
        raise caller.refuse(ErrorCode.INVALID_JSON, _("The body is not JSON: %(error)s") % {"error": exc}) from None
    if not isinstance(body, dict) or set(body) - keys:
        raise caller.refuse(ErrorCode.INVALID_JSON, shape)
    return body


def seconds_to_midnight(now: dt.datetime | None = None) -> int:
    """Until the platform's next midnight (Beijing time by default), when daily quotas start again."""
    local = timezone.localtime(now or timezone.now())
    midnight = (local + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((midnight - local).total_seconds()))
