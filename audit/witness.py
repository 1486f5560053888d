"""A witness: ``python -m audit.witness --name NAME --key-file KEY --state STATE --platform-key PEM [--base-url URL]``.

Run by another department or the audit office, on its own machine, from cron or by hand. Each run fetches the
platform's newest checkpoint, checks the platform's signature with the pinned key, and proves with a
consistency proof (RFC 9162) that it extends the last checkpoint this witness cosigned, kept in the state
file. Only then does it cosign (C2SP cosignature/v1, Ed25519) and submit the cosignature, and remember the
new checkpoint. A log that shrank, or a checkpoint of the same size with another root, or a proof that does
not verify, is a fork or a rewritten history: the witness refuses, keeps its state, says so and exits 2.

Standard library and ``cryptography`` only, with ``audit/merkle.py`` and ``audit/notes.py``; no Django.
``--keygen`` writes a new witness key and prints the public key to register on the platform.
"""

import argparse
import base64
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.merkle import consistency_verifies
from audit.notes import checkpoint_note_parse, cosignature_message


class Fork(Exception):
    """The log the platform shows is not an extension of the one this witness cosigned."""


def _json(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,  # noqa: S310 (http(s) checked by the caller)
                                     headers={"Accept": "application/json", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def witness_run(*, base_url: str, name: str, key: Ed25519PrivateKey, platform_key: Ed25519PublicKey,
                state_file: Path, now: int | None = None) -> str:
    """One round: verify, cosign, submit, remember. Returns what it did; raises Fork or ValueError."""
    if not base_url.startswith(("http://", "https://")):
        raise ValueError("the platform's address is http(s)")
    base = base_url.rstrip("/")
    status, answer = _json("GET", f"{base}/api/v1/audit/checkpoint")
    if status != 200:
        raise ValueError(f"no checkpoint: HTTP {status} {answer}")
    note = answer["note"]
    checkpoint = checkpoint_note_parse(note, platform_key)
    state = json.loads(state_file.read_text()) if state_file.exists() else None
    if state is not None:
        old_size, old_root = int(state["tree_size"]), bytes.fromhex(state["root_hash"])
        if checkpoint.tree_size < old_size:
            raise Fork(f"the log has {checkpoint.tree_size} leaves, fewer than the {old_size} this witness cosigned: "
                       f"it was truncated")
        if checkpoint.tree_size == old_size:
            if checkpoint.root != old_root:
                raise Fork(f"two checkpoints of {old_size} leaves with different roots: the history was rewritten")
            return f"nothing new: still {old_size} leaves"
        query = urllib.parse.urlencode({"first": old_size, "second": checkpoint.tree_size})
        status, proof = _json("GET", f"{base}/api/v1/audit/proof/consistency?{query}")
        if status != 200:
            raise ValueError(f"no consistency proof: HTTP {status} {proof}")
        if not consistency_verifies(old_size, checkpoint.tree_size, [bytes.fromhex(h) for h in proof["proof"]],
                                    old_root, checkpoint.root):
            raise Fork(f"the log of {checkpoint.tree_size} leaves does not extend the {old_size} this witness "
                       f"cosigned: the history was rewritten")
    body = note.partition("\n\n")[0] + "\n"
    timestamp = int(now if now is not None else time.time())
    signature = key.sign(cosignature_message(body, timestamp))
    status, answer = _json("POST", f"{base}/api/v1/audit/cosignatures", {
        "witness": name, "tree_size": checkpoint.tree_size, "timestamp": timestamp,
        "signature": base64.b64encode(signature).decode()})
    if status != 201:
        raise ValueError(f"the platform refused the cosignature: HTTP {status} {answer}")
    state_file.write_text(json.dumps({"tree_size": checkpoint.tree_size, "root_hash": checkpoint.root.hex(),
                                      "origin": checkpoint.origin, "cosigned_at": timestamp}))
    return f"cosigned the checkpoint of {checkpoint.tree_size} leaves"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audit.witness", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--name", help="the witness's key name, as registered on the platform")
    parser.add_argument("--key-file", type=Path, required=True, help="the witness's private key (PEM)")
    parser.add_argument("--keygen", action="store_true", help="write a new key to --key-file, print the public key")
    parser.add_argument("--state", type=Path, help="the witness's state: the last checkpoint it cosigned (JSON)")
    parser.add_argument("--platform-key", type=Path, help="the platform's public key (PEM), pinned")
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    args = parser.parse_args(argv)
    if args.keygen:
        if args.key_file.exists():
            parser.error(f"{args.key_file} exists; keys are never overwritten")
        key = Ed25519PrivateKey.generate()
        args.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
        args.key_file.chmod(0o600)
        print(key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode(), end="")
        return 0
    if not (args.name and args.state and args.platform_key):
        parser.error("--name, --state and --platform-key are required to witness")
    private = serialization.load_pem_private_key(args.key_file.read_bytes(), password=None)
    platform = serialization.load_pem_public_key(args.platform_key.read_bytes())
    if not isinstance(private, Ed25519PrivateKey) or not isinstance(platform, Ed25519PublicKey):
        parser.error("the keys are Ed25519")
    try:
        print(witness_run(base_url=args.base_url, name=args.name, key=private, platform_key=platform,
                          state_file=args.state))
    except Fork as fork:
        print(f"FORK: {fork}. Not cosigned; the state is kept. Tell the auditors.", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        print(f"NOT COSIGNED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
