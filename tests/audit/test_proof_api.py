"""The log's proofs, served: the latest signed checkpoint, inclusion proofs for a receipt's leaf hash and
consistency proofs between checkpoints, each checked here with the RFC 9162 verifier against the signed
root; bad input is a clear 4xx; a proof costs the same few queries however large the log."""

import base64
import hashlib
import importlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.apps import apps as django_apps
from django.db import connection, transaction
from django.test import Client

from audit.events import EventType
from audit.merkle import CompactRange, consistency_verifies, inclusion_verifies, perfect_nodes
from audit.models import AuditEvent, Checkpoint, LogState, TreeNode
from audit.proofs import consistency_for, inclusion_for, nodes_fetch
from audit.sequencer import log_sequence
from audit.services import Actor, event_record
from core.keys import platform_key

pytestmark = pytest.mark.django_db


def record(count: int) -> list[AuditEvent]:
    with transaction.atomic():
        events = [event_record(actor=Actor("user", "clerk"), action=EventType.USER_LOGGED_IN, object_id="clerk",
                               detail={"ip": "198.51.100.3"}) for _ in range(count)]
    log_sequence()
    return events


def checkpoint_signed() -> dict[str, Any]:
    """The checkpoint as a consumer takes it: the note's signature verified with the pinned public key."""
    body = Client().get("/api/v1/audit/checkpoint").json()
    text, _, signature_line = body["note"].partition("\n\n")
    assert signature_line.startswith("\u2014 " + body["origin"] + " ")
    signature = base64.b64decode(signature_line.rsplit(" ", 1)[1])[4:]
    public: Ed25519PublicKey = platform_key().public_key
    public.verify(signature, text.encode() + b"\n")  # raises if the platform did not sign this
    origin, size, root = text.split("\n")
    assert (origin, int(size), base64.b64decode(root).hex()) == (body["origin"], body["tree_size"], body["root_hash"])
    return body


def test_every_receipt_proves_its_event_against_the_signed_checkpoint() -> None:
    events = record(23)
    checkpoint = checkpoint_signed()
    assert checkpoint["tree_size"] == 23
    root = bytes.fromhex(checkpoint["root_hash"])
    for event in events:
        answer = Client().get("/api/v1/audit/proof/inclusion", {"leaf_hash": event.leaf_hash,
                                                                "tree_size": checkpoint["tree_size"]})
        assert answer.status_code == 200, answer.content
        body = answer.json()
        assert body["leaf_hash"] == event.leaf_hash and body["tree_size"] == 23
        assert inclusion_verifies(body["index"], 23, bytes.fromhex(event.leaf_hash),
                                  [bytes.fromhex(h) for h in body["proof"]], root)


def test_a_later_checkpoint_is_proven_consistent_with_an_earlier_one() -> None:
    record(5)
    early = checkpoint_signed()
    record(9)
    late = checkpoint_signed()
    answer = Client().get("/api/v1/audit/proof/consistency", {"first": early["tree_size"],
                                                              "second": late["tree_size"]}).json()
    assert (answer["first"], answer["second"]) == (5, 14)
    assert consistency_verifies(5, 14, [bytes.fromhex(h) for h in answer["proof"]],
                                bytes.fromhex(early["root_hash"]), bytes.fromhex(late["root_hash"]))
    by_default = Client().get("/api/v1/audit/proof/consistency", {"first": 5}).json()
    assert by_default == answer


def test_a_forked_history_fails_the_consistency_proof() -> None:
    """A root for 5 leaves the log never had (another history) does not verify against the served proof."""
    record(14)
    answer = Client().get("/api/v1/audit/proof/consistency", {"first": 5}).json()
    other = CompactRange()
    other.extend(bytes([n]) * 32 for n in range(5))
    late = Checkpoint.objects.get(tree_size=14)
    assert not consistency_verifies(5, 14, [bytes.fromhex(h) for h in answer["proof"]], other.root(),
                                    bytes.fromhex(late.root_hash))


@pytest.mark.parametrize(("query", "status", "code"), [
    ({}, 400, "invalid_input"),
    ({"leaf_hash": "ab" * 32, "index": "1"}, 400, "invalid_input"),
    ({"leaf_hash": "not-a-hash"}, 400, "invalid_input"),
    ({"leaf_hash": "ab" * 32}, 404, "leaf_not_found"),
    ({"index": "-1"}, 400, "proof_size"),
    ({"index": "3", "tree_size": "0"}, 400, "proof_size"),
    ({"index": "3", "tree_size": "99"}, 400, "proof_size"),
    ({"index": "4", "tree_size": "4"}, 404, "leaf_not_found"),
])
def test_a_bad_inclusion_question_gets_a_clear_4xx(query: dict, status: int, code: str) -> None:
    record(6)
    answer = Client().get("/api/v1/audit/proof/inclusion", query)
    assert answer.status_code == status, answer.content
    assert answer.json()["error"]["code"] == code


@pytest.mark.parametrize("query", [{}, {"first": "0"}, {"first": "7"}, {"first": "2", "second": "9"},
                                   {"first": "x"}, {"first": "3", "second": "2"}])
def test_a_bad_consistency_question_gets_a_clear_400(query: dict) -> None:
    record(6)
    answer = Client().get("/api/v1/audit/proof/consistency", query)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "proof_size", (query, answer.content)


def test_before_the_first_checkpoint_the_answer_says_so() -> None:
    answer = Client().get("/api/v1/audit/checkpoint")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "no_checkpoint"


def test_a_proof_costs_the_same_two_queries_at_any_size(django_assert_num_queries: Any) -> None:
    record(130)
    for index, size in ((0, 1), (5, 64), (129, 130), (64, 100)):
        with django_assert_num_queries(2):  # the log's size, then the nodes
            inclusion_for(index=index, tree_size=size)


def test_the_migration_computes_the_nodes_of_a_log_from_before_them() -> None:
    if connection.vendor == "postgresql":
        pytest.skip("the append-only trigger keeps the nodes from being deleted to start again")
    record(37)
    before = set(TreeNode.objects.values_list("level", "index", "hash"))
    TreeNode.objects.all().delete()
    migration = importlib.import_module("audit.migrations.0005_tree_node")
    migration.nodes_of_the_existing_log(django_apps, None)
    assert set(TreeNode.objects.values_list("level", "index", "hash")) == before
    root = CompactRange()
    root.extend(bytes.fromhex(h) for h in AuditEvent.objects.order_by("leaf__index").values_list("leaf_hash",
                                                                                              flat=True))
    nodes = nodes_fetch(set(perfect_nodes(0, 37)))
    assert [nodes[n] for n in perfect_nodes(0, 37)] == [h for _, h in root.subtrees]
    assert LogState.objects.get().size == 37


def test_an_inclusion_proof_at_a_million_leaves_is_two_queries_and_log_n_nodes(
    django_assert_num_queries: Any, django_assert_max_num_queries: Any
) -> None:
    """The tree's nodes for 1,000,000 leaves, made in PostgreSQL itself (SHA-256 of each leaf's number, then
    each level from the one below, RFC 6962's node hash): what the sequencer would have stored."""
    if connection.vendor != "postgresql":
        pytest.skip("a million leaves' nodes are made with PostgreSQL's sha256() and generate_series()")
    size = 1_000_000
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO audit_treenode (level, index, hash) SELECT 0, i, encode(sha256(int8send(i)), "
                       "'hex') FROM generate_series(0, %s) AS i", [size - 1])
        for level in range(1, size.bit_length()):
            cursor.execute(
                "INSERT INTO audit_treenode (level, index, hash) SELECT %s, l.index / 2, encode(sha256("
                "'\\x01'::bytea || decode(l.hash, 'hex') || decode(r.hash, 'hex')), 'hex') FROM audit_treenode l "
                "JOIN audit_treenode r ON r.level = l.level AND r.index = l.index + 1 "
                "WHERE l.level = %s AND l.index %% 2 = 0", [level, level - 1])
    LogState.objects.update_or_create(pk=1, defaults={"size": size})
    edge = perfect_nodes(0, size)
    hashes = nodes_fetch(set(edge))
    root = hashes[edge[-1]]
    for node in reversed(edge[:-1]):
        root = hashlib.sha256(b"\x01" + hashes[node] + root).digest()

    for index in (0, 1, 524_287, 524_288, 999_998, 999_999):
        with django_assert_num_queries(2):  # the log's size, then every node of the proof at once
            proof = inclusion_for(index=index)
        assert len(proof.proof) <= 2 * size.bit_length()
        leaf = hashlib.sha256(index.to_bytes(8, "big")).digest()
        assert proof.leaf_hash == leaf.hex()
        assert inclusion_verifies(index, size, leaf, [bytes.fromhex(h) for h in proof.proof], root)
    with django_assert_max_num_queries(2):
        consistency_for(first=999_999)
