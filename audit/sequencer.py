"""The single sequencer: gives recorded events their leaf indices, in order, and signs checkpoints."""

import base64
import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.keys import platform_key

from .merkle import CompactRange
from .models import AuditEvent, Checkpoint, LogLeaf, LogState, TreeNode


def log_sequence(*, batch_size: int = 500, checkpoint_now: bool = False) -> int:
    """Give every unsequenced event the next leaf index, in id order, and sign a checkpoint when one is due.

    The single sequencer: the LogState row lock makes concurrent runs wait their turn. Each batch of leaves
    commits with the tree nodes it completed; a checkpoint of the tree is signed when the last one is at
    least ``AUDIT_CHECKPOINT_INTERVAL`` seconds old (or there is none), or at the end when ``checkpoint_now``
    (audit_verify --sequence-first: the whole log under a checkpoint). Returns how many events were appended.
    """
    appended = 0
    while True:
        with transaction.atomic():
            state, _ = LogState.objects.select_for_update().get_or_create(pk=1)
            pending = list(
                AuditEvent.objects.filter(leaf__isnull=True).order_by("id").values_list("id", "leaf_hash")[:batch_size]
            )
            tree = CompactRange.from_json(state.size, state.compact_range)
            if pending:
                leaves, nodes = [], []
                for event_id, hash_hex in pending:
                    leaves.append(LogLeaf(index=tree.size, event_id=event_id))
                    nodes += [TreeNode(level=level, index=index, hash=hash_.hex())
                              for level, index, hash_ in tree.append(bytes.fromhex(hash_hex))]
                LogLeaf.objects.bulk_create(leaves)
                TreeNode.objects.bulk_create(nodes)  # the subtrees the batch completed: what proofs are made of
                state.size, state.compact_range = tree.size, tree.to_json()
                state.save(update_fields=["size", "compact_range"])
                appended += len(pending)
            if _checkpoint_due(tree.size, now=checkpoint_now and not pending):
                checkpoint_sign(tree_size=tree.size, root=tree.root())
            if not pending:
                return appended


def _checkpoint_due(size: int, *, now: bool = False) -> bool:
    """A tree of ``size`` leaves not yet under a checkpoint, and the last one old enough (or none, or ``now``)."""
    latest = Checkpoint.objects.order_by("-tree_size").values_list("tree_size", "created_at").first()
    if latest is None:
        return size > 0
    signed_size, signed_at = latest
    interval = dt.timedelta(seconds=settings.AUDIT_CHECKPOINT_INTERVAL)
    return size > signed_size and (now or timezone.now() - signed_at >= interval)


def checkpoint_sign(*, tree_size: int, root: bytes) -> Checkpoint:
    """Sign the tree head with the platform key (fails, and so rolls the batch back, without the key)."""
    key = platform_key()
    checkpoint = Checkpoint(origin=settings.AUDIT_LOG_ORIGIN, tree_size=tree_size, root_hash=root.hex(),
                            key_id=key.key_id, created_at=timezone.now())
    checkpoint.signature = base64.b64encode(key.sign(checkpoint.body().encode())).decode()
    checkpoint.save(force_insert=True)
    return checkpoint
