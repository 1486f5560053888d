import pytest

from audit.merkle import EMPTY_ROOT, CompactRange, leaf_hash, root_of

# The RFC 6962 reference implementation's test leaves and the roots of their prefixes.
LEAVES = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43", b"\x50\x51\x52\x53\x54\x55\x56\x57",
          bytes(range(0x60, 0x70))]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_the_empty_tree_has_the_hash_of_nothing() -> None:
    assert CompactRange().root() == EMPTY_ROOT == root_of([])


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_rfc_6962_reference_vectors(size: int) -> None:
    hashes = [leaf_hash(leaf) for leaf in LEAVES[:size]]
    tree = CompactRange()
    tree.extend(hashes)
    assert tree.root().hex() == ROOTS[size - 1]
    assert root_of(hashes).hex() == ROOTS[size - 1]


def test_the_compact_range_agrees_with_the_recursive_definition_at_every_size() -> None:
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(130)]
    tree = CompactRange()
    for size, hash_ in enumerate(hashes, start=1):
        tree.append(hash_)
        assert tree.root() == root_of(hashes[:size]), size
        assert len(tree.subtrees) == bin(size).count("1")


def test_the_compact_range_survives_a_round_trip_through_json() -> None:
    tree = CompactRange()
    tree.extend(leaf_hash(bytes([i])) for i in range(11))
    again = CompactRange.from_json(tree.size, tree.to_json())
    again.append(leaf_hash(b"next"))
    tree.append(leaf_hash(b"next"))
    assert again.root() == tree.root()
