"""Inclusion and consistency proofs (RFC 9162): ours, built from stored nodes, agree with an independent
recursive reference written straight from the RFC for every tree size 1..70 and every leaf and size pair,
and with the published RFC 6962 test vectors; the verifiers accept them and refuse every corruption."""

import hashlib
import json
from pathlib import Path

import pytest

from audit.merkle import (
    CompactRange,
    Node,
    consistency_proof,
    consistency_verifies,
    inclusion_proof,
    inclusion_verifies,
    root_from_inclusion,
)

VECTORS = json.loads((Path(__file__).parent / "rfc6962_vectors.json").read_text())
MAX_SIZE = 70


# --- The reference: RFC 9162 section 2.1, recursion over the list of leaves, nothing shared with ours ---

def ref_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def ref_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def ref_k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = ref_k(len(d))
    return ref_node(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = ref_k(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = ref_k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


# --- Ours: the nodes the sequencer stores, fetched as the database would be ---

class Nodes:
    def __init__(self, leaf_hashes: list[bytes]) -> None:
        self.store: dict[Node, bytes] = {}
        tree = CompactRange()
        for leaf in leaf_hashes:
            for level, index, hash_ in tree.append(leaf):
                self.store[(level, index)] = hash_
        self.fetches: list[int] = []

    def fetch(self, wanted: set[Node]) -> dict[Node, bytes]:
        self.fetches.append(len(wanted))
        return {node: self.store[node] for node in wanted}


LEAVES = [ref_leaf(f"event {i}".encode()) for i in range(MAX_SIZE)]
NODES = Nodes(LEAVES)


@pytest.mark.parametrize("size", range(1, MAX_SIZE + 1))
def test_every_inclusion_proof_agrees_with_the_reference_and_verifies(size: int) -> None:
    root = ref_mth(LEAVES[:size])
    tree = CompactRange()
    tree.extend(LEAVES[:size])
    assert tree.root() == root
    for index in range(size):
        proof = inclusion_proof(index, size, NODES.fetch)
        assert proof == ref_path(index, LEAVES[:size]), (index, size)
        assert inclusion_verifies(index, size, LEAVES[index], proof, root)
        assert not inclusion_verifies(index, size, LEAVES[(index + 1) % size] if size > 1 else b"x" * 32, proof,
                                      root)


@pytest.mark.parametrize("second", range(1, MAX_SIZE + 1))
def test_every_consistency_proof_agrees_with_the_reference_and_verifies(second: int) -> None:
    second_root = ref_mth(LEAVES[:second])
    for first in range(1, second + 1):
        proof = consistency_proof(first, second, NODES.fetch)
        assert proof == ref_subproof(first, LEAVES[:second], True), (first, second)
        assert consistency_verifies(first, second, proof, ref_mth(LEAVES[:first]), second_root)
        if first < second:
            assert not consistency_verifies(first, second, proof, ref_mth(LEAVES[:first - 1]) if first > 1
                                            else b"x" * 32, second_root)


def test_a_proof_reads_its_nodes_in_one_fetch_of_at_most_two_per_level() -> None:
    big = Nodes([ref_leaf(i.to_bytes(4, "big")) for i in range(1000)])
    for index, size in ((0, 1000), (999, 1000), (500, 777), (3, 513)):
        big.fetches.clear()
        inclusion_proof(index, size, big.fetch)
        assert len(big.fetches) == 1 and big.fetches[0] <= 2 * size.bit_length()
    for first, second in ((1, 1000), (999, 1000), (300, 777), (512, 513)):
        big.fetches.clear()
        consistency_proof(first, second, big.fetch)
        assert len(big.fetches) == 1 and big.fetches[0] <= 2 * second.bit_length()


# --- The published RFC 6962 vectors ---

VECTOR_LEAVES = [ref_leaf(bytes.fromhex(h)) for h in VECTORS["leaves_hex"]]
VECTOR_NODES = Nodes(VECTOR_LEAVES)


def test_the_roots_of_the_published_vectors() -> None:
    tree = CompactRange()
    assert tree.root().hex() == VECTORS["roots"]["0"]
    for size, leaf in enumerate(VECTOR_LEAVES, start=1):
        tree.append(leaf)
        assert tree.root().hex() == VECTORS["roots"][str(size)]


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: f"{c['index']}-of-{c['size']}")
def test_the_published_inclusion_proofs(case: dict) -> None:
    index, size = case["index"], case["size"]
    proof = inclusion_proof(index, size, VECTOR_NODES.fetch)
    assert [p.hex() for p in proof] == case["proof"]
    root = bytes.fromhex(VECTORS["roots"][str(size)])
    assert inclusion_verifies(index, size, VECTOR_LEAVES[index], proof, root)
    # Corruptions, after transparency-dev/merkle's probes: each must be refused.
    probes = [(index + 1, size, proof), (index ^ 2, size, proof), (index, size * 2, proof),
              (index, size // 2, proof), (index, size, [*proof, b""]), (index, size, [*proof, root]),
              (index, size, [root, *proof])]
    probes += [(index, size, [*proof[:i], bytes([proof[i][0] ^ 8]) + proof[i][1:], *proof[i + 1:]])
               for i in range(len(proof))]
    if proof:
        probes.append((index, size, proof[:-1]))
    for bad_index, bad_size, bad_proof in probes:
        if (bad_index, bad_size, bad_proof) != (index, size, proof):
            assert not inclusion_verifies(bad_index, bad_size, VECTOR_LEAVES[index], bad_proof, root)
    assert not inclusion_verifies(index, size, ref_leaf(b"WrongLeaf"), proof, root)
    assert not inclusion_verifies(index, size, VECTOR_LEAVES[index], proof, bytes.fromhex(VECTORS["roots"]["0"]))


@pytest.mark.parametrize("case", VECTORS["consistency"], ids=lambda c: f"{c['first']}-to-{c['second']}")
def test_the_published_consistency_proofs(case: dict) -> None:
    first, second = case["first"], case["second"]
    proof = consistency_proof(first, second, VECTOR_NODES.fetch)
    assert [p.hex() for p in proof] == case["proof"]
    root1, root2 = bytes.fromhex(VECTORS["roots"][str(first)]), bytes.fromhex(VECTORS["roots"][str(second)])
    assert consistency_verifies(first, second, proof, root1, root2)
    if not proof:
        return
    probes = [(first - 1, second, root1, root2, proof), (first + 1, second, root1, root2, proof),
              (first ^ 2, second, root1, root2, proof), (first, second * 2, root1, root2, proof),
              (first, second // 2, root1, root2, proof), (first, second, root2, root1, proof),
              (first, second, ref_leaf(b"WrongRoot"), root2, proof), (first, second, root1, root2, []),
              (first, second, root1, root2, [*proof, root1]), (first, second, root1, root2, [root2, *proof]),
              (first, second, root1, root2, [proof[0], *proof]), (first, second, root1, root2, proof[:-1])]
    probes += [(first, second, root1, root2, [*proof[:i], bytes([proof[i][0] ^ 16]) + proof[i][1:], *proof[i + 1:]])
               for i in range(len(proof))]
    for bad_first, bad_second, bad_root1, bad_root2, bad_proof in probes:
        assert not consistency_verifies(bad_first, bad_second, bad_proof, bad_root1, bad_root2), (bad_first, bad_second)


def test_the_edge_cases_rfc_9162_leaves_to_the_caller() -> None:
    root = bytes.fromhex(VECTORS["roots"]["1"])
    assert consistency_verifies(0, 5, [], b"", root)  # the empty tree precedes every tree
    assert consistency_verifies(3, 3, [], root, root)
    assert not consistency_verifies(3, 3, [root], root, root)
    assert not consistency_verifies(4, 3, [], root, root)
    with pytest.raises(ValueError):
        root_from_inclusion(8, 8, root, [])
    assert inclusion_verifies(0, 1, root, [], root)
    assert not inclusion_verifies(0, 1, root, [root], root)
