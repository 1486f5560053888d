"""POST /api/v1/datasets/{id}/batches: the providing department's system writes its own records, all or nothing,
once per batch id, never during an import, with content-digest signed and one audit event per batch."""

from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client

from audit.models import AuditEvent
from audit.services import subject_hash
from catalog.models import Dataset, ImportJob, ImportState, Record
from exchange import client as consumer
from exchange.models import RecordBatch
from registry.models import Department, System, SystemKey
from tests.conftest import RECORD_KEY, record_path, signed_post
from tests.exchange.test_record_read import assert_refused, assert_signed_by_platform

pytestmark = pytest.mark.django_db

HEALTH_KEY_ID = "health-his-2026"
PATH = "/api/v1/datasets/vaccinations/batches"
NEW_KEY = "110101199202020022"


@pytest.fixture
def health_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def health_key(health: Department, health_private_key: Ed25519PrivateKey) -> SystemKey:
    system = System.objects.create(department=health, code="health-his", name="Hospital information system")
    return SystemKey.objects.create(system=system, key_id=HEALTH_KEY_ID,
                                    public_key=consumer.public_pem(health_private_key.public_key()))


def push(body: Any, private_key: Ed25519PrivateKey, key_id: str = HEALTH_KEY_ID, **kwargs: Any) -> Any:
    return signed_post(PATH, body, private_key, key_id, **kwargs)


def row(key: str = NEW_KEY, **values: Any) -> dict[str, Any]:
    return {"citizen_id": key, "full_name": "Wang Fang", "vaccine": "measles", "dose_date": "2026-05-06", **values}


def test_the_provider_upserts_and_deletes_and_the_read_api_serves_it(
        health_key: SystemKey, health_private_key: Ed25519PrivateKey, vaccinations: Dataset, signed_get: Any,
        police_key: SystemKey, police_grant: Any) -> None:
    response = push({"batch_id": "b-1", "upsert": [row(), row(RECORD_KEY, vaccine="polio")],
                     "delete": ["nobody-here"]}, health_private_key)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["upserted"], body["deleted"], body["not_found"], body["replayed"]) == (2, 0, ["nobody-here"], False)
    assert_signed_by_platform(response)
    changed = Record.objects.get(dataset=vaccinations, key=RECORD_KEY)
    assert (changed.version, changed.data["vaccine"]) == (2, "polio")
    assert signed_get(record_path()).json()["fields"]["vaccine"] == "polio"
    assert signed_get(record_path(key=NEW_KEY)).json()["fields"]["vaccine"] == "measles"
    event = AuditEvent.objects.get(uid=response["Audit-Event"])
    assert (event.action, event.actor_id, event.detail["batch_id"], event.detail["upserted"]) == (
        "records.pushed", "health-his", "b-1", 2)
    assert set(event.subjects) == {subject_hash(k) for k in (NEW_KEY, RECORD_KEY, "nobody-here")}
    assert "Wang Fang" not in orjson.dumps(event.detail).decode()

    deleted = push({"batch_id": "b-2", "delete": [NEW_KEY]}, health_private_key).json()
    assert deleted["deleted"] == 1
    assert_refused(signed_get(record_path(key=NEW_KEY)), 404, "record_not_found")


def test_the_same_batch_again_is_answered_and_written_once(health_key: SystemKey,
                                                           health_private_key: Ed25519PrivateKey,
                                                           vaccinations: Dataset) -> None:
    body = {"batch_id": "b-7", "upsert": [row(RECORD_KEY, vaccine="polio")]}
    first = push(body, health_private_key).json()
    again = push(body, health_private_key)
    assert again.status_code == 200
    assert again.json() == {**first, "replayed": True}
    assert Record.objects.get(dataset=vaccinations, key=RECORD_KEY).version == 2  # not 3
    assert AuditEvent.objects.get(uid=again["Audit-Event"]).detail["replayed"] is True
    other = push({"batch_id": "b-7", "upsert": [row(RECORD_KEY, vaccine="rabies")]}, health_private_key)
    assert_refused(other, 409, "batch_id_reused", "records.pushed")
    assert Record.objects.get(dataset=vaccinations, key=RECORD_KEY).data["vaccine"] == "polio"


def test_a_consumer_cannot_write_the_providers_records(police_key: SystemKey, police_private_key: Ed25519PrivateKey,
                                                       police_grant: Any, vaccinations: Dataset) -> None:
    response = push({"batch_id": "x", "upsert": [row(RECORD_KEY, vaccine="forged")]}, police_private_key,
                    police_key.key_id)
    assert_refused(response, 403, "not_the_provider", "records.pushed")
    assert Record.objects.get(dataset=vaccinations, key=RECORD_KEY).data["vaccine"] == "hepatitis-b"
    assert not RecordBatch.objects.exists()


@pytest.mark.parametrize(("rows", "fields"), [
    ([row(dose_date="2026-13-01")], ["dose_date"]),
    ([row(shoe_size=42)], ["shoe_size"]),
    ([row(citizen_id="")], ["citizen_id"]),
    ([row(), row()], ["citizen_id"]),
    ([row(), row("1101", dose_date="soon")], ["dose_date"]),
])
def test_one_bad_record_refuses_the_whole_batch_with_every_problem(rows: list, fields: list[str],
                                                                   health_key: SystemKey,
                                                                   health_private_key: Ed25519PrivateKey,
                                                                   vaccinations: Dataset) -> None:
    before = list(Record.objects.values_list("key", "version"))
    response = push({"batch_id": "bad", "upsert": rows}, health_private_key)
    assert_refused(response, 400, "records_invalid", "records.pushed")
    assert [problem["field"] for problem in response.json()["error"]["detail"]] == fields
    assert "Wang Fang" not in response.content.decode()
    assert list(Record.objects.values_list("key", "version")) == before
    assert not RecordBatch.objects.exists()


def test_a_key_upserted_and_deleted_in_one_batch_is_refused(health_key: SystemKey,
                                                            health_private_key: Ed25519PrivateKey,
                                                            vaccinations: Dataset) -> None:
    response = push({"batch_id": "b", "upsert": [row()], "delete": [NEW_KEY]}, health_private_key)
    assert_refused(response, 400, "records_invalid", "records.pushed")


@pytest.mark.parametrize(("body", "code"), [
    ({"upsert": [row()]}, "invalid_json"), ({"batch_id": "has space", "upsert": [row()]}, "invalid_json"),
    ({"batch_id": "b", "upsert": row()}, "invalid_json"), ({"batch_id": "b"}, "batch_too_large"),
    ({"batch_id": "b", "delete": [str(n) for n in range(1001)]}, "batch_too_large"),
    ({"batch_id": "b", "colour": "red"}, "invalid_json"),
])
def test_a_malformed_batch_is_refused(body: Any, code: str, health_key: SystemKey,
                                      health_private_key: Ed25519PrivateKey, vaccinations: Dataset) -> None:
    assert_refused(push(body, health_private_key), 400, code, "records.pushed")


def test_a_body_changed_after_signing_is_refused(health_key: SystemKey, health_private_key: Ed25519PrivateKey,
                                                 vaccinations: Dataset) -> None:
    signed = orjson.dumps({"batch_id": "b", "upsert": [row(RECORD_KEY, vaccine="polio")]})
    tampered = signed.replace(b"polio", b"rabid")
    response = push(None, health_private_key, raw=signed, sent=tampered)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "signature_invalid"
    assert Record.objects.get(dataset=vaccinations, key=RECORD_KEY).data["vaccine"] == "hepatitis-b"


def test_a_body_whose_digest_is_not_signed_is_refused(health_key: SystemKey, health_private_key: Ed25519PrivateKey,
                                                      vaccinations: Dataset) -> None:
    raw = orjson.dumps({"batch_id": "b", "upsert": [row()]})
    message = consumer.sign_request(consumer.Message("POST", f"http://testserver{PATH}"),
                                    private_key=health_private_key, key_id=HEALTH_KEY_ID)  # no body: no digest
    response = Client().post(PATH, data=raw, content_type="application/json", headers=dict(message.headers))
    assert response.status_code == 401
    assert not Record.objects.filter(key=NEW_KEY).exists()


def test_an_unsigned_push_is_refused(vaccinations: Dataset) -> None:
    response = Client().post(PATH, data=orjson.dumps({"batch_id": "b", "upsert": [row()]}),
                             content_type="application/json")
    assert_refused(response, 401, "signature_missing")


def test_a_push_during_an_import_is_refused_with_retry_after(health_key: SystemKey,
                                                             health_private_key: Ed25519PrivateKey,
                                                             vaccinations: Dataset, health_clerk: Any) -> None:
    ImportJob.objects.create(dataset=vaccinations, state=ImportState.APPLYING, file_name="r.csv", format="csv",
                             created_by=health_clerk)
    response = push({"batch_id": "b", "upsert": [row()]}, health_private_key)
    assert_refused(response, 409, "import_in_progress", "records.pushed")
    assert int(response["Retry-After"]) > 0
    assert not Record.objects.filter(key=NEW_KEY).exists()
