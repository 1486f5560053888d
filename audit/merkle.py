"""RFC 6962 / RFC 9162 Merkle tree hashing, and a compact range that grows by appending.

Leaf hash ``SHA-256(0x00 || leaf)``, node hash ``SHA-256(0x01 || left || right)``. The compact
range keeps one hash per perfect subtree on the tree's right edge (at most log2(n) of them), so an
append and a root cost O(log n) and no leaf needs to be read again.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_of(leaf_hashes: list[bytes]) -> bytes:
    """MTH(D[n]) straight from the RFC's recursive definition (used to cross-check in tests)."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = 1 << ((n - 1).bit_length() - 1)  # the largest power of two smaller than n
    return node_hash(root_of(leaf_hashes[:k]), root_of(leaf_hashes[k:]))


@dataclass
class CompactRange:
    """The right edge of a tree of ``size`` leaves: (height, hash) of each perfect subtree, left to right."""

    size: int = 0
    subtrees: list[tuple[int, bytes]] = field(default_factory=list)

    def append(self, hash_: bytes) -> None:
        height = 0
        while self.subtrees and self.subtrees[-1][0] == height:
            _, left = self.subtrees.pop()
            hash_ = node_hash(left, hash_)
            height += 1
        self.subtrees.append((height, hash_))
        self.size += 1

    def extend(self, hashes: Iterable[bytes]) -> None:
        for hash_ in hashes:
            self.append(hash_)

    def root(self) -> bytes:
        if not self.subtrees:
            return EMPTY_ROOT
        acc = self.subtrees[-1][1]
        for _, left in reversed(self.subtrees[:-1]):
            acc = node_hash(left, acc)
        return acc

    def to_json(self) -> list[list[int | str]]:
        return [[height, hash_.hex()] for height, hash_ in self.subtrees]

    @classmethod
    def from_json(cls, size: int, data: list[list[int | str]]) -> "CompactRange":
        return cls(size=size, subtrees=[(int(h), bytes.fromhex(str(x))) for h, x in data])
