"""Check an evidence bundle of the audit log offline: ``python -m audit.verify_bundle BUNDLE [--public-key PEM]``.

Needs nothing but Python and ``cryptography`` (this file, ``audit/merkle.py`` and ``audit/notes.py``; no
Django, no database, no network). A bundle (made in the admin, ``audit.bundles``) holds events as the
exact bytes the log hashed, each with its leaf index and RFC 9162 inclusion proof, the checkpoint the
proofs lead to (a C2SP signed note) and the platform's public key. The check:

1. the checkpoint's signature, with the key given by ``--public-key`` (pinned: say so when it is the
   bundle's own copy, which proves only that the bundle is self-consistent);
2. for each event, its leaf hash recomputed from its bytes, and its inclusion proof up to the signed root.

It says exactly what it proved, or which event or proof failed, and exits 0 only if everything holds.
"""

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.merkle import inclusion_verifies, leaf_hash
from audit.notes import checkpoint_note_parse

BUNDLE_FORMAT = "govplatform-audit-bundle/1"


def bundle_verify(bundle: dict[str, Any], public_key: Ed25519PublicKey) -> tuple[list[str], list[str]]:
    """(what was proved, what failed): each a list of sentences."""
    if bundle.get("format") != BUNDLE_FORMAT:
        return [], [f"not an evidence bundle of this platform (format {bundle.get('format')!r})"]
    try:
        checkpoint = checkpoint_note_parse(bundle["checkpoint"], public_key)
    except (KeyError, ValueError) as exc:
        return [], [f"the checkpoint: {exc}"]
    proved = [f"the platform's key signed the checkpoint of the log {checkpoint.origin!r} at {checkpoint.tree_size} "
              f"leaves, root {checkpoint.root.hex()}"]
    failed = []
    indices = []
    for position, event in enumerate(bundle.get("events", [])):
        try:
            content = base64.b64decode(event["leaf"], validate=True)
            index, proof = int(event["index"]), [bytes.fromhex(h) for h in event["proof"]]
        except (KeyError, ValueError, TypeError) as exc:
            failed.append(f"event {position}: malformed ({exc})")
            continue
        computed = leaf_hash(content)
        if computed.hex() != event.get("leaf_hash"):
            failed.append(f"event at leaf {index}: its content does not hash to the leaf hash it names "
                          f"(altered content)")
            continue
        if not inclusion_verifies(index, checkpoint.tree_size, computed, proof, checkpoint.root):
            failed.append(f"event at leaf {index}: its inclusion proof does not lead to the signed root")
            continue
        indices.append(index)
    if indices:
        proved.append(f"{len(indices)} events (leaves {min(indices)} to {max(indices)}) are in that log exactly as "
                      f"this bundle shows them: each one's content hashes to its leaf, and its proof leads to the root")
    elif not failed:
        failed.append("the bundle holds no events")
    return proved, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audit.verify_bundle", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--public-key", type=Path, help="the platform's public key (PEM), pinned out of band")
    args = parser.parse_args(argv)
    try:
        bundle = json.loads(args.bundle.read_text())
    except (OSError, ValueError) as exc:
        print(f"NOT VERIFIED: cannot read {args.bundle}: {exc}")
        return 2
    pinned = args.public_key is not None
    pem = args.public_key.read_bytes() if pinned else str(bundle.get("public_key_pem", "")).encode()
    try:
        public_key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        print(f"NOT VERIFIED: the public key cannot be read: {exc}")
        return 2
    if not isinstance(public_key, Ed25519PublicKey):
        print("NOT VERIFIED: the public key is not Ed25519")
        return 2
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    fingerprint = hashlib.sha256(raw).hexdigest()[:16]
    proved, failed = bundle_verify(bundle, public_key)
    for line in failed:
        print(f"FAILED: {line}")
    for line in proved:
        print(f"PROVED: {line}")
    print(f"key: sha256 {fingerprint}..." + ("" if pinned else " (the bundle's own copy: pass --public-key with the "
                                                               "platform's key, obtained out of band, to prove more "
                                                               "than self-consistency)"))
    if failed:
        print("NOT VERIFIED")
        return 1
    print("VERIFIED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
