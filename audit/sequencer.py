"""The single sequencer: gives recorded events their leaf indices, in order, and signs checkpoints."""

import base64

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.keys import platform_key

from .merkle import CompactRange
from .models import AuditEvent, Checkpoint, LogLeaf, LogState


def log_sequence(*, batch_size: int = 500) -> int:
    """Give every unsequenced event the next leaf index, in id order, and sign a checkpoint.

    The single sequencer: the LogState row lock makes concurrent runs wait their turn. Returns how
    many events were appended.
    """
    appended = 0
    while True:
        with transaction.atomic():
            state, _ = LogState.objects.select_for_update().get_or_create(pk=1)
            pending = list(
                AuditEvent.objects.filter(leaf__isnull=True).order_by("id").values_list("id", "leaf_hash")[:batch_size]
            )
            if not pending:
                return appended
            tree = CompactRange.from_json(state.size, state.compact_range)
            leaves = []
            for event_id, hash_hex in pending:
                leaves.append(LogLeaf(index=tree.size, event_id=event_id))
                tree.append(bytes.fromhex(hash_hex))
            LogLeaf.objects.bulk_create(leaves)
            state.size, state.compact_range = tree.size, tree.to_json()
            state.save(update_fields=["size", "compact_range"])
            checkpoint_sign(tree_size=tree.size, root=tree.root())
            appended += len(pending)


def checkpoint_sign(*, tree_size: int, root: bytes) -> Checkpoint:
    """Sign the tree head with the platform key (fails, and so rolls the batch back, without the key)."""
    key = platform_key()
    checkpoint = Checkpoint(origin=settings.AUDIT_LOG_ORIGIN, tree_size=tree_size, root_hash=root.hex(),
                            key_id=key.key_id, created_at=timezone.now())
    checkpoint.signature = base64.b64encode(key.sign(checkpoint.body().encode())).decode()
    checkpoint.save(force_insert=True)
    return checkpoint
