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


# --- Cosignatures (C2SP tlog-cosignature, cosignature/v1): a witness's statement that it verified a checkpoint ---

COSIGNATURE_ALGORITHM = 0x04


def cosignature_key_hash(name: str, raw_public_key: bytes) -> bytes:
    """The 4-byte key ID of a witness key in a note signature line: SHA-256(name || 0x0A || 0x04 || key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([COSIGNATURE_ALGORITHM]) + raw_public_key).digest()[:4]


def cosignature_message(checkpoint_body: str, timestamp: int) -> bytes:
    """What a witness signs: "cosignature/v1", the time, then the whole checkpoint body."""
    return f"cosignature/v1\ntime {timestamp}\n".encode() + checkpoint_body.encode()


def cosignature_line(name: str, raw_public_key: bytes, timestamp: int, signature: bytes) -> str:
    """The note signature line: the witness's name, then base64(key ID || timestamp, 8 bytes || signature)."""
    blob = cosignature_key_hash(name, raw_public_key) + timestamp.to_bytes(8, "big") + signature
    return f"\u2014 {name} {base64.b64encode(blob).decode()}"


def cosignature_verifies(checkpoint_body: str, public_key: Ed25519PublicKey, timestamp: int, signature: bytes) -> bool:
    try:
        public_key.verify(signature, cosignature_message(checkpoint_body, timestamp))
    except InvalidSignature:
        return False
    return True
