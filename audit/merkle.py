"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verification, and a compact range that grows
by appending.

Leaf hash ``SHA-256(0x00 || leaf)``, node hash ``SHA-256(0x01 || left || right)``. The compact
range keeps one hash per perfect subtree on the tree's right edge (at most log2(n) of them), so an
append and a root cost O(log n) and no leaf needs to be read again.

Proofs are built from stored *nodes*: the hash of every perfect subtree, named by its level (0 for the
leaves) and its index in that level. Every subtree a proof names is either one node or the fold of at
most log2(n) nodes on its right edge, so a proof needs O(log n) nodes, fetched together. Verification
follows RFC 9162 sections 2.1.3.2 and 2.1.4.2 step by step, so any implementation of the RFC agrees.
"""

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

#: A node of the tree: (level, index); level 0 is the leaves, a node at level L covers 2**L leaves.
Node = tuple[int, int]
#: Fetches the stored hashes of the given nodes (all of them, or it raises).
NodeFetch = Callable[[set[Node]], dict[Node, bytes]]

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

    def append(self, hash_: bytes) -> list[tuple[int, int, bytes]]:
        """Append a leaf hash; returns the nodes it completed, (level, index, hash), the leaf first."""
        index = self.size
        completed = [(0, index, hash_)]
        height = 0
        while self.subtrees and self.subtrees[-1][0] == height:
            _, left = self.subtrees.pop()
            hash_ = node_hash(left, hash_)
            height += 1
            completed.append((height, index >> height, hash_))
        self.subtrees.append((height, hash_))
        self.size += 1
        return completed

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


# --- Proofs: which subtrees, from which nodes ---

def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where RFC 9162 splits a tree of n leaves."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges [start, end) whose subtree hashes make PATH(index, D[size]), from the leaf up."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    return ranges[::-1]


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The leaf ranges whose subtree hashes make PROOF(first, D[second]) (RFC 9162 2.1.4.1), in order."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from {first} to {second} leaves")
    ranges: list[tuple[int, int]] = []
    start, end, m, whole = 0, second, first, True  # SUBPROOF(m, D[start:end], whole)
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, whole = start + k, m - k, False
    if not whole:
        ranges.append((start, end))
    return ranges[::-1]


def perfect_nodes(start: int, end: int) -> list[Node]:
    """The perfect subtrees that make up the range [start, end), left to right (largest first)."""
    nodes = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while (1 << level) > end - start:
            level -= 1
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def ranges_hashes(ranges: list[tuple[int, int]], fetch: NodeFetch) -> list[bytes]:
    """The subtree hash of each range, from one fetch of O(log n) stored nodes."""
    parts = [perfect_nodes(start, end) for start, end in ranges]
    hashes = fetch({node for part in parts for node in part})
    out = []
    for part in parts:
        acc = hashes[part[-1]]
        for node in reversed(part[:-1]):
            acc = node_hash(hashes[node], acc)
        out.append(acc)
    return out


def inclusion_proof(index: int, size: int, fetch: NodeFetch) -> list[bytes]:
    return ranges_hashes(inclusion_ranges(index, size), fetch)


def consistency_proof(first: int, second: int, fetch: NodeFetch) -> list[bytes]:
    return ranges_hashes(consistency_ranges(first, second), fetch) if first < second else []


# --- Verification, as RFC 9162 writes it ---

def root_from_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    """The root that ``proof`` (PATH) leads to from ``leaf`` at ``index`` (RFC 9162 2.1.3.2); ValueError
    when the proof cannot be one for that index and size."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if len(p) != 32:
            raise ValueError("a proof hash is not 32 bytes")
        if sn == 0:
            raise ValueError("the proof is longer than the tree is high")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("the proof is shorter than the tree is high")
    return r


def inclusion_verifies(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    try:
        return root_from_inclusion(index, size, leaf, proof) == root
    except ValueError:
        return False


def consistency_verifies(first: int, second: int, proof: list[bytes], first_root: bytes, second_root: bytes) -> bool:
    """Whether ``proof`` shows the tree of ``first`` leaves is a prefix of the tree of ``second`` leaves
    (RFC 9162 2.1.4.2; equal sizes need equal roots and no proof, and the empty tree precedes every tree)."""
    if not 0 <= first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if not proof or any(len(p) != 32 for p in proof):
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: the old root is itself a node of the new tree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0
