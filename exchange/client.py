"""A small client for consumer systems: keys, every call of the systems' API, verified answers, receipts.

Depends only on ``cryptography``, ``http-message-signatures`` (with its ``http-sf``), the standard library and
the platform's two proof modules ``audit/merkle.py`` and ``audit/notes.py`` (standard library and
``cryptography``; no Django), so a consumer can copy these three files. ``PlatformClient`` makes each call (grants,
read, records, lookup, push, export); ``receipt_make`` and ``receipt_verify`` keep a signed answer and
check it later, offline. As a CLI (``--help`` on each command)::

    python -m exchange.client keygen --out police-rms.pem
    python -m exchange.client grants --key-file police-rms.pem --key-id police-rms-2026 \\
        --platform-key platform-signing-key.pub.pem
    python -m exchange.client read vaccination-records 110101199003070011 --fields vaccine ... --receipt r.json
    python -m exchange.client verify-receipt r.json --platform-key platform-signing-key.pub.pem
    python -m exchange.client prove r.json --platform-key platform-signing-key.pub.pem

The private key never leaves the consumer: ``keygen`` writes it (mode 0600) and prints the public
key to paste into the platform's admin.
"""

import argparse
import base64
import datetime as dt
import hashlib
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
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

from audit.merkle import inclusion_verifies
from audit.notes import checkpoint_note_parse

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
    return request("GET", url, private_key=private_key, key_id=key_id, platform_public_key=platform_public_key,
                   timeout=timeout)



# --- Every call of the systems' API ------------------------------------------------------------------------


class RequestFailed(Exception):
    """A non-2xx answer: its status, the platform's error code and message, and the whole response."""

    def __init__(self, response: SignedResponse) -> None:
        body = response.json() if response.body and response.headers.get("Content-Type", "").startswith(
            "application/json") else None
        error = (body or {}).get("error") or {}
        self.response, self.status, self.code = response, response.status_code, error.get("code", "")
        super().__init__(f"HTTP {response.status_code} {self.code}: {error.get('message', '')}".strip())


def request(method: str, url: str, *, body: bytes | None = None, private_key: Ed25519PrivateKey | None = None,
            key_id: str | None = None, platform_public_key: Ed25519PublicKey | None = None,
            timeout: float = 30) -> SignedResponse:
    """Send one request, signed when a key is given (content-digest covered with a body), and verify the answer's
    signature when the platform key is given. The URL is signed and sent exactly as given."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"only http(s) URLs are signed and sent, not {url!r}")
    headers = {"Accept": "application/json", **({"Content-Type": "application/json"} if body is not None else {})}
    message = Message(method, url, headers)
    if private_key is not None and key_id is not None:
        message = sign_request(message, private_key=private_key, key_id=key_id, body=body)
    http_request = urllib.request.Request(url, data=body, method=method,  # noqa: S310 (checked above)
                                          headers=message.headers)
    try:
        with _NO_REDIRECTS.open(http_request, timeout=timeout) as raw:
            status, response_headers, content = raw.status, dict(raw.headers.items()), raw.read()
    except urllib.error.HTTPError as error:
        status, response_headers, content = error.code, dict(error.headers.items()), error.read()
    response = SignedResponse(status_code=status, headers=response_headers, body=content, request=message)
    if platform_public_key is not None:
        try:
            verify_response(response, platform_public_key=platform_public_key)
            response.verified = True
        except InvalidSignature as exc:
            response.verification_error = str(exc)
    return response


class PlatformClient:
    """The systems' API as methods. Each returns the answer's JSON (raising RequestFailed on a refusal) and keeps
    the last response in ``last`` (for its receipt); with ``platform_public_key`` every answer is verified and
    one that does not verify raises InvalidSignature. Without a key, calls go unsigned (open data)."""

    def __init__(self, base_url: str, *, private_key: Ed25519PrivateKey | None = None, key_id: str | None = None,
                 platform_public_key: Ed25519PublicKey | None = None, timeout: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self.private_key, self.key_id = private_key, key_id
        self.platform_public_key, self.timeout = platform_public_key, timeout
        self.last: SignedResponse | None = None

    def url(self, *segments: str, query: dict[str, Any] | None = None) -> str:
        path = "/".join(urllib.parse.quote(segment, safe="") for segment in segments)
        pairs = [(name, value) for name, value in (query or {}).items() if value is not None]
        return f"{self.base_url}/api/v1/{path}" + (f"?{urllib.parse.urlencode(pairs)}" if pairs else "")

    def call(self, method: str, url: str, body: Any = None, *, expect: tuple[int, ...] = (200,)) -> Any:
        raw = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        response = request(method, url, body=raw, private_key=self.private_key, key_id=self.key_id,
                           platform_public_key=self.platform_public_key, timeout=self.timeout)
        self.last = response
        if self.platform_public_key is not None and not response.verified:
            raise InvalidSignature(f"the answer's signature did not verify: {response.verification_error}")
        if response.status_code not in expect:
            raise RequestFailed(response)
        return response.json()

    def grants(self) -> Any:
        return self.call("GET", self.url("grants"))

    def read(self, dataset: str, key: str, *, fields: list[str] | None = None, grant: int | None = None) -> Any:
        return self.call("GET", self.url("datasets", dataset, "records", key, query={
            "fields": ",".join(fields) if fields else None, "grant": grant}))

    def records(self, dataset: str, *, fields: list[str] | None = None, grant: int | None = None,
             filters: dict[str, str] | None = None, limit: int | None = None, after: str | None = None) -> Any:
        query = {"fields": ",".join(fields) if fields else None, "grant": grant, "limit": limit, "after": after,
                 **(filters or {})}
        return self.call("GET", self.url("datasets", dataset, "records", query=query))

    def records_all(self, dataset: str, **options: Any) -> Iterator[dict[str, Any]]:
        """Every record, page after page, following next_cursor."""
        after = None
        while True:
            page = self.records(dataset, after=after, **options)
            yield from page["records"]
            after = page["next_cursor"]
            if after is None:
                return

    def lookup(self, dataset: str, keys: list[str], *, fields: list[str] | None = None,
               grant: int | None = None) -> Any:
        body: dict[str, Any] = {"keys": keys}
        if fields:
            body["fields"] = fields
        if grant is not None:
            body["grant"] = grant
        return self.call("POST", self.url("datasets", dataset, "lookup"), body)

    def push(self, dataset: str, batch_id: str, *, upsert: list[dict[str, Any]] | None = None,
             delete: list[str] | None = None) -> Any:
        return self.call("POST", self.url("datasets", dataset, "batches"),
                         {"batch_id": batch_id, "upsert": upsert or [], "delete": delete or []})

    def export(self, dataset: str, fmt: str = "csv", *, fields: list[str] | None = None,
               grant: int | None = None) -> Any:
        body: dict[str, Any] = {"format": fmt}
        if fields:
            body["fields"] = fields
        if grant is not None:
            body["grant"] = grant
        return self.call("POST", self.url("datasets", dataset, "exports"), body, expect=(202,))

    def export_status(self, export_id: str) -> Any:
        return self.call("GET", self.url("exports", export_id))

    def export_wait(self, export_id: str, *, every: float = 1.0, timeout: float = 3600,
                    progress: Any = None) -> Any:
        """Poll the status until the export is done (or failed: RuntimeError)."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.export_status(export_id)
            if progress is not None:
                progress(status)
            if status["state"] == "done":
                return status
            if status["state"] in ("failed", "expired", "downloaded"):
                raise RuntimeError(f"export {export_id} is {status['state']}: {status.get('error') or ''}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"export {export_id} not done after {timeout} s")
            time.sleep(every)

    def export_download(self, status: dict[str, Any], out: Path) -> str:
        """Stream the file to ``out`` (0600) and check its SHA-256 against the status and Content-Digest."""
        url = status["download_url"]
        url = url if url.startswith("http") else self.base_url + url
        digest = hashlib.sha256()
        http_request = urllib.request.Request(url, method="GET")  # noqa: S310 (the platform's own link)
        with _NO_REDIRECTS.open(http_request, timeout=self.timeout) as raw:
            announced = raw.headers.get("Content-Digest", "")
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                while chunk := raw.read(1 << 16):
                    handle.write(chunk)
                    digest.update(chunk)
        expected = "sha-256=:" + base64.b64encode(digest.digest()).decode() + ":"
        if digest.hexdigest() != status["file_digest"] or announced != expected:
            out.unlink(missing_ok=True)
            raise InvalidSignature("the downloaded file's SHA-256 is not the export's")
        return digest.hexdigest()


# --- Receipts: a signed answer, kept ------------------------------------------------------------------------

RECEIPT_HEADERS = ("Audit-Event", "Audit-Leaf-Hash", "Content-Digest", "Signature-Input", "Signature")


def receipt_make(response: SignedResponse) -> dict[str, Any]:
    """What a consumer keeps of an answer: the request (method, URL, its signature, never a key), the status and
    the headers the platform's signature covers, the body's SHA-256. ``receipt_verify`` checks it later, offline,
    without the body. Its ``Audit-Leaf-Hash`` is what an inclusion proof against a signed checkpoint proves."""
    headers = {name.lower(): value for name, value in response.headers.items()}
    return {
        "request": {"method": response.request.method, "url": response.request.url,
                    "signature_input": response.request.headers.get("Signature-Input"),
                    "signature": response.request.headers.get("Signature")},
        "status": response.status_code,
        "headers": {name: headers[name.lower()] for name in RECEIPT_HEADERS if name.lower() in headers},
        "body_sha256": hashlib.sha256(response.body).hexdigest(),
        "received_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def receipt_verify(receipt: dict[str, Any], *, platform_public_key: Ed25519PublicKey,
                   body: bytes | None = None) -> str:
    """Check a kept receipt with the platform's public key; InvalidSignature if it does not hold. Returns what it
    proved, in words."""
    sent = receipt["request"]
    request_headers = {name: value for name, value in (("Signature-Input", sent.get("signature_input")),
                                                       ("Signature", sent.get("signature"))) if value}
    message = Message(sent["method"], sent["url"], request_headers)
    response = SignedResponse(status_code=receipt["status"], headers=dict(receipt["headers"]), body=body or b"",
                              request=message)
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519,
                                   key_resolver=_AnyKeyIdResolver(platform_public_key))
    label = request_label(message)
    required = ["@status", "content-digest", *([f'"signature";req;key="{label}"'] if label else [])]
    verifier.verify(response, require_components=required, body=body, max_age=dt.timedelta(days=36500))
    if body is not None and hashlib.sha256(body).hexdigest() != receipt["body_sha256"]:
        raise InvalidSignature("the body is not the one this receipt was made for")
    proved = (f"the platform signed status {receipt['status']} and this body digest in answer to "
              f"{sent['method']} {sent['url']}" + (" (bound to the request's own signature)" if label else ""))
    if "Audit-Event" in receipt["headers"]:
        proved += f"; its audit event is {receipt['headers']['Audit-Event']}"
    return proved + ("; the body given matches" if body is not None else "")


def inclusion_prove(base_url: str, leaf_hash: str, *, platform_public_key: Ed25519PublicKey,
                    timeout: float = 30) -> dict[str, Any]:
    """Prove that the event with ``leaf_hash`` (a receipt's ``Audit-Leaf-Hash``) is in the audit log the platform
    signed: the latest checkpoint, its signature checked with the pinned key, and an RFC 9162 inclusion proof
    against its root. Returns the checkpoint note and the proof (keep them: they prove it offline later);
    ValueError when anything does not hold."""
    base = base_url.rstrip("/")
    answer = request("GET", f"{base}/api/v1/audit/checkpoint", timeout=timeout)
    if answer.status_code != 200:
        raise ValueError(f"no checkpoint: HTTP {answer.status_code} {answer.body[:200]!r}")
    note = answer.json()["note"]
    checkpoint = checkpoint_note_parse(note, platform_public_key)
    query = urllib.parse.urlencode({"leaf_hash": leaf_hash, "tree_size": checkpoint.tree_size})
    answer = request("GET", f"{base}/api/v1/audit/proof/inclusion?{query}", timeout=timeout)
    if answer.status_code != 200:
        raise ValueError(f"no inclusion proof: HTTP {answer.status_code} {answer.body[:300]!r}")
    proof = answer.json()
    hashes = [bytes.fromhex(h) for h in proof["proof"]]
    if not inclusion_verifies(proof["index"], checkpoint.tree_size, bytes.fromhex(leaf_hash), hashes,
                              checkpoint.root):
        raise ValueError("the inclusion proof does not lead to the signed checkpoint's root")
    return {"leaf_hash": leaf_hash, "index": proof["index"], "tree_size": checkpoint.tree_size,
            "root_hash": checkpoint.root.hex(), "checkpoint": note, "proof": proof["proof"]}


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base-url", default=os.environ.get("GOVPLATFORM_URL", "http://127.0.0.1:8000"),
                        help="the platform's address (or GOVPLATFORM_URL)")
    parser.add_argument("--key-file", type=Path, help="the system's private key (PEM); without it the call goes "
                        "unsigned (open data only)")
    parser.add_argument("--key-id", help="the keyid registered on the platform")
    parser.add_argument("--platform-key", type=Path,
                        help="the platform's public key (PEM), pinned; without it answers are not verified")
    parser.add_argument("--receipt", type=Path, help="write the answer's receipt (JSON) to this file")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m exchange.client", description=(__doc__ or "").split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    keygen_cmd = commands.add_parser("keygen", help="create an Ed25519 key pair; print the public key")
    keygen_cmd.add_argument("--out", type=Path, required=True, help="where to write the private key (PEM)")
    get_cmd = commands.add_parser("get", help="make a signed GET of any URL and verify the signed answer")
    get_cmd.add_argument("url")
    get_cmd.add_argument("--key-file", type=Path, required=True, help="the system's private key (PEM)")
    get_cmd.add_argument("--key-id", required=True, help="the keyid registered on the platform")
    get_cmd.add_argument("--platform-key", type=Path,
                         help="the platform's public key (PEM), pinned; without it the response is not verified")
    get_cmd.add_argument("--receipt", type=Path, help="write the answer's receipt (JSON) to this file")
    _common(commands.add_parser("grants", help="what this system may read (its grants, quota left today)"))
    read = commands.add_parser("read", help="one record's granted fields")
    read.add_argument("dataset")
    read.add_argument("key")
    records = commands.add_parser("records", help="a dataset's records, a page at a time (JSON lines)")
    records.add_argument("dataset")
    records.add_argument("--filter", action="append", default=[], metavar="FIELD=VALUE",
                         help="only records whose field has this value (a field your grant serves unmasked)")
    records.add_argument("--limit", type=int)
    records.add_argument("--all", action="store_true", help="follow next_cursor to the last page")
    lookup = commands.add_parser("lookup", help="up to 1,000 records by key in one call")
    lookup.add_argument("dataset")
    lookup.add_argument("keys", nargs="*", help="the keys (or --keys-file)")
    lookup.add_argument("--keys-file", type=Path, help="a file of keys, one a line")
    push = commands.add_parser("push", help="push a batch of records (the providing department's systems)")
    push.add_argument("dataset")
    push.add_argument("batch_file", type=Path, help='JSON: {"batch_id": ..., "upsert": [...], "delete": [...]}')
    export = commands.add_parser("export", help="export a dataset under a grant, wait for it, download it")
    export.add_argument("dataset")
    export.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    export.add_argument("--out", type=Path, required=True, help="where to write the file")
    for command in (read, records, lookup, export):
        command.add_argument("--fields", help="comma-separated field names")
        command.add_argument("--grant", type=int, help="the grant to read under")
    for command in (read, records, lookup, push, export):
        _common(command)
    verify = commands.add_parser("verify-receipt", help="check a kept receipt offline with the platform's key")
    verify.add_argument("receipt_file", type=Path)
    verify.add_argument("--platform-key", type=Path, required=True)
    verify.add_argument("--body", type=Path, help="the answer's body, to check it too")
    prove = commands.add_parser("prove", help="prove a receipt's audit event is in the log the platform signed")
    prove.add_argument("receipt_file", type=Path, nargs="?", help="a receipt written with --receipt")
    prove.add_argument("--leaf-hash", help="or the Audit-Leaf-Hash itself")
    prove.add_argument("--platform-key", type=Path, required=True, help="the platform's public key (PEM), pinned")
    prove.add_argument("--base-url", default=os.environ.get("GOVPLATFORM_URL", "http://127.0.0.1:8000"))
    prove.add_argument("--out", type=Path, help="write the checkpoint and the proof (JSON), to prove it offline later")
    return parser


def _client(args: argparse.Namespace) -> PlatformClient:
    if (args.key_file is None) != (args.key_id is None):
        raise SystemExit("give --key-file and --key-id together (or neither, for open data)")
    return PlatformClient(args.base_url, private_key=load_private_key(args.key_file) if args.key_file else None,
                          key_id=args.key_id,
                          platform_public_key=load_public_key(args.platform_key) if args.platform_key else None)


def _run(client: PlatformClient, args: argparse.Namespace) -> Any:
    fields = [name.strip() for name in args.fields.split(",")] if getattr(args, "fields", None) else None
    grant = getattr(args, "grant", None)
    if args.command == "grants":
        return client.grants()
    if args.command == "read":
        return client.read(args.dataset, args.key, fields=fields, grant=grant)
    if args.command == "records":
        filters = dict(item.split("=", 1) for item in args.filter)
        if args.all:
            for record in client.records_all(args.dataset, fields=fields, grant=grant, filters=filters,
                                             limit=args.limit):
                print(json.dumps(record, ensure_ascii=False))
            return None
        return client.records(args.dataset, fields=fields, grant=grant, filters=filters, limit=args.limit)
    if args.command == "lookup":
        keys = list(args.keys) + (args.keys_file.read_text().split() if args.keys_file else [])
        return client.lookup(args.dataset, keys, fields=fields, grant=grant)
    if args.command == "push":
        batch = json.loads(args.batch_file.read_text())
        return client.push(args.dataset, batch["batch_id"], upsert=batch.get("upsert"), delete=batch.get("delete"))
    if args.command == "export":
        created = client.export(args.dataset, args.format, fields=fields, grant=grant)

        def progress(status: dict[str, Any]) -> None:
            print(f"export {status['id']}: {status['state']} {status['rows_done']}/{status['rows_total']}",
                  file=sys.stderr)

        status = client.export_wait(created["id"], progress=progress)
        digest = client.export_download(status, args.out)
        print(f"{args.out}: {status['file_size']} bytes, sha-256 {digest} (as the platform's audit log records it)",
              file=sys.stderr)
        return status
    raise AssertionError(args.command)


def _report(response: SignedResponse | None, args: argparse.Namespace) -> None:
    if response is None:
        return
    print(f"HTTP {response.status_code}", file=sys.stderr)
    for name in ("Audit-Event", "Audit-Leaf-Hash"):
        if name in response.headers:
            print(f"{name}: {response.headers[name]}", file=sys.stderr)
    if args.platform_key is None:
        print("Response signature: not checked (pass --platform-key)", file=sys.stderr)
    elif response.verified:
        print("Response signature: verified with the platform key", file=sys.stderr)
    else:
        print(f"Response signature: INVALID ({response.verification_error})", file=sys.stderr)
    if args.receipt is not None:
        args.receipt.write_text(json.dumps(receipt_make(response), ensure_ascii=False, indent=2))
        print(f"Receipt written to {args.receipt}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)

    if args.command == "keygen":
        if args.out.exists():
            parser.error(f"{args.out} exists; choose another path (keys are never overwritten)")
        pem = keygen(args.out)
        print(f"Private key written to {args.out} (keep it here; it never goes to the platform).", file=sys.stderr)
        print("Public key, to register in the platform's admin (Systems > keys):", file=sys.stderr)
        print(pem, end="")
        return 0

    if args.command == "prove":
        leaf_hash = args.leaf_hash
        if leaf_hash is None and args.receipt_file is not None:
            leaf_hash = json.loads(args.receipt_file.read_text())["headers"].get("Audit-Leaf-Hash")
        if not leaf_hash:
            parser.error("give a receipt with an Audit-Leaf-Hash, or --leaf-hash")
        try:
            proved = inclusion_prove(args.base_url, leaf_hash, platform_public_key=load_public_key(args.platform_key))
        except (ValueError, OSError) as exc:
            print(f"NOT PROVED: {exc}", file=sys.stderr)
            return 1
        if args.out is not None:
            args.out.write_text(json.dumps(proved, indent=2))
        print(f"PROVED: leaf {proved['index']} of the {proved['tree_size']}-leaf log the platform signed "
              f"(root {proved['root_hash'][:16]}...) holds this event", file=sys.stderr)
        return 0

    if args.command == "verify-receipt":
        receipt = json.loads(args.receipt_file.read_text())
        body = args.body.read_bytes() if args.body else None
        try:
            print("Receipt holds: " + receipt_verify(receipt, platform_public_key=load_public_key(args.platform_key),
                                                     body=body))
        except InvalidSignature as exc:
            print(f"Receipt does NOT hold: {exc}", file=sys.stderr)
            return 2
        return 0

    if args.command == "get":
        platform_public_key = load_public_key(args.platform_key) if args.platform_key else None
        response = get(args.url, private_key=load_private_key(args.key_file), key_id=args.key_id,
                       platform_public_key=platform_public_key)
        _report(response, args)
        print(response.body.decode("utf-8", "replace"))
        if platform_public_key is not None and not response.verified:
            return 2
        return 0 if 200 <= response.status_code < 300 else 1

    client = _client(args)
    try:
        result = _run(client, args)
    except RequestFailed as refused:
        _report(refused.response, args)
        print(refused.response.body.decode("utf-8", "replace"))
        return 1
    except InvalidSignature as exc:
        _report(client.last, args)
        print(f"Response signature: INVALID ({exc})", file=sys.stderr)
        return 2
    _report(client.last, args)
    if result is not None:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
