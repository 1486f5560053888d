"""Ed25519 helpers shared by the registry (systems' keys), the audit log and the platform key."""

import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_ed25519_public_key(pem: str) -> Ed25519PublicKey:
    """Parse a PEM SubjectPublicKeyInfo; raise ValidationError unless it is an Ed25519 public key."""
    try:
        key = serialization.load_pem_public_key(pem.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise ValidationError(
            _("Paste the PEM public key printed by `python -m exchange.client keygen` "
              "(it starts with -----BEGIN PUBLIC KEY-----)."),
            code="invalid_pem",
        ) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValidationError(_("Only Ed25519 public keys are accepted."), code="not_ed25519")
    return key


def key_fingerprint(public_key_pem: str) -> str:
    """SHA-256 of the raw Ed25519 public key, hex: how the log names a key without storing it."""
    raw = load_ed25519_public_key(public_key_pem).public_bytes(serialization.Encoding.Raw,
                                                               serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()
