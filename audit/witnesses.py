"""Witnesses on the platform's side: registering their keys, accepting their cosignatures, and which history
they vouch for. The witness itself runs elsewhere (``python -m audit.witness``)."""

import base64
import binascii
import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.errors import ErrorCode, PlatformError

from .events import EventType
from .models import Checkpoint, Cosignature, Witness
from .notes import cosignature_line, cosignature_verifies
from .services import Actor, event_record


def _public_key(witness: Witness) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(witness.public_key_pem.encode())
    assert isinstance(key, Ed25519PublicKey)
    return key


def witness_register(*, actor: Actor, name: str, public_key_pem: str, department: str = "") -> Witness:
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode())
    except ValueError as exc:
        message = _("The public key cannot be read: %(error)s") % {"error": exc}
        raise PlatformError(ErrorCode.INVALID_INPUT, message) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise PlatformError(ErrorCode.INVALID_INPUT, _("A witness key is Ed25519."))
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    with transaction.atomic():
        witness = Witness.objects.create(name=name, public_key_pem=public_key_pem, department=department)
        event_record(actor=actor, action=EventType.AUDIT_WITNESS_REGISTERED, object_id=name[:128], detail={
            "name": name, "department": department, "fingerprint": hashlib.sha256(raw).hexdigest()[:32]})
    return witness


def cosignature_add(*, witness_name: str, tree_size: int, timestamp: int, signature: str) -> Cosignature:
    """Store a witness's cosignature of the checkpoint of ``tree_size`` if it verifies; audited. Idempotent for
    the same witness and checkpoint (the first one stays)."""
    witness = Witness.objects.filter(name=witness_name).first()
    if witness is None:
        raise PlatformError(ErrorCode.UNKNOWN_WITNESS)
    checkpoint = Checkpoint.objects.filter(tree_size=tree_size).first()
    if checkpoint is None:
        raise PlatformError(ErrorCode.NO_CHECKPOINT)
    try:
        raw_signature = base64.b64decode(signature, validate=True)
    except binascii.Error:
        raw_signature = b""
    if len(raw_signature) != 64 or not cosignature_verifies(checkpoint.body(), _public_key(witness), timestamp,
                                                            raw_signature):
        raise PlatformError(ErrorCode.COSIGNATURE_INVALID)
    try:
        with transaction.atomic():
            cosignature = Cosignature.objects.create(checkpoint=checkpoint, witness=witness, timestamp=timestamp,
                                                     signature=signature)
            event_record(actor=Actor("witness", witness.name[:150], witness.department),
                         action=EventType.AUDIT_COSIGNED, object_id=str(tree_size),
                         detail={"witness": witness.name, "tree_size": tree_size})
    except IntegrityError:
        return Cosignature.objects.get(checkpoint=checkpoint, witness=witness)
    return cosignature


def cosignature_lines(checkpoint: Checkpoint) -> list[str]:
    """The checkpoint's cosignatures as note signature lines, to append to its signed note."""
    lines = []
    for cosignature in checkpoint.cosignatures.select_related("witness").order_by("witness__name"):
        raw = _public_key(cosignature.witness).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        lines.append(cosignature_line(cosignature.witness.name, raw, cosignature.timestamp,
                                      base64.b64decode(cosignature.signature)))
    return lines


def witnessed_checkpoint(*, required: int) -> tuple[Checkpoint | None, list[str]]:
    """The newest checkpoint carrying at least ``required`` cosignatures that verify, and their witnesses."""
    for checkpoint in Checkpoint.objects.filter(cosignatures__isnull=False).distinct().order_by("-tree_size"):
        names = [c.witness.name for c in checkpoint.cosignatures.select_related("witness")
                 if cosignature_verifies(checkpoint.body(), _public_key(c.witness), c.timestamp,
                                         base64.b64decode(c.signature))]
        if len(names) >= required:
            return checkpoint, sorted(names)
    return None, []
