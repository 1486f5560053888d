"""The platform's own Ed25519 key: it signs exchange responses and audit checkpoints.

The private key is read from the PEM file named by ``PLATFORM_SIGNING_KEY_FILE``. Its key id is
derived from the public key, so verifiers can tell which key signed without a registry.
"""

import base64
import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

from .crypto import public_key_pem
from .errors import ErrorCode, PlatformError


@dataclass(frozen=True)
class PlatformKey:
    private_key: Ed25519PrivateKey
    key_id: str

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def public_pem(self) -> str:
        return public_key_pem(self.public_key)

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)


def key_id_for(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    digest = base64.urlsafe_b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")
    return f"platform-{digest[:16]}"


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int) -> PlatformKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the platform signing key must be an Ed25519 private key")
    return PlatformKey(private_key=key, key_id=key_id_for(key.public_key()))


def platform_key() -> PlatformKey:
    """The signing key, or PlatformError 503 (fail closed) when it cannot be read."""
    path = Path(settings.PLATFORM_SIGNING_KEY_FILE)
    try:
        return _load(str(path), path.stat().st_mtime_ns)
    except (OSError, ValueError) as exc:
        raise PlatformError(ErrorCode.SIGNING_KEY_UNAVAILABLE) from exc


def platform_key_generate(path: Path) -> bool:
    """Write a new Ed25519 private key (mode 0600) and its public key beside it; False if one exists."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public_path(path).write_text(public_key_pem(key.public_key()))
    return True


def public_path(private_path: Path) -> Path:
    return private_path.with_name(private_path.stem + ".pub.pem")
