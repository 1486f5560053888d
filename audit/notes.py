"""C2SP signed notes of the audit log's checkpoints, read and checked with the platform's public key.

Standard library and ``cryptography`` only (no Django), like ``audit.merkle``: the consumers' client and
offline verifiers use it as the platform does.
"""

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


@dataclass(frozen=True)
class TrustedCheckpoint:
    origin: str
    tree_size: int
    root: bytes


def checkpoint_note_parse(text: str, public_key: Ed25519PublicKey) -> TrustedCheckpoint:
    """Read a C2SP signed checkpoint note and check the platform's signature on it; ValueError if not."""
    body, blank, signatures = text.partition("\n\n")
    lines = body.split("\n")
    if not blank or len(lines) < 3:
        raise ValueError("not a signed checkpoint: expected origin, size and root lines, a blank line, signatures")
    origin, size_text, root_text = lines[:3]
    try:
        size, root = int(size_text), base64.b64decode(root_text, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise ValueError("the checkpoint's size or root is malformed") from exc
    if size < 0 or len(root) != 32:
        raise ValueError("the checkpoint's size or root is malformed")
    raw_key = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key_hash = hashlib.sha256(origin.encode() + b"\n\x01" + raw_key).digest()[:4]
    for line in signatures.splitlines():
        if not line.startswith("\u2014 "):
            continue
        name, _, encoded = line[2:].partition(" ")
        try:
            blob = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            continue
        if name == origin and blob[:4] == key_hash:
            try:
                public_key.verify(blob[4:], (body + "\n").encode())
            except InvalidSignature:
                raise ValueError("the checkpoint's signature does not verify with the platform key") from None
            return TrustedCheckpoint(origin=origin, tree_size=size, root=root)
    raise ValueError(f"the checkpoint carries no signature by the platform key for {origin}")
