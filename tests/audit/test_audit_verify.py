"""`manage.py audit_verify`: recompute the tree, check every checkpoint, name the first bad index."""

import io
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from audit.merkle import leaf_hash
from audit.models import AuditEvent, LogLeaf
from audit.services import Actor, event_record, log_sequence
from govplatform.keys import platform_key, public_key_pem

pytestmark = pytest.mark.django_db


def make_log(n: int, *, batch: int = 1) -> list[AuditEvent]:
    events = []
    for i in range(n):
        with transaction.atomic():
            events.append(event_record(actor=Actor("system", "police-rms", "police"), action="record.read",
                                       object_type="dataset", object_id="vaccinations", detail={"n": i}))
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
        event_record(actor=Actor("user", "x"), action="test.done", object_type="thing")
    assert "awaiting sequencing: 1" in verify()[0]
    assert "leaves: 1" in verify("--sequence-first")[0]
