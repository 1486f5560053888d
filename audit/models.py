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
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

LEAF_FORMAT_VERSION = 1


class Outcome(models.TextChoices):
    OK = "ok", _("OK")
    REFUSED = "refused", _("Refused")


class AuditEvent(models.Model):
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("event id"),
                           help_text=_("The event's unique id, given to the caller in the Audit-Event header."))
    created_at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=_("time"),
                                      help_text=_("When the event happened."))
    actor_type = models.CharField(max_length=16, verbose_name=_("actor type"),  # user | system | anonymous | platform
                                  help_text=_("Who acted: a person (user), a system, or nobody signed in (anonymous)."))
    actor_id = models.CharField(max_length=150, verbose_name=_("actor"),
                                help_text=_("The person's user name or the system's code."))
    actor_department = models.CharField(max_length=64, blank=True, verbose_name=_("actor's department"),
                                        help_text=_("The code of the department the actor acted for."))
    action = models.CharField(max_length=64, db_index=True, verbose_name=_("action"),
                              help_text=_("The kind of event, e.g. record.read; the audit event types say what "
                                          "each means."))
    object_type = models.CharField(max_length=32, verbose_name=_("object type"),
                                   help_text=_("The kind of thing acted on."))
    object_id = models.CharField(max_length=128, blank=True, verbose_name=_("object id"),
                                 help_text=_("The id or code of the thing acted on."))
    outcome = models.CharField(max_length=16, choices=Outcome.choices, verbose_name=_("outcome"),
                               help_text=_("Whether the action was carried out or refused."))
    reason = models.CharField(max_length=64, blank=True, verbose_name=_("reason"),
                              help_text=_("The refusal's error code."))
    grant_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("grant"),
                                      help_text=_("The grant under which data was read or that an approval created."))
    purpose = models.CharField(max_length=200, blank=True, verbose_name=_("purpose code"),
                               help_text=_("The purpose code the data was requested or read for."))
    request_digest = models.CharField(max_length=64, blank=True, verbose_name=_("request digest"),
                                      help_text=_("SHA-256 of the request's Signature header."))
    subjects = models.JSONField(default=list, blank=True, verbose_name=_("subjects"),
                                help_text=_("Keyed hashes of the subject identifiers (citizen/company ids) touched."))
    detail = models.JSONField(default=dict, blank=True, verbose_name=_("detail"),
                              help_text=_("The event's own facts; the audit event types list its keys."))
    leaf_hash = models.CharField(max_length=64, verbose_name=_("leaf hash"),
                                 help_text=_("RFC 6962 leaf hash of the canonical event, hex."))

    class Meta:
        ordering = ["-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return gettext("%(action)s %(outcome)s by %(actor)s") % {
            "action": self.action, "outcome": self.get_outcome_display(),
            "actor": f"{self.actor_type}:{self.actor_id}"}

    def canonical_leaf(self) -> bytes:
        """The exact bytes this event contributes to the Merkle tree (sorted-key JSON)."""
        return canonical_leaf(*(getattr(self, name) for name in LEAF_COLUMNS))


#: The stored columns an event's leaf is made of, in the order ``canonical_leaf`` takes them.
LEAF_COLUMNS = ("uid", "created_at", "actor_type", "actor_id", "actor_department", "action", "object_type",
                "object_id", "outcome", "reason", "grant_id", "purpose", "request_digest", "subjects", "detail")


def canonical_leaf(uid: Any, created_at: dt.datetime, actor_type: str, actor_id: str, actor_department: str,
                   action: str, object_type: str, object_id: str, outcome: str, reason: str, grant_id: int | None,
                   purpose: str, request_digest: str, subjects: Any, detail: Any) -> bytes:
    """An event's leaf from its stored values; the verifier calls it on plain rows, without models."""
    content: dict[str, Any] = {
        "v": LEAF_FORMAT_VERSION,
        "uid": str(uid),
        "time": created_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor": {"type": actor_type, "id": actor_id, "department": actor_department},
        "action": action,
        "object": {"type": object_type, "id": object_id},
        "outcome": outcome,
        "reason": reason,
        "grant": grant_id,
        "purpose": purpose,
        "request_digest": request_digest,
        "subjects": subjects,
        "detail": detail,
    }
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS)


class LogLeaf(models.Model):
    """An event's position in the tree, assigned once, in order, by the single sequencer."""

    index = models.BigIntegerField(primary_key=True, verbose_name=_("leaf index"),
                                   help_text=_("The event's position in the Merkle tree, from 0."))
    event = models.OneToOneField(AuditEvent, on_delete=models.PROTECT, related_name="leaf",
                                 verbose_name=_("audit event"), help_text=_("The event at this position."))

    class Meta:
        ordering = ["index"]
        verbose_name = _("log leaf")
        verbose_name_plural = _("log leaves")

    def __str__(self) -> str:
        return gettext("leaf %(index)s") % {"index": self.index}


class TreeNode(models.Model):
    """The hash of one perfect subtree of the log's Merkle tree, written by the sequencer as the tree grows.

    Level 0 is the leaves; a node at level L and index i covers the leaves i*2**L to (i+1)*2**L - 1. Any
    inclusion or consistency proof is made of O(log n) of them, read in one query. They are hashes only
    and reveal nothing about the events.
    """

    level = models.PositiveSmallIntegerField(verbose_name=_("level"),
                                             help_text=_("The subtree's height: 0 for a leaf."))
    index = models.BigIntegerField(verbose_name=_("index"), help_text=_("The subtree's position in its level."))
    hash = models.CharField(max_length=64, verbose_name=_("hash"), help_text=_("The subtree's hash, hex."))

    class Meta:
        verbose_name = _("tree node")
        verbose_name_plural = _("tree nodes")
        constraints = [models.UniqueConstraint(fields=["level", "index"], name="treenode_level_index")]

    def __str__(self) -> str:
        return f"{self.level}/{self.index}"


class LogState(models.Model):
    """The tree's current size and compact range (one row). Locked by the sequencer."""

    size = models.BigIntegerField(default=0, verbose_name=_("tree size"),
                                  help_text=_("How many events the tree holds."))
    compact_range = models.JSONField(default=list, verbose_name=_("compact range"),
                                     help_text=_("The hashes from which the next root is computed."))

    class Meta:
        verbose_name = _("log state")
        verbose_name_plural = _("log states")

    def __str__(self) -> str:
        return ngettext("log of %(size)s leaf", "log of %(size)s leaves", self.size) % {"size": self.size}


class Checkpoint(models.Model):
    """A signed tree head, in the C2SP tlog-checkpoint body format: origin, size, base64 root."""

    origin = models.CharField(max_length=200, verbose_name=_("origin"),
                              help_text=_("The log's name, the first line of every checkpoint."))
    tree_size = models.BigIntegerField(unique=True, verbose_name=_("tree size"),
                                       help_text=_("How many events the tree held when signed."))
    root_hash = models.CharField(max_length=64, verbose_name=_("root hash"),
                                 help_text=_("The Merkle tree's root hash at this size, hex."))
    key_id = models.CharField(max_length=128, verbose_name=_("key id"),
                              help_text=_("The platform signing key that signed it."))
    signature = models.CharField(max_length=128, verbose_name=_("signature"),
                                 help_text=_("Ed25519 over the note body, base64."))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"),
                                      help_text=_("When the checkpoint was signed."))

    class Meta:
        ordering = ["-tree_size"]
        verbose_name = _("checkpoint")
        verbose_name_plural = _("checkpoints")

    def __str__(self) -> str:
        return gettext("checkpoint %(size)s %(root)s") % {"size": self.tree_size, "root": self.root_hash[:16]}

    def body(self) -> str:
        root = base64.b64encode(bytes.fromhex(self.root_hash)).decode()
        return f"{self.origin}\n{self.tree_size}\n{root}\n"

    def signed_note(self, raw_public_key: bytes) -> str:
        """The C2SP signed note: the body, a blank line, and the signature line under the origin's name."""
        key_hash = hashlib.sha256(self.origin.encode() + b"\n\x01" + raw_public_key).digest()[:4]
        signature = base64.b64encode(key_hash + base64.b64decode(self.signature)).decode()
        return f"{self.body()}\n\u2014 {self.origin} {signature}\n"


class Witness(models.Model):
    """Another department or the audit office, holding a key with which it cosigns the checkpoints it verified."""

    name = models.CharField(max_length=200, unique=True, verbose_name=_("name"), help_text=_(
        "The witness's key name, as in its cosignature lines, e.g. audit-office.example/witness."))
    public_key_pem = models.TextField(verbose_name=_("public key"), help_text=_("The witness's Ed25519 public key."))
    department = models.CharField(max_length=64, blank=True, verbose_name=_("department"),
                                  help_text=_("The code of the department that runs it."))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("registered at"),
                                      help_text=_("When the witness's key was registered."))

    class Meta:
        verbose_name = _("witness")
        verbose_name_plural = _("witnesses")

    def __str__(self) -> str:
        return self.name


class Cosignature(models.Model):
    """A witness's cosignature (C2SP cosignature/v1) of one checkpoint: it verified the log only grew."""

    checkpoint = models.ForeignKey(Checkpoint, on_delete=models.PROTECT, related_name="cosignatures",
                                   verbose_name=_("checkpoint"), help_text=_("The checkpoint cosigned."))
    witness = models.ForeignKey(Witness, on_delete=models.PROTECT, related_name="cosignatures",
                                verbose_name=_("witness"), help_text=_("Who cosigned it."))
    timestamp = models.BigIntegerField(verbose_name=_("timestamp"), help_text=_(
        "The witness's time of cosigning, Unix seconds, as signed."))
    signature = models.CharField(max_length=128, verbose_name=_("signature"),
                                 help_text=_("Ed25519 over the cosignature message, base64."))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("received at"),
                                      help_text=_("When the platform received it."))

    class Meta:
        verbose_name = _("cosignature")
        verbose_name_plural = _("cosignatures")
        constraints = [models.UniqueConstraint(fields=["checkpoint", "witness"], name="cosignature_once")]

    def __str__(self) -> str:
        return f"{self.witness} @ {self.checkpoint.tree_size}"


class RefusalTally(models.Model):
    """Refusals of one caller from one source address in one window, counted instead of logged one by one.

    A caller the platform could not verify (or one over its rate limit) is refused without an event of
    its own: the refusals of each window become one ``exchange.refusals`` event when the window closes
    (``audit.services.refusal_tallies_flush``), so a flood is evidenced but cannot grow the log without
    bound. The event carries this row's ``uid``, which the refusals already named in ``Audit-Event``.
    """

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("event id"),
                           help_text=_("The id the window's event will carry, given to each refused caller."))
    source = models.CharField(max_length=64, verbose_name=_("source address"),
                              help_text=_("The address the requests came from."))
    actor_type = models.CharField(max_length=16, verbose_name=_("actor type"),
                                  help_text=_("anonymous, or system for a verified system over its rate limit."))
    actor_id = models.CharField(max_length=150, blank=True, verbose_name=_("actor"),
                                help_text=_("The system's code, or the keyid an unverified caller claimed."))
    actor_department = models.CharField(max_length=64, blank=True, verbose_name=_("actor's department"),
                                        help_text=_("The verified system's department."))
    window_start = models.DateTimeField(verbose_name=_("window start"), help_text=_("When the window began."))
    count = models.PositiveIntegerField(default=0, verbose_name=_("refusals"),
                                        help_text=_("How many requests were refused in the window."))
    reasons = models.JSONField(default=dict, verbose_name=_("reasons"),
                               help_text=_("How many refusals each error code accounts for."))
    first_digest = models.CharField(max_length=64, blank=True, verbose_name=_("first request digest"),
                                    help_text=_("The digest of the window's first refused request."))
    last_digest = models.CharField(max_length=64, blank=True, verbose_name=_("last request digest"),
                                   help_text=_("The digest of the window's last refused request."))
    first_at = models.DateTimeField(verbose_name=_("first refusal"), help_text=_("When the first was refused."))
    last_at = models.DateTimeField(verbose_name=_("last refusal"), help_text=_("When the last was refused."))

    class Meta:
        ordering = ["window_start", "pk"]
        verbose_name = _("refusal tally")
        verbose_name_plural = _("refusal tallies")
        constraints = [models.UniqueConstraint(fields=["source", "actor_type", "actor_id", "window_start"],
                                               name="refusal_tally_one_per_window")]

    def __str__(self) -> str:
        return f"{self.source} {self.actor_type}:{self.actor_id} x{self.count}"
