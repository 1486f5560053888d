"""Recompute the audit tree from the stored events and check it against every signed checkpoint.

Trusts nothing stored but the platform's public key: each leaf hash is recomputed from the event's
content, the tree is rebuilt, and each checkpoint's root and signature are checked at its size.
Someone who can write to the database can still rewrite the log together with its checkpoints;
a checkpoint kept outside it (``trusted``: a C2SP signed note an auditor saved earlier) catches that.
"""

import base64
import binascii
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone

from core.keys import key_id_for

from .merkle import CompactRange, leaf_hash
from .models import LEAF_COLUMNS, AuditEvent, Checkpoint, LogLeaf, LogState, canonical_leaf
from .notes import TrustedCheckpoint


@dataclass
class VerifyReport:
    tree_size: int = 0
    checkpoints_checked: int = 0
    unsequenced: int = 0
    #: Leaves after the newest checkpoint, signed within the checkpoint cadence (AUDIT_CHECKPOINT_INTERVAL).
    awaiting_checkpoint: int = 0
    first_bad_index: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, index: int | None, problem: str) -> None:
        self.problems.append(problem)
        if index is not None and (self.first_bad_index is None or index < self.first_bad_index):
            self.first_bad_index = index




def _signature_ok(checkpoint: Checkpoint, public_key: Ed25519PublicKey) -> bool:
    try:
        public_key.verify(base64.b64decode(checkpoint.signature, validate=True), checkpoint.body().encode())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


_AS_TEXT = {"uid", "subjects", "detail"}
_JSON = [LEAF_COLUMNS.index("subjects"), LEAF_COLUMNS.index("detail")]


def _leaf_rows() -> Iterator[tuple[int, str, list[Any]]]:
    """(index, stored leaf hash, the event's leaf columns) in index order, as plain rows.

    Verifying is hashing: a model instance per event, or Django's converters (UUID objects, JSON
    decoded by the standard library), would cost several times the hashing itself. The uid and the
    JSON columns are read as text and decoded here (orjson), the same values either way.
    """
    text = {column: Cast(f"event__{column}", TextField()) for column in _AS_TEXT}
    names = [f"t_{c}" if c in _AS_TEXT else f"event__{c}" for c in LEAF_COLUMNS]
    rows = (LogLeaf.objects.order_by("index").annotate(**{f"t_{c}": expr for c, expr in text.items()})
            .values_list("index", "event__leaf_hash", *names).iterator(chunk_size=5000))
    for index, stored_hash, uid, *rest in rows:
        columns: list[Any] = [_uuid_text(uid), *rest]
        for position in _JSON:
            columns[position] = orjson.loads(columns[position])
        yield index, stored_hash, columns


def _uuid_text(value: str) -> str:
    """SQLite keeps a UUID as 32 hex digits, PostgreSQL's text has the dashes; the leaf has the dashes."""
    if len(value) == 32:
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return value


def log_verify(*, public_key: Ed25519PublicKey, trusted: TrustedCheckpoint | None = None) -> VerifyReport:
    report = VerifyReport()
    expected_key_id = key_id_for(public_key)
    checkpoints = list(Checkpoint.objects.order_by("tree_size"))
    position = 0  # next checkpoint to check
    last_good_size = 0
    tree = CompactRange()

    def check_checkpoints() -> None:
        nonlocal position, last_good_size
        while position < len(checkpoints) and checkpoints[position].tree_size == tree.size:
            checkpoint = checkpoints[position]
            position += 1
            report.checkpoints_checked += 1
            if checkpoint.key_id != expected_key_id or not _signature_ok(checkpoint, public_key):
                report.fail(None, f"checkpoint at size {checkpoint.tree_size}: the signature does not verify "
                                  f"with the platform key {expected_key_id}")
            elif checkpoint.root_hash != tree.root().hex():
                # A leaf already found bad in this range names the index exactly; otherwise the range's start.
                found = report.first_bad_index is not None and report.first_bad_index >= last_good_size
                report.fail(None if found else last_good_size,
                            f"checkpoint at size {checkpoint.tree_size}: the recomputed root differs; "
                            f"a leaf in [{last_good_size}, {checkpoint.tree_size}) was altered")
            else:
                last_good_size = checkpoint.tree_size

    def check_trusted() -> None:
        if trusted is not None and trusted.tree_size == tree.size and trusted.root != tree.root():
            report.fail(None, f"the log's first {tree.size} leaves no longer hash to the trusted checkpoint's "
                              "root: its history was rewritten (checkpoints included)")

    check_checkpoints()  # a checkpoint of the empty tree, if any
    check_trusted()
    for index, stored_hash, columns in _leaf_rows():
        if index != tree.size:
            report.fail(tree.size, f"leaf {tree.size} is missing (the next stored index is {index})")
            break
        recomputed = leaf_hash(canonical_leaf(*columns))
        if recomputed.hex() != stored_hash:
            report.fail(index, f"leaf {index} (event {columns[0]}): its content does not match its recorded "
                               "leaf hash")
        tree.append(recomputed)
        check_checkpoints()
        check_trusted()

    report.tree_size = tree.size
    for checkpoint in checkpoints[position:]:
        report.fail(tree.size, f"checkpoint at size {checkpoint.tree_size} is beyond the log's "
                               f"{tree.size} leaves: the log was truncated")
    if trusted is not None and tree.size < trusted.tree_size:
        report.fail(tree.size, f"the log has {tree.size} leaves, fewer than the trusted checkpoint's "
                               f"{trusted.tree_size}: it was truncated")
    newest = max(checkpoints, key=lambda c: c.tree_size, default=None)
    covered = newest.tree_size if newest is not None else 0
    if tree.size > covered:
        # Legitimate for a checkpoint interval and a sequencer run (twice that, for slack); past that, the
        # sequencer stopped signing or the newest checkpoints were removed.
        grace = dt.timedelta(seconds=2 * (settings.AUDIT_CHECKPOINT_INTERVAL + settings.AUDIT_SEQUENCE_INTERVAL))
        if newest is not None and timezone.now() - newest.created_at <= grace:
            report.awaiting_checkpoint = tree.size - covered
        else:
            report.fail(covered, f"leaves {covered} to {tree.size - 1} are covered by no signed checkpoint")
    state = LogState.objects.filter(pk=1).first()
    if state is not None and state.size != tree.size:
        report.fail(min(state.size, tree.size), f"the sequencer recorded {state.size} leaves, {tree.size} are stored")
    report.unsequenced = AuditEvent.objects.filter(leaf__isnull=True).count()
    return report
