"""The client library and its CLI against a real HTTP server: every call of the systems' API, verified answers,
receipts kept and checked offline."""

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from http_message_signatures import InvalidSignature

from audit.models import LogState
from audit.sequencer import log_sequence
from catalog.models import Dataset, Field, FieldType, Record, Sensitivity, Tier
from core.keys import platform_key
from exchange import client as consumer
from exchange.models import Grant
from registry.models import Department, System, SystemKey
from tests.conftest import POLICE_KEY_ID, RECORD_KEY

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def police_client(raw_live_server: str, police_key: SystemKey, police_private_key: Ed25519PrivateKey,
           police_grant: Grant) -> consumer.PlatformClient:
    for n in range(5):
        Record.objects.create(dataset=police_grant.dataset, key=f"a=b;~{n}", data={
            "citizen_id": f"a=b;~{n}", "vaccine": "measles", "dose_date": "2026-02-02"})
    return consumer.PlatformClient(raw_live_server, private_key=police_private_key, key_id=POLICE_KEY_ID,
                                   platform_public_key=platform_key().public_key)


def test_every_read_call_through_the_library(police_client: consumer.PlatformClient, police_grant: Grant) -> None:
    (grant,) = police_client.grants()["grants"]
    assert grant["id"] == police_grant.pk
    assert police_client.read("vaccinations", "a=b;~3", fields=["vaccine"])["fields"] == {"vaccine": "measles"}
    assert police_client.last is not None and police_client.last.verified
    assert len(list(police_client.records_all("vaccinations", limit=2))) == 6
    assert [r["fields"]["vaccine"] for r in police_client.records("vaccinations", filters={"vaccine": "hepatitis-b"})[
        "records"]] == ["hepatitis-b"]
    found = police_client.lookup("vaccinations", [RECORD_KEY, "a=b;~1", "nobody"])
    assert (len(found["records"]), found["not_found"]) == (2, ["nobody"])
    with pytest.raises(consumer.RequestFailed) as refused:
        police_client.read("vaccinations", "nobody")
    assert (refused.value.status, refused.value.code) == (404, "record_not_found")


def test_an_export_round_trip_through_the_library(police_client: consumer.PlatformClient, eager_celery: None,
                                                  tmp_path: Path) -> None:
    created = police_client.export("vaccinations", "jsonl")
    status = police_client.export_wait(created["id"], every=0.1, timeout=30)
    out = tmp_path / "export.jsonl"
    digest = police_client.export_download(status, out)
    assert digest == status["file_digest"]
    assert len(out.read_text().splitlines()) == 6


def test_the_provider_pushes_through_the_library(raw_live_server: str, health: Department,
                                                 vaccinations: Dataset) -> None:
    key = Ed25519PrivateKey.generate()
    system = System.objects.create(department=health, code="health-his", name="HIS")
    SystemKey.objects.create(system=system, key_id="his-1", public_key=consumer.public_pem(key.public_key()))
    health_client = consumer.PlatformClient(raw_live_server, private_key=key, key_id="his-1",
                                            platform_public_key=platform_key().public_key)
    result = health_client.push("vaccinations", "b-1", upsert=[{"citizen_id": "李四", "vaccine": "polio"}])
    assert result["upserted"] == 1
    assert Record.objects.get(key="李四").data["vaccine"] == "polio"


def test_open_data_unsigned_through_the_library(raw_live_server: str, health: Department) -> None:
    dataset = Dataset.objects.create(owner=health, identifier="clinics", title="Clinics", tier=Tier.OPEN,
                                     description="Clinics.", status="published",
                                     licence="https://creativecommons.org/licenses/by/4.0/")
    Field.objects.create(dataset=dataset, name="code", type=FieldType.STRING, sensitivity=Sensitivity.PUBLIC,
                         is_lookup_key=True)
    Record.objects.create(dataset=dataset, key="C1", data={"code": "C1"})
    anyone = consumer.PlatformClient(raw_live_server, platform_public_key=platform_key().public_key)
    assert anyone.read("clinics", "C1")["fields"] == {"code": "C1"}
    assert anyone.last is not None and anyone.last.verified


def test_a_receipt_is_kept_and_checked_offline(police_client: consumer.PlatformClient) -> None:
    police_client.read("vaccinations", RECORD_KEY)
    assert police_client.last is not None
    receipt = json.loads(json.dumps(consumer.receipt_make(police_client.last)))  # as kept in a file
    public_key = platform_key().public_key
    proved = consumer.receipt_verify(receipt, platform_public_key=public_key)
    assert receipt["headers"]["Audit-Event"] in proved
    assert consumer.receipt_verify(receipt, platform_public_key=public_key, body=police_client.last.body)
    with pytest.raises(InvalidSignature):
        consumer.receipt_verify(receipt, platform_public_key=public_key, body=b'{"fields": {"vaccine": "x"}}')
    for tamper in ({"status": 404}, {"headers": {**receipt["headers"], "Audit-Event": "0" * 36}}):
        with pytest.raises(InvalidSignature):
            consumer.receipt_verify({**receipt, **tamper}, platform_public_key=public_key)
    with pytest.raises(InvalidSignature):
        consumer.receipt_verify(receipt, platform_public_key=Ed25519PrivateKey.generate().public_key())


def test_the_cli_covers_the_calls_and_keeps_a_receipt(raw_live_server: str, police_key: SystemKey,
                                                      police_private_key: Ed25519PrivateKey, police_grant: Grant,
                                                      tmp_path: Path, capsys: Any) -> None:
    key_file = tmp_path / "police.pem"
    key_file.write_bytes(police_private_key.private_bytes(
        consumer.serialization.Encoding.PEM, consumer.serialization.PrivateFormat.PKCS8,
        consumer.serialization.NoEncryption()))
    platform_pub = tmp_path / "platform.pub.pem"
    platform_pub.write_text(platform_key().public_pem())
    common = ["--base-url", raw_live_server, "--key-file", str(key_file), "--key-id", POLICE_KEY_ID,
              "--platform-key", str(platform_pub)]
    assert consumer.main(["grants", *common]) == 0
    assert json.loads(capsys.readouterr().out)["system"] == "police-rms"
    receipt = tmp_path / "receipt.json"
    assert consumer.main(["read", "vaccinations", RECORD_KEY, "--fields", "vaccine", *common,
                          "--receipt", str(receipt)]) == 0
    assert json.loads(capsys.readouterr().out)["fields"] == {"vaccine": "hepatitis-b"}
    assert consumer.main(["lookup", "vaccinations", RECORD_KEY, "nobody", *common]) == 0
    assert json.loads(capsys.readouterr().out)["not_found"] == ["nobody"]
    assert consumer.main(["records", "vaccinations", "--all", *common]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    assert consumer.main(["read", "vaccinations", "nobody", *common]) == 1
    assert "record_not_found" in capsys.readouterr().out
    assert consumer.main(["verify-receipt", str(receipt), "--platform-key", str(platform_pub)]) == 0
    assert "Receipt holds" in capsys.readouterr().out
    kept = json.loads(receipt.read_text())
    kept["status"] = 500
    receipt.write_text(json.dumps(kept))
    assert consumer.main(["verify-receipt", str(receipt), "--platform-key", str(platform_pub)]) == 2


def test_a_receipt_is_proven_to_be_in_the_log_the_platform_signed(police_client: consumer.PlatformClient,
                                                                   raw_live_server: str, tmp_path: Path,
                                                                   capsys: Any) -> None:
    police_client.read("vaccinations", RECORD_KEY)
    assert police_client.last is not None
    receipt_file = tmp_path / "receipt.json"
    receipt_file.write_text(json.dumps(consumer.receipt_make(police_client.last)))
    leaf = police_client.last.headers["Audit-Leaf-Hash"]
    log_sequence()  # as the worker does within seconds (none runs beside the test server)
    public_key = platform_key().public_key
    proved = consumer.inclusion_prove(raw_live_server, leaf, platform_public_key=public_key)
    assert proved["leaf_hash"] == leaf and proved["tree_size"] == LogState.objects.get().size
    assert proved["checkpoint"].startswith(f"{settings.AUDIT_LOG_ORIGIN}\n{proved['tree_size']}\n")

    platform_pub = tmp_path / "platform.pub.pem"
    platform_pub.write_text(platform_key().public_pem())
    kept = tmp_path / "proof.json"
    assert consumer.main(["prove", str(receipt_file), "--platform-key", str(platform_pub), "--base-url",
                          raw_live_server, "--out", str(kept)]) == 0
    assert "PROVED: leaf" in capsys.readouterr().err
    assert json.loads(kept.read_text())["proof"] == proved["proof"]

    stranger = tmp_path / "stranger.pub.pem"
    stranger.write_text(consumer.public_pem(Ed25519PrivateKey.generate().public_key()))
    assert consumer.main(["prove", str(receipt_file), "--platform-key", str(stranger), "--base-url",
                          raw_live_server]) == 1
    assert "NOT PROVED" in capsys.readouterr().err
    assert consumer.main(["prove", "--leaf-hash", "ab" * 32, "--platform-key", str(platform_pub), "--base-url",
                          raw_live_server]) == 1
    assert "leaf_not_found" in capsys.readouterr().err
