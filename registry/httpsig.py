"""RFC 9421 HTTP Message Signatures: our policy on top of the ``http-message-signatures`` library.

Requests: exactly one signature, ``ed25519`` only, the key looked up by ``keyid`` (registered, not
revoked, inside its validity window, its system and department active), covering ``@method`` and
``@target-uri`` (and ``content-digest``, checked against the body, when there is one) with the
parameters ``created``, ``expires``, ``keyid`` and ``nonce``; age and clock skew bounded; the nonce
claimed atomically only after the signature verifies, so a replay is refused.

Responses: signed by the platform key over ``@status``, ``content-digest``, the audit receipt
headers and, whenever the request carried a well-formed signature (verified or refused), that
signature (``;req``), which binds the answer to the request it answers.
"""

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any, cast

import http_sf
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone
from django.utils.translation import gettext as _
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)

from core.errors import ErrorCode, PlatformError
from core.keys import platform_key

from .models import SystemKey
from .nonces import nonce_claim
from .versions import VersionedMemo

REQUIRED_COMPONENTS = ("@method", "@target-uri")
REQUIRED_PARAMETERS = ("created", "expires", "keyid", "nonce")
RESPONSE_LABEL = "platform"
# Headers the exchange adds to tie a response to its audit event; covered when present.
RECEIPT_HEADERS = ("audit-event", "audit-leaf-hash")
NONCE_MIN, NONCE_MAX = 16, 128


@dataclass(frozen=True)
class HttpMessage:
    """The request shape the library reads: method, absolute URL, headers."""

    method: str
    url: str
    headers: Any


@dataclass(frozen=True)
class HttpResponseMessage:
    status_code: int
    headers: Any
    request: HttpMessage | None


@dataclass(frozen=True)
class VerifiedRequest:
    key: SystemKey
    label: str
    nonce: str
    signature_digest: str


class SignatureRefused(PlatformError):
    """A signed-request refusal (401), carrying what is known of the caller for the audit log."""

    def __init__(self, code: ErrorCode, message: str | None = None, *, key: SystemKey | None = None,
                 claimed_key_id: str = "",
                 signature_digest: str = "") -> None:
        super().__init__(code, message)
        self.key = key
        self.claimed_key_id = claimed_key_id[:128]
        self.signature_digest = signature_digest


class _KeyRefused(Exception):
    def __init__(self, code: ErrorCode) -> None:
        super().__init__(str(code.default_message))
        self.code = code


@dataclass(frozen=True)
class _KnownKey:
    """A registered key with its system and department, and its parsed public key (kept in memory)."""

    key: SystemKey
    public_key: Any


_KEYS: VersionedMemo[str, _KnownKey] = VersionedMemo("system keys")


def _key_load(key_id: str) -> _KnownKey | None:
    key = SystemKey.objects.select_related("system__department").filter(key_id=key_id).first()
    return _KnownKey(key, key.public_key_object()) if key is not None else None


class _SystemKeyResolver(HTTPSignatureKeyResolver):
    """Looks the key up by keyid and remembers what it found, for the refusal and the audit log."""

    def __init__(self, now: dt.datetime, version: int | None) -> None:
        self.now = now
        self.version = version
        self.key: SystemKey | None = None
        self.claimed_key_id = ""

    def resolve_public_key(self, key_id: str) -> Any:
        self.claimed_key_id = key_id
        known = _key_load(key_id) if self.version is None else _KEYS.get(self.version, key_id,
                                                                         lambda: _key_load(key_id))
        if known is None:
            raise _KeyRefused(ErrorCode.UNKNOWN_KEY)
        key = self.key = known.key
        if key.revoked_at is not None:
            raise _KeyRefused(ErrorCode.KEY_REVOKED)
        if not key.is_usable_at(self.now):
            raise _KeyRefused(ErrorCode.KEY_NOT_VALID)
        if not (key.system.active and key.system.department.active):
            raise _KeyRefused(ErrorCode.SYSTEM_INACTIVE)
        return known.public_key

    def resolve_private_key(self, key_id: str) -> Any:
        raise NotImplementedError("the platform never holds a system's private key")


def request_target_uri(request: HttpRequest) -> str:
    """The request's ``@target-uri`` exactly as the client sent it, when the server says what it received.

    Gunicorn (``RAW_URI``), uWSGI and others (``REQUEST_URI``), and this platform's ``runserver`` and
    live test server (``govplatform.rawuri``) pass the raw request-target on: its path and query are
    verified byte for byte, however the client percent-encoded them (``=``, ``;``, ``~`` or ``%7E``,
    lowercase hex, non-ASCII). An origin-form target (``/path?query``) is joined to the scheme and
    host; an absolute-form one (``http://host/path``, sent to proxies) is the URI itself. A server
    that gives neither (Django's test client) gets the URL Django rebuilds from the decoded path.
    """
    raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")
    if raw:
        raw = str(raw)
        if raw.startswith("/"):
            return f"{request.scheme}://{request.get_host()}{raw}"
        if raw.startswith(("http://", "https://")):
            return raw
    return request.build_absolute_uri()


def http_message(request: HttpRequest) -> HttpMessage:
    return HttpMessage(method=request.method or "GET", url=request_target_uri(request), headers=request.headers)


def signature_digest(request: HttpRequest) -> str:
    """SHA-256 of the Signature header: names the request in the audit log without its URL or body."""
    value = request.headers.get("Signature", "")
    return hashlib.sha256(value.encode("latin-1", "replace")).hexdigest() if value else ""


def request_verify(request: HttpRequest, *, version: int | None = None) -> VerifiedRequest:
    """Verify the request's signature under our policy and claim its nonce; raise SignatureRefused.

    With the request's access ``version`` (``registry.versions``), the key comes from memory when
    nothing changed since it was loaded; without, from the database.
    """
    digest = signature_digest(request)
    if "Signature-Input" not in request.headers or "Signature" not in request.headers:
        raise SignatureRefused(ErrorCode.SIGNATURE_MISSING)
    max_age = dt.timedelta(seconds=settings.SIGNATURE_MAX_AGE_SECONDS)
    resolver = _SystemKeyResolver(timezone.now(), version)
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=resolver)
    verifier.max_clock_skew = dt.timedelta(seconds=settings.SIGNATURE_CLOCK_SKEW_SECONDS)
    body = request.body
    required = REQUIRED_COMPONENTS + (("content-digest",) if body else ())

    def refused(code: ErrorCode, message: str | None = None) -> SignatureRefused:
        return SignatureRefused(code, message, key=resolver.key, claimed_key_id=resolver.claimed_key_id,
                                signature_digest=digest)

    try:
        results = verifier.verify(http_message(request), max_age=max_age, require_components=required,
                                  body=body or None)
    except (InvalidSignature, HTTPMessageSignaturesException) as exc:
        cause = exc.__cause__
        if isinstance(cause, _KeyRefused):
            raise refused(cause.code) from exc
        if isinstance(cause, DatabaseError):
            raise PlatformError(ErrorCode.UNAVAILABLE) from exc
        # The library's reason is technical and stays in English; the sentence around it is translated.
        raise refused(ErrorCode.SIGNATURE_INVALID, _("The request signature was not accepted: %(reason)s") % {
            "reason": exc}) from exc

    result = results[0]
    missing = [name for name in REQUIRED_PARAMETERS if name not in result.parameters]
    if missing:
        raise refused(ErrorCode.SIGNATURE_PARAMETERS_MISSING,
                      _("The signature must carry the parameters %(required)s; missing: %(missing)s.") % {
                          "required": ", ".join(REQUIRED_PARAMETERS), "missing": ", ".join(missing)})
    lifetime = int(result.parameters["expires"]) - int(result.parameters["created"])
    if lifetime > settings.SIGNATURE_MAX_AGE_SECONDS:
        raise refused(ErrorCode.SIGNATURE_LIFETIME_TOO_LONG,
                      _("expires may be at most %(seconds)d seconds after created.") % {
                          "seconds": settings.SIGNATURE_MAX_AGE_SECONDS})
    nonce = str(result.parameters["nonce"])
    if not (NONCE_MIN <= len(nonce) <= NONCE_MAX and nonce.isprintable()):
        raise refused(ErrorCode.NONCE_INVALID, _("The nonce must be %(min)d-%(max)d printable characters, fresh "
                                                 "and random for every request.") % {
            "min": NONCE_MIN, "max": NONCE_MAX})
    assert resolver.key is not None
    ttl = settings.SIGNATURE_MAX_AGE_SECONDS + 2 * settings.SIGNATURE_CLOCK_SKEW_SECONDS
    if not nonce_claim(key_id=resolver.key.key_id, nonce=nonce, ttl_seconds=ttl,
                       created=int(result.parameters["created"])):
        raise refused(ErrorCode.REPLAYED)
    return VerifiedRequest(key=resolver.key, label=result.label, nonce=nonce, signature_digest=digest)


def _request_signature_label(request: HttpRequest) -> str | None:
    """The label of the request's single signature, if its Signature header is well formed."""
    try:
        parsed = cast(dict[str, Any], http_sf.parse(request.headers.get("Signature", "").encode("latin-1"),
                                                     tltype="dictionary"))
    except (ValueError, UnicodeEncodeError):
        return None
    return next(iter(parsed)) if len(parsed) == 1 else None


def response_sign(response: HttpResponseBase, request: HttpRequest) -> None:
    """Sign a rendered response in place with the platform key (raises PlatformError 503 without it).

    The request's signature is covered (``;req``) when it can be: a request whose URL or Signature
    the library cannot read was refused anyway, and its answer is signed without that binding.
    """
    key = platform_key()
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={key.key_id: key.private_key}),
    )
    components = ["@status", *(name for name in RECEIPT_HEADERS if name in response.headers)]

    def sign(covered: list[str]) -> dict[str, str]:
        headers: dict[str, str] = dict(response.items())
        message = HttpResponseMessage(status_code=response.status_code, headers=headers,
                                      request=http_message(request))
        signer.sign(message, key_id=key.key_id, label=RESPONSE_LABEL, covered_component_ids=covered,
                    body=bytes(response.content))  # type: ignore[attr-defined]
        return headers

    label = _request_signature_label(request)
    try:
        headers = sign([*components, f'"signature";req;key="{label}"'] if label else components)
    except HTTPMessageSignaturesException:
        if not label:
            raise
        headers = sign(components)
    for name in ("Content-Digest", "Signature-Input", "Signature"):
        response[name] = headers[name]
