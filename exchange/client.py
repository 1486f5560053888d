"""A small client for consumer systems: keys, signed requests, verified responses.

Depends only on ``cryptography``, ``http-message-signatures`` (with its ``http-sf``) and the standard library
(no Django),
so a consumer can copy this one file. As a CLI::

    python -m exchange.client keygen --out police-rms.pem
    python -m exchange.client get URL --key-file police-rms.pem --key-id police-rms-2026 \\
        --platform-key platform-signing-key.pub.pem

The private key never leaves the consumer: ``keygen`` writes it (mode 0600) and prints the public
key to paste into the platform's admin.
"""

import argparse
import datetime as dt
import json
import os
import secrets
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import http_sf
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)

REQUEST_LABEL = "sig1"
REQUEST_COMPONENTS = ("@method", "@target-uri")
SIGNATURE_LIFETIME = dt.timedelta(seconds=60)


@dataclass
class Message:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SignedResponse:
    status_code: int
    headers: dict[str, str]
    body: bytes
    request: Message
    verified: bool = False
    verification_error: str = ""

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def keygen(out: Path) -> str:
    """Write a new Ed25519 private key to ``out`` (0600, never overwritten); return the public PEM."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return public_pem(key.public_key())


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def sign_request(message: Message, *, private_key: Ed25519PrivateKey, key_id: str, body: bytes | None = None,
                 nonce: str | None = None, created: dt.datetime | None = None) -> Message:
    """Sign in place per the platform's policy: method, target URI, created, expires, keyid, nonce."""
    created = created or dt.datetime.now(dt.UTC)
    signer = HTTPMessageSigner(signature_algorithm=algorithms.ED25519,
                               key_resolver=MappingKeyResolver(public_keys={}, private_keys={key_id: private_key}))
    signer.sign(message, key_id=key_id, label=REQUEST_LABEL, created=created, expires=created + SIGNATURE_LIFETIME,
                nonce=nonce or secrets.token_urlsafe(24), covered_component_ids=REQUEST_COMPONENTS,
                body=body if body else None)
    return message


def request_label(message: Message) -> str | None:
    """The label of the request's single signature (whatever the signer called it), or None if unsigned."""
    value = message.headers.get("Signature") or next(
        (v for k, v in message.headers.items() if k.lower() == "signature"), "")
    if not value:
        return None
    parsed = cast(dict[str, Any], http_sf.parse(value.encode("latin-1"), tltype="dictionary"))
    if len(parsed) != 1:
        raise InvalidSignature("the request carries more than one signature")
    return str(next(iter(parsed)))


def verify_response(response: SignedResponse, *, platform_public_key: Ed25519PublicKey) -> None:
    """Check the platform's signature: status and body digest are covered, and, when the request was signed
    (under any label), the request's own signature (``;req``): the answer is bound to the request it answers."""
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519,
        key_resolver=_AnyKeyIdResolver(platform_public_key),
    )
    label = request_label(response.request)
    required = ["@status", "content-digest", *([f'"signature";req;key="{label}"'] if label else [])]
    verifier.verify(response, require_components=required, body=response.body, max_age=dt.timedelta(minutes=5))


class _AnyKeyIdResolver(MappingKeyResolver):
    """The platform has one pinned public key; its keyid is informational."""

    def __init__(self, key: Ed25519PublicKey) -> None:
        super().__init__(public_keys={}, private_keys={})
        self.key = key

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey:
        return self.key


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A signature is for one URL: a redirect comes back as the response, never followed with our headers."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_NO_REDIRECTS = urllib.request.build_opener(_RefuseRedirects)


def get(url: str, *, private_key: Ed25519PrivateKey, key_id: str,
        platform_public_key: Ed25519PublicKey | None = None, timeout: float = 30) -> SignedResponse:
    """Make a signed GET; verify the response's signature when the platform key is given."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"only http(s) URLs are signed and sent, not {url!r}")
    request = sign_request(Message("GET", url, {"Accept": "application/json"}), private_key=private_key,
                           key_id=key_id)
    http_request = urllib.request.Request(url, method="GET", headers=request.headers)  # noqa: S310 (checked above)
    try:
        with _NO_REDIRECTS.open(http_request, timeout=timeout) as raw:
            status, headers, body = raw.status, dict(raw.headers.items()), raw.read()
    except urllib.error.HTTPError as error:
        status, headers, body = error.code, dict(error.headers.items()), error.read()
    response = SignedResponse(status_code=status, headers=headers, body=body, request=request)
    if platform_public_key is not None:
        try:
            verify_response(response, platform_public_key=platform_public_key)
            response.verified = True
        except InvalidSignature as exc:
            response.verification_error = str(exc)
    return response


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exchange.client", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    keygen_cmd = commands.add_parser("keygen", help="create an Ed25519 key pair; print the public key")
    keygen_cmd.add_argument("--out", type=Path, required=True, help="where to write the private key (PEM)")
    get_cmd = commands.add_parser("get", help="make a signed GET request and verify the signed response")
    get_cmd.add_argument("url")
    get_cmd.add_argument("--key-file", type=Path, required=True, help="the system's private key (PEM)")
    get_cmd.add_argument("--key-id", required=True, help="the keyid registered on the platform")
    get_cmd.add_argument("--platform-key", type=Path,
                         help="the platform's public key (PEM), pinned; without it the response is not verified")
    args = parser.parse_args(argv)

    if args.command == "keygen":
        if args.out.exists():
            parser.error(f"{args.out} exists; choose another path (keys are never overwritten)")
        pem = keygen(args.out)
        print(f"Private key written to {args.out} (keep it here; it never goes to the platform).", file=sys.stderr)
        print("Public key, to register in the platform's admin (Systems > keys):", file=sys.stderr)
        print(pem, end="")
        return 0

    platform_public_key = load_public_key(args.platform_key) if args.platform_key else None
    response = get(args.url, private_key=load_private_key(args.key_file), key_id=args.key_id,
                   platform_public_key=platform_public_key)
    print(f"HTTP {response.status_code}", file=sys.stderr)
    for name in ("Audit-Event", "Audit-Leaf-Hash"):
        if name in response.headers:
            print(f"{name}: {response.headers[name]}", file=sys.stderr)
    if platform_public_key is None:
        print("Response signature: not checked (pass --platform-key)", file=sys.stderr)
    elif response.verified:
        print("Response signature: verified with the platform key", file=sys.stderr)
    else:
        print(f"Response signature: INVALID ({response.verification_error})", file=sys.stderr)
    print(response.body.decode("utf-8", "replace"))
    if platform_public_key is not None and not response.verified:
        return 2
    return 0 if 200 <= response.status_code < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
