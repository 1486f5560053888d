"""Witnesses: another department's witness (``python -m audit.witness``) verifies each new checkpoint against
the last one it cosigned with a consistency proof, cosigns it (C2SP cosignature/v1) and submits it; the
platform stores only cosignatures that verify, shows them in the checkpoint's note, and
``audit_verify --require-witnesses N`` trusts only cosigned history. A truncated or rewritten log is caught by
the witness, which refuses to cosign and keeps its state."""

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client

from audit.events import EventType
from audit.models import AuditEvent, Checkpoint, Cosignature
from audit.notes import cosignature_key_hash, cosignature_message
from audit.sequencer import log_sequence
from audit.services import Actor, event_record
from audit.witness import Fork, main, witness_run
from audit.witnesses import witness_register
from core.keys import platform_key

pytestmark = pytest.mark.django_db(transaction=True)

NAME = "audit-office.example/witness"


def grow(n: int) -> None:
    with transaction.atomic():
        for i in range(n):
            event_record(actor=Actor("user", "clerk"), action=EventType.USER_LOGGED_IN, object_id=str(i),
                         detail={"ip": "198.51.100.5"})
    log_sequence()


def pem(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture
def witness_key() -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    witness_register(actor=Actor("platform", "test"), name=NAME, public_key_pem=pem(key), department="audit-office")
    return key


def run(url: str, key: Ed25519PrivateKey, state: Path) -> str:
    return witness_run(base_url=url, name=NAME, key=key, platform_key=platform_key().public_key, state_file=state)


def require_witnesses(n: int) -> tuple[bool, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit_verify", "--require-witnesses", str(n), stdout=out, stderr=err)
    except CommandError:
        return False, out.getvalue() + err.getvalue()
    return True, out.getvalue()


def newest() -> int:
    """The size of the newest checkpoint (the log also grows by its own events: registrations, cosignatures)."""
    log_sequence()
    checkpoint = Checkpoint.objects.order_by("-tree_size").first()
    assert checkpoint is not None
    return checkpoint.tree_size


def test_the_witness_cosigns_each_new_checkpoint_after_proving_consistency(
    live_server: Any, witness_key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    state = tmp_path / "witness-state.json"
    grow(5)
    ok, out = require_witnesses(1)
    assert not ok and "no checkpoint carries 1 valid witness" in out
    first = newest()
    assert run(live_server.url, witness_key, state) == f"cosigned the checkpoint of {first} leaves"
    grow(7)
    second = newest()
    assert run(live_server.url, witness_key, state) == f"cosigned the checkpoint of {second} leaves"
    assert json.loads(state.read_text())["tree_size"] == second
    assert sorted(Cosignature.objects.values_list("checkpoint__tree_size", flat=True)) == [first, second]

    # Each cosignature is itself an event, so the newest checkpoint is usually one the witness has yet to see.
    body = Client().get("/api/v1/audit/checkpoint", {"tree_size": second}).json()
    assert body["tree_size"] == second and body["cosignatures"] == [NAME]
    line = body["note"].rstrip("\n").splitlines()[-1]
    assert line.startswith(f"\u2014 {NAME} ")
    blob = base64.b64decode(line.rsplit(" ", 1)[1])
    raw = witness_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert blob[:4] == cosignature_key_hash(NAME, raw)
    timestamp = int.from_bytes(blob[4:12], "big")
    checkpoint = Checkpoint.objects.get(tree_size=body["tree_size"])
    witness_key.public_key().verify(blob[12:], cosignature_message(checkpoint.body(), timestamp))  # C2SP format

    ok, out = require_witnesses(1)
    assert ok and "cosigned by audit-office.example/witness" in out
    assert not require_witnesses(2)[0]
    assert AuditEvent.objects.filter(action="audit.cosigned").count() == 2


def test_a_truncated_log_and_a_rewritten_one_are_refused_and_the_state_kept(
    live_server: Any, witness_key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    grow(6)
    state = tmp_path / "witness-state.json"
    newest()
    run(live_server.url, witness_key, state)
    kept = state.read_text()

    later = json.loads(kept)
    later["tree_size"] = 99  # the witness saw more than the platform now shows: the tail was cut off
    state.write_text(json.dumps(later))
    with pytest.raises(Fork, match="truncated"):
        run(live_server.url, witness_key, state)

    other = json.loads(kept)
    other["tree_size"], other["root_hash"] = newest(), "00" * 32  # the size the platform shows, another root
    state.write_text(json.dumps(other))
    with pytest.raises(Fork, match="different roots"):
        run(live_server.url, witness_key, state)

    older = json.loads(kept)
    older["tree_size"], older["root_hash"] = 3, "11" * 32  # a root for 3 leaves this log never had
    state.write_text(json.dumps(older))
    grow(2)
    with pytest.raises(Fork, match="does not extend"):
        run(live_server.url, witness_key, state)
    assert json.loads(state.read_text()) == older, "the state is kept as it was"


def test_the_cli_keygen_and_a_fork_exit_code(live_server: Any, witness_key: Ed25519PrivateKey,
                                             tmp_path: Path, capsys: Any) -> None:
    key_file = tmp_path / "witness.pem"
    assert main(["--keygen", "--key-file", str(key_file)]) == 0
    assert "BEGIN PUBLIC KEY" in capsys.readouterr().out
    platform_pub = tmp_path / "platform.pub.pem"
    platform_pub.write_text(platform_key().public_pem())
    key_file.write_bytes(witness_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
    grow(3)
    state = tmp_path / "state.json"
    common = ["--name", NAME, "--key-file", str(key_file), "--state", str(state), "--platform-key",
              str(platform_pub), "--base-url", live_server.url]
    assert main(common) == 0
    state.write_text(json.dumps({**json.loads(state.read_text()), "root_hash": "22" * 32}))
    assert main(common) == 2
    assert "FORK" in capsys.readouterr().err


def test_a_cosignature_that_does_not_verify_is_refused(live_server: Any, witness_key: Ed25519PrivateKey) -> None:
    grow(2)
    checkpoint = Checkpoint.objects.order_by("-tree_size").first()
    assert checkpoint is not None
    impostor = Ed25519PrivateKey.generate().sign(cosignature_message(checkpoint.body(), 1_700_000_000))
    answer = Client().post("/api/v1/audit/cosignatures", {
        "witness": NAME, "tree_size": checkpoint.tree_size, "timestamp": 1_700_000_000,
        "signature": base64.b64encode(impostor).decode()}, content_type="application/json")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "cosignature_invalid"
    unknown = Client().post("/api/v1/audit/cosignatures", {"witness": "nobody", "tree_size": 1, "timestamp": 1,
                                                            "signature": "AA=="}, content_type="application/json")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_witness"
    bad = Client().post("/api/v1/audit/cosignatures", {"witness": NAME}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_input"
    assert not Cosignature.objects.exists()
