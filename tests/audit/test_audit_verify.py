"""`manage.py audit_verify`: recompute the tree, check every checkpoint, name the first bad index."""

import io
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from audit.events import EventType
from audit.merkle import CompactRange, leaf_hash
from audit.models import AuditEvent, LogLeaf
from audit.notes import checkpoint_note_parse
from audit.sequencer import checkpoint_sign, log_sequence
from audit.services import Actor, event_record
from core.keys import platform_key, public_key_pem

pytestmark = pytest.mark.django_db


def make_log(n: int, *, batch: int = 1) -> list[AuditEvent]:
    events = []
    for i in range(n):
        with transaction.atomic():
            events.append(event_record(actor=Actor("system", "police-rms", "police"), action=EventType.RECORD_READ,
                                       object_id="vaccinations", detail={"record_version": i}))
        if (i + 1) % batch == 0:
            log_sequence()
    log_sequence()
    return events


def tamper(sql: str, params: list[Any]) -> None:
    """What a database administrator could do: bypass the append-only trigger and edit a row."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")  # triggers off, this transaction
        cursor.execute(sql, params)


def verify(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("audit_verify", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_an_untouched_log_verifies() -> None:
    make_log(6, batch=2)
    out, _ = verify()
    assert "leaves: 6" in out and "checkpoints checked: 3" in out and "OK" in out


def test_an_altered_row_fails_at_its_index() -> None:
    events = make_log(9, batch=3)
    altered = events[4]
    tamper("UPDATE audit_auditevent SET outcome = 'refused' WHERE id = %s", [altered.pk])
    index = LogLeaf.objects.get(event=altered).index
    with pytest.raises(CommandError, match=f"first bad index: {index}"):
        verify()


def test_an_altered_row_with_its_leaf_hash_rewritten_is_caught_by_the_checkpoints() -> None:
    events = make_log(8, batch=2)
    forged = AuditEvent.objects.get(pk=events[5].pk)
    forged.object_id = "someone-elses-data"
    tamper("UPDATE audit_auditevent SET object_id = %s, leaf_hash = %s WHERE id = %s",
           [forged.object_id, leaf_hash(forged.canonical_leaf()).hex(), forged.pk])
    err = io.StringIO()
    with pytest.raises(CommandError, match="first bad index: 4"):
        call_command("audit_verify", stdout=io.StringIO(), stderr=err)
    assert "[4, 6)" in err.getvalue()


def test_a_truncated_log_is_detected() -> None:
    events = make_log(4)
    tamper("DELETE FROM audit_logleaf WHERE event_id = %s", [events[-1].pk])
    with pytest.raises(CommandError, match="first bad index: 3"):
        verify()


def test_a_checkpoint_signed_by_another_key_fails(tmp_path: Path) -> None:
    make_log(3)
    other = tmp_path / "other.pub.pem"
    other.write_text(public_key_pem(Ed25519PrivateKey.generate().public_key()))
    with pytest.raises(CommandError):
        verify("--public-key", str(other))
    mine = tmp_path / "mine.pub.pem"
    mine.write_text(platform_key().public_pem())
    assert "OK" in verify("--public-key", str(mine))[0]


def test_it_reports_events_awaiting_sequencing_and_can_sequence_first() -> None:
    with transaction.atomic():
        event_record(actor=Actor("user", "x"), action=EventType.USER_LOGGED_IN)
    assert "awaiting sequencing: 1" in verify()[0]
    assert "leaves: 1" in verify("--sequence-first")[0]


def test_leaves_no_checkpoint_covers_fail_once_the_cadence_should_have_signed_them(settings: Any) -> None:
    """Within twice the checkpoint interval and the sequencer's interval, a tail without a checkpoint is the
    cadence at work; past that, it is a failure (here the grace is 0: the checkpoints were removed)."""
    settings.AUDIT_SEQUENCE_INTERVAL = 0
    make_log(4)
    tamper("DELETE FROM audit_checkpoint WHERE tree_size > %s", [2])
    with pytest.raises(CommandError, match="first bad index: 2"):
        verify()


def test_a_tail_awaiting_its_checkpoint_within_the_cadence_is_reported_not_failed(settings: Any) -> None:
    settings.AUDIT_CHECKPOINT_INTERVAL = 3600
    make_log(3, batch=3)
    make_log(2, batch=2)
    out, _ = verify()
    assert "leaves: 5" in out and "awaiting a checkpoint: 2" in out and "OK:" in out
    out, _ = verify("--sequence-first")
    assert "awaiting a checkpoint: 0" in out, "an auditor's --sequence-first signs the whole log"


def save_checkpoint(tmp_path: Path) -> Path:
    note = tmp_path / "checkpoint.note"
    out, _ = verify("--save-checkpoint", str(note))
    assert f"Saved the checkpoint of {note.read_text().splitlines()[1]} leaves" in out
    return note


def test_the_saved_checkpoint_is_a_c2sp_signed_note(tmp_path: Path, settings: Any) -> None:
    make_log(3)
    lines = save_checkpoint(tmp_path).read_text().split("\n")
    assert lines[0] == settings.AUDIT_LOG_ORIGIN and lines[1] == "3" and lines[3] == ""
    assert lines[4].startswith(f"\u2014 {settings.AUDIT_LOG_ORIGIN} ") and lines[5] == ""
    assert "The log still contains the trusted checkpoint of 3 leaves." in verify(
        "--trusted-checkpoint", str(tmp_path / "checkpoint.note"))[0]


def test_a_truncated_tail_is_caught_by_a_trusted_checkpoint(tmp_path: Path) -> None:
    events = make_log(6)
    note = save_checkpoint(tmp_path)
    # Cut the last three events, their leaves and checkpoints, and fix the sequencer's state: the log
    # alone is consistent again...
    tamper('DELETE FROM audit_logleaf WHERE "index" >= %s', [3])
    tamper("DELETE FROM audit_checkpoint WHERE tree_size > %s", [3])
    tamper("DELETE FROM audit_auditevent WHERE id >= %s", [events[3].pk])
    root = CompactRange()
    root.extend(bytes.fromhex(e.leaf_hash) for e in events[:3])
    tamper("UPDATE audit_logstate SET size = 3, compact_range = %s", [json.dumps(root.to_json())])
    assert "OK" in verify()[0]
    # ...but not against what the auditor kept.
    with pytest.raises(CommandError, match="first bad index: 3"):
        verify("--trusted-checkpoint", str(note))


def test_a_rewritten_history_re_signed_by_an_insider_is_caught_by_a_trusted_checkpoint(tmp_path: Path) -> None:
    events = make_log(4)
    note = save_checkpoint(tmp_path)
    forged = AuditEvent.objects.get(pk=events[1].pk)
    forged.outcome = "refused"
    tamper("UPDATE audit_auditevent SET outcome = %s, leaf_hash = %s WHERE id = %s",
           ["refused", leaf_hash(forged.canonical_leaf()).hex(), forged.pk])
    tamper("DELETE FROM audit_checkpoint", [])
    tree = CompactRange()
    tree.extend(bytes.fromhex(h) for h in AuditEvent.objects.order_by("id").values_list("leaf_hash", flat=True))
    checkpoint_sign(tree_size=tree.size, root=tree.root())  # with the platform's own key
    assert "OK" in verify()[0]
    err = io.StringIO()
    with pytest.raises(CommandError, match=r"verification failed$"):
        call_command("audit_verify", "--trusted-checkpoint", str(note), stdout=io.StringIO(), stderr=err)
    assert "history was rewritten" in err.getvalue()


def test_a_trusted_checkpoint_must_carry_the_platforms_signature(tmp_path: Path) -> None:
    make_log(2)
    note = save_checkpoint(tmp_path)
    text = note.read_text()
    altered = tmp_path / "altered.note"
    altered.write_text(text.replace("\n2\n", "\n1\n", 1))
    with pytest.raises(CommandError, match="does not verify"):
        verify("--trusted-checkpoint", str(altered))
    foreign = Ed25519PrivateKey.generate()
    with pytest.raises(ValueError, match="no signature by the platform key"):
        checkpoint_note_parse(text, foreign.public_key())
    with pytest.raises(ValueError, match="not a signed checkpoint"):
        checkpoint_note_parse("just some text", platform_key().public_key)
