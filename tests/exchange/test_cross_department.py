"""No department's system ever receives another department's data it holds no grant for: every endpoint of the
systems' API, every method, signed by a system of a third department (and unsigned), answers a refusal that
carries none of the record's values."""

import datetime as dt
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client

from exchange import client as consumer
from exchange.models import Grant
from exchange.urls import urlpatterns
from registry.models import Department, System, SystemKey
from tests.conftest import RECORD_KEY

pytestmark = pytest.mark.django_db

SECRET_VALUES = ("Li Wei", "hepatitis-b", "2026-03-01")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
HRSS_KEY_ID = "hrss-benefits-2026"


@pytest.fixture
def hrss_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def hrss_key(hrss_private_key: Ed25519PrivateKey, db: None) -> SystemKey:
    """A system of a third department (human resources and social security) with no grant at all."""
    department = Department.objects.create(code="hrss", name="Human resources and social security")
    system = System.objects.create(department=department, code="hrss-benefits", name="Benefits system")
    return SystemKey.objects.create(system=system, key_id=HRSS_KEY_ID,
                                    public_key=consumer.public_pem(hrss_private_key.public_key()))


def api_paths(grant: Grant) -> list[str]:
    """Every address of the systems' API, its parameters filled in with the police grant's dataset and record."""
    dataset = grant.dataset.identifier
    paths = ["/api/v1/grants", f"/api/v1/datasets/{dataset}/records", f"/api/v1/datasets/{dataset}/lookup",
             f"/api/v1/datasets/{dataset}/records/{RECORD_KEY}", f"/api/v1/datasets/{dataset}/records?vaccine=x"]
    routes = " ".join(str(pattern.pattern) for pattern in urlpatterns)
    if "batches" in routes:
        paths.append(f"/api/v1/datasets/{dataset}/batches")
    if "exports" in routes:
        paths += [f"/api/v1/datasets/{dataset}/exports", "/api/v1/exports/00000000-0000-0000-0000-000000000000"]
    return paths


def send(method: str, path: str, private_key: Ed25519PrivateKey | None, key_id: str) -> Any:
    body = orjson.dumps({"keys": [RECORD_KEY], "batch_id": "b-1", "upsert": [{"citizen_id": RECORD_KEY,
                                                                            "full_name": "Mallory"}],
                         "format": "csv"}) if method != "GET" else b""
    headers: dict[str, str] = {"Content-Type": "application/json"} if body else {}
    if private_key is not None:
        message = consumer.sign_request(consumer.Message(method, f"http://testserver{path}", dict(headers)),
                                        private_key=private_key, key_id=key_id, body=body or None,
                                        created=dt.datetime.now(dt.UTC))
        headers = dict(message.headers)
    return Client().generic(method, path, data=body, **{"headers": headers})


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("signed", [True, False], ids=["signed-by-hrss", "unsigned"])
def test_no_endpoint_gives_another_departments_data_to_a_system_without_a_grant(
        method: str, signed: bool, hrss_key: SystemKey, hrss_private_key: Ed25519PrivateKey, police_key: SystemKey,
        police_grant: Grant) -> None:
    for path in api_paths(police_grant):
        response = send(method, path, hrss_private_key if signed else None, HRSS_KEY_ID)
        text = response.content.decode("utf-8", "replace")
        assert not any(value in text for value in SECRET_VALUES), f"{method} {path}: {text[:300]}"
        if path == "/api/v1/grants" and method == "GET" and signed:
            assert response.status_code == 200 and response.json()["grants"] == []  # its own (none), no one else's
            continue
        assert 400 <= response.status_code < 500, f"{method} {path}: {response.status_code} {text[:300]}"
        assert response["Content-Type"].startswith("application/json")
        assert response["Cache-Control"] == "no-store"
        assert "Signature" in response  # every refusal is signed


def test_the_consumer_with_the_grant_reads_but_cannot_write_the_providers_records(
        police_key: SystemKey, police_private_key: Ed25519PrivateKey, police_grant: Grant) -> None:
    read = send("GET", f"/api/v1/datasets/vaccinations/records/{RECORD_KEY}", police_private_key, police_key.key_id)
    assert read.status_code == 200 and read.json()["fields"]["vaccine"] == "hepatitis-b"
    assert "Li Wei" not in read.content.decode()  # full_name is not granted
    paths = api_paths(police_grant)
    for path in [p for p in paths if p.endswith("/batches")]:
        response = send("POST", path, police_private_key, police_key.key_id)
        assert response.status_code == 403, response.content
