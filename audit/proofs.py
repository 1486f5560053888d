"""Proofs served from the stored tree nodes: inclusion of an event, consistency between two tree sizes.

Each proof reads the log's size and then its O(log n) nodes in one query (``TreeNode``), however large the
log. The proofs are RFC 9162's, so any implementation verifies them against a signed checkpoint.
"""

import operator
from dataclasses import dataclass
from functools import reduce

from django.db.models import Q
from django.utils.translation import gettext as _

from core.errors import ErrorCode, PlatformError

from .merkle import Node, consistency_proof, inclusion_proof
from .models import Checkpoint, LogLeaf, LogState, TreeNode


def nodes_fetch(wanted: set[Node]) -> dict[Node, bytes]:
    """The stored hashes of ``wanted``, in one query; a missing node means the sequencer's writes were lost."""
    if not wanted:
        return {}
    condition = reduce(operator.or_, (Q(level=level, index=index) for level, index in wanted))
    found = {(level, index): bytes.fromhex(hash_)
             for level, index, hash_ in TreeNode.objects.filter(condition).values_list("level", "index", "hash")}
    if len(found) != len(wanted):
        raise PlatformError(ErrorCode.AUDIT_UNAVAILABLE, _("The audit log's tree is incomplete; run audit_verify."))
    return found


def log_size() -> int:
    return LogState.objects.values_list("size", flat=True).first() or 0


def _size_for(size: int | None, current: int) -> int:
    if size is None:
        return current
    if not 0 < size <= current:
        raise PlatformError(ErrorCode.PROOF_SIZE, _(
            "tree_size must be from 1 to the log's current size, %(current)d.") % {"current": current})
    return size


@dataclass(frozen=True)
class InclusionProof:
    index: int
    tree_size: int
    leaf_hash: str
    proof: list[str]


def inclusion_for(*, leaf_hash: str | None = None, index: int | None = None,
                  tree_size: int | None = None) -> InclusionProof:
    """The proof that the event with ``leaf_hash`` (or at ``index``) is in the tree of ``tree_size`` leaves
    (the current size by default)."""
    current = log_size()
    if leaf_hash is not None:
        row = LogLeaf.objects.filter(event__leaf_hash=leaf_hash.lower()).values_list("index", flat=True).first()
        if row is None:
            raise PlatformError(ErrorCode.LEAF_NOT_FOUND, _(
                "No event of the log has this leaf hash, or it is not sequenced yet; try again in a few seconds."))
        index = int(row)
    assert index is not None
    size = _size_for(tree_size, current)
    if not 0 <= index < size:
        raise PlatformError(ErrorCode.LEAF_NOT_FOUND, _("Leaf %(index)d is not in the tree of %(size)d leaves.") % {
            "index": index, "size": size})
    leaf: Node = (0, index)
    fetched: dict[Node, bytes] = {}

    def fetch(wanted: set[Node]) -> dict[Node, bytes]:  # the proof's nodes and the leaf's own, in one query
        fetched.update(nodes_fetch(wanted | ({leaf} if leaf_hash is None else set())))
        return fetched

    hashes = inclusion_proof(index, size, fetch)
    own = fetched[leaf].hex() if leaf_hash is None else leaf_hash.lower()
    return InclusionProof(index=index, tree_size=size, leaf_hash=own, proof=[h.hex() for h in hashes])


def consistency_for(*, first: int, second: int | None = None) -> tuple[int, list[str]]:
    """The proof that the tree of ``first`` leaves is a prefix of the tree of ``second`` (default: current);
    returns the second size and the proof."""
    size = _size_for(second, log_size())
    if not 0 < first <= size:
        raise PlatformError(ErrorCode.PROOF_SIZE, _("first must be from 1 to second (%(second)d).") % {"second": size})
    return size, [h.hex() for h in consistency_proof(first, size, nodes_fetch)]


def checkpoint_latest(*, tree_size: int | None = None) -> Checkpoint:
    """The newest checkpoint, or the one of ``tree_size`` leaves."""
    checkpoints = Checkpoint.objects.order_by("-tree_size")
    checkpoint = (checkpoints if tree_size is None else checkpoints.filter(tree_size=tree_size)).first()
    if checkpoint is None:
        raise PlatformError(ErrorCode.NO_CHECKPOINT)
    return checkpoint
