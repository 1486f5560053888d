"""Recording events, sequencing them into the RFC 6962 tree, and signing checkpoints."""

import base64
import time
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from audit.events import EventType
from audit.merkle import leaf_hash, root_of
from audit.models import AuditEvent, Checkpoint, LogLeaf, LogState
from audit.sequencer import log_sequence
from audit.services import Actor, event_record
from core.keys import platform_key

pytestmark = pytest.mark.django_db


def record(n: int = 1, **kwargs: Any) -> list[AuditEvent]:
    with transaction.atomic():
        return [event_record(actor=Actor("user", f"clerk-{i}"), action=EventType.USER_LOGGED_IN,
                             object_id=str(i), **kwargs) for i in range(n)]


@pytest.mark.django_db(transaction=True)  # no test-wide transaction around it
def test_an_event_is_only_recorded_inside_the_actions_transaction() -> None:
    with pytest.raises(RuntimeError, match="inside the action's transaction"):
        event_record(actor=Actor("user", "x"), action=EventType.USER_LOGGED_IN)
    assert not AuditEvent.objects.exists()


def test_an_event_rolls_back_with_its_action() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        event_record(actor=Actor("user", "x"), action=EventType.USER_LOGGED_IN)
        raise IntegrityError("the action failed")
    assert not AuditEvent.objects.exists()


def test_an_undeclared_action_cannot_be_recorded() -> None:
    with pytest.raises(TypeError, match="not a declared audit event type"), transaction.atomic():
        event_record(actor=Actor("user", "x"), action="test.done")  # type: ignore[arg-type]
    assert not AuditEvent.objects.exists()


def test_a_detail_its_event_type_does_not_declare_cannot_be_recorded() -> None:
    with pytest.raises(ValueError, match="declares no detail password"), transaction.atomic():
        event_record(actor=Actor("user", "x"), action=EventType.USER_LOGIN_FAILED, detail={"password": "x"})
    assert not AuditEvent.objects.exists()


def test_nested_details_hash_stably() -> None:
    with transaction.atomic():
        event = event_record(actor=Actor("user", "x"), action=EventType.DATASET_UPDATED,
                             detail={"changed": ["title"], "old": {"title": "a", "n": 3}, "new": {"fields": ["a"]}})
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.leaf_hash == leaf_hash(stored.canonical_leaf()).hex() == event.leaf_hash
    assert stored.object_type == "dataset" and stored.action == "dataset.updated"


def test_the_leaf_hash_is_recomputable_from_the_stored_row() -> None:
    (event,) = record(detail={"ip": "192.0.2.1"})
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.leaf_hash == leaf_hash(stored.canonical_leaf()).hex() == event.leaf_hash


def test_event_details_must_be_plain_json_so_they_hash_stably() -> None:
    with pytest.raises(TypeError, match="float"), transaction.atomic():
        event_record(actor=Actor("user", "x"), action=EventType.USER_LOGGED_IN, detail={"ip": 0.5})


def test_the_sequencer_appends_events_in_order_and_signs_a_checkpoint() -> None:
    events = record(5)
    assert log_sequence() == 5
    leaves = list(LogLeaf.objects.order_by("index"))
    assert [leaf.event_id for leaf in leaves] == [e.pk for e in events]
    assert [leaf.index for leaf in leaves] == [0, 1, 2, 3, 4]
    checkpoint = Checkpoint.objects.get()
    expected_root = root_of([bytes.fromhex(e.leaf_hash) for e in events])
    assert checkpoint.tree_size == 5 and checkpoint.root_hash == expected_root.hex()
    assert checkpoint.body().splitlines()[1:] == ["5", base64.b64encode(expected_root).decode()]
    platform_key().public_key.verify(base64.b64decode(checkpoint.signature), checkpoint.body().encode())
    assert LogState.objects.get(pk=1).size == 5


def test_the_sequencer_is_idempotent_and_grows_the_tree_incrementally() -> None:
    first = record(3)
    log_sequence()
    assert log_sequence() == 0
    assert Checkpoint.objects.count() == 1  # nothing new: no new checkpoint
    second = record(4)
    assert log_sequence() == 4
    expected = root_of([bytes.fromhex(e.leaf_hash) for e in first + second])
    assert Checkpoint.objects.order_by("-tree_size").first().root_hash == expected.hex()


def test_the_sequencer_works_in_batches() -> None:
    record(7)
    assert log_sequence(batch_size=3) == 7
    assert sorted(Checkpoint.objects.values_list("tree_size", flat=True)) == [3, 6, 7]


def test_checkpoints_come_at_the_cadence_not_after_every_event(settings: Any) -> None:
    """AUDIT_CHECKPOINT_INTERVAL: the sequencer appends on every run, and signs at most once per interval; the
    first run after the interval signs the leaves appended meanwhile, even with nothing new to append."""
    settings.AUDIT_CHECKPOINT_INTERVAL = 1
    record(3)
    log_sequence()
    record(2)
    log_sequence()
    record(4)
    log_sequence(batch_size=2)
    assert LogState.objects.get(pk=1).size == 9
    assert list(Checkpoint.objects.values_list("tree_size", flat=True)) == [3], "one per interval"
    time.sleep(1.1)
    assert log_sequence() == 0
    assert sorted(Checkpoint.objects.values_list("tree_size", flat=True)) == [3, 9]
    assert log_sequence() == 0
    assert Checkpoint.objects.count() == 2, "nothing new, nothing signed"


def test_without_the_signing_key_nothing_is_sequenced(settings: Any, tmp_path: Any) -> None:
    record(2)
    settings.PLATFORM_SIGNING_KEY_FILE = tmp_path / "missing.pem"
    with pytest.raises(Exception, match="signing key"):
        log_sequence()
    assert not LogLeaf.objects.exists() and LogState.objects.get(pk=1).size == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the append-only trigger is PostgreSQL's")
def test_the_database_refuses_to_update_or_delete_audit_rows() -> None:
    record()
    log_sequence()
    for statement in ["UPDATE audit_auditevent SET outcome = 'refused'", "DELETE FROM audit_auditevent",
                      "DELETE FROM audit_logleaf", "UPDATE audit_checkpoint SET tree_size = 0"]:
        with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert AuditEvent.objects.get().outcome == "ok"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL roles")
def test_the_app_role_from_audit_grants_can_append_but_not_alter_the_log() -> None:
    from audit.management.commands.audit_grants import grants_sql

    record()
    log_sequence()
    with connection.cursor() as cursor:
        cursor.execute("CREATE ROLE govplatform_test_app NOLOGIN")
        for statement in grants_sql("govplatform_test_app"):
            cursor.execute(statement)
        cursor.execute("SET LOCAL ROLE govplatform_test_app")
    record()  # the app appends and sequences as usual
    assert log_sequence() == 1
    for statement in ["UPDATE audit_auditevent SET outcome = 'refused'", "DELETE FROM audit_logleaf",
                      "TRUNCATE audit_checkpoint", "ALTER TABLE audit_auditevent DISABLE TRIGGER USER"]:
        with pytest.raises(Exception, match=r"permission denied|must be owner"), transaction.atomic(), \
                connection.cursor() as cursor:
            cursor.execute(statement)
    assert AuditEvent.objects.filter(outcome="ok").count() == 2
