"""The append-only audit log: events (leaves), their positions in the Merkle tree, signed checkpoints.

Rows here are never updated or deleted by the application; on PostgreSQL a trigger refuses it. Actors
and objects are kept as plain codes, not foreign keys, so nothing elsewhere can cascade into the log.
"""

import base64
import datetime as dt
import hashlib
import uuid
from typing import Any

import orjson
from django.db import models
from django.utils import timezone

LEAF_FORMAT_VERSION = 1


class Outcome(models.TextChoices):
    OK = "ok", "OK"
    REFUSED = "refused", "Refused"


class AuditEvent(models.Model):
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_type = models.CharField(max_length=16)  # user | system | anonymous
    actor_id = models.CharField(max_length=150)
    actor_department = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=32)
    object_id = models.CharField(max_length=128, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reason = models.CharField(max_length=64, blank=True, help_text="The refusal's error code.")
    grant_id = models.BigIntegerField(null=True, blank=True)
    purpose = models.CharField(max_length=200, blank=True)
    request_digest = models.CharField(max_length=64, blank=True,
                                      help_text="SHA-256 of the request's Signature header.")
    subjects = models.JSONField(default=list, blank=True,
                                help_text="Keyed hashes of the subject identifiers (citizen/company ids) touched.")
    detail = models.JSONField(default=dict, blank=True)
    leaf_hash = models.CharField(max_length=64, help_text="RFC 6962 leaf hash of the canonical event, hex.")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.outcome} by {self.actor_type}:{self.actor_id}"

    def canonical_leaf(self) -> bytes:
        """The exact bytes this event contributes to the Merkle tree (sorted-key JSON)."""
        content: dict[str, Any] = {
            "v": LEAF_FORMAT_VERSION,
            "uid": str(self.uid),
            "time": self.created_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "actor": {"type": self.actor_type, "id": self.actor_id, "department": self.actor_department},
            "action": self.action,
            "object": {"type": self.object_type, "id": self.object_id},
            "outcome": self.outcome,
            "reason": self.reason,
            "grant": self.grant_id,
            "purpose": self.purpose,
            "request_digest": self.request_digest,
            "subjects": self.subjects,
            "detail": self.detail,
        }
        return orjson.dumps(content, option=orjson.OPT_SORT_KEYS)


class LogLeaf(models.Model):
    """An event's position in the tree, assigned once, in order, by the single sequencer."""

    index = models.BigIntegerField(primary_key=True)
    event = models.OneToOneField(AuditEvent, on_delete=models.PROTECT, related_name="leaf")

    class Meta:
        ordering = ["index"]

    def __str__(self) -> str:
        return f"leaf {self.index}"


class LogState(models.Model):
    """The tree's current size and compact range (one row). Locked by the sequencer."""

    size = models.BigIntegerField(default=0)
    compact_range = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"log of {self.size} leaves"


class Checkpoint(models.Model):
    """A signed tree head, in the C2SP tlog-checkpoint body format: origin, size, base64 root."""

    origin = models.CharField(max_length=200)
    tree_size = models.BigIntegerField(unique=True)
    root_hash = models.CharField(max_length=64)
    key_id = models.CharField(max_length=128)
    signature = models.CharField(max_length=128, help_text="Ed25519 over the note body, base64.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-tree_size"]

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size} {self.root_hash[:16]}"

    def body(self) -> str:
        root = base64.b64encode(bytes.fromhex(self.root_hash)).decode()
        return f"{self.origin}\n{self.tree_size}\n{root}\n"

    def signed_note(self, raw_public_key: bytes) -> str:
        """The C2SP signed note: the body, a blank line, and the signature line under the origin's name."""
        key_hash = hashlib.sha256(self.origin.encode() + b"\n\x01" + raw_public_key).digest()[:4]
        signature = base64.b64encode(key_hash + base64.b64decode(self.signature)).decode()
        return f"{self.body()}\n\u2014 {self.origin} {signature}\n"
