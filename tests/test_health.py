"""GET /healthz, GET /api/v1/platform-key, and the log filter that keeps record keys out of logs."""

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.test import Client
from django.urls import resolve

from core.errors import ErrorCode
from core.keys import key_id_for, platform_key, public_key_pem
from core.logging import RedactRecordKeys
from registry.nonces import redis_client
from tests.conftest import RECORD_KEY

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh_redis_client() -> Iterator[None]:
    redis_client.cache_clear()
    yield
    redis_client.cache_clear()


def test_health_is_ok_on_the_test_setup(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "signing_key"}
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("ok")
    assert body["checks"]["signing_key"] == f"ok ({platform_key().key_id})"


def test_health_is_503_without_the_signing_key(settings: Any, tmp_path: Path, client: Client) -> None:
    settings.PLATFORM_SIGNING_KEY_FILE = tmp_path / "missing.pem"
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["signing_key"] == "error: unreadable"
    assert body["checks"]["database"] == "ok"


def test_health_reports_a_broker_it_cannot_reach(settings: Any, fresh_redis_client: None, client: Client) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["broker"] == "error: ConnectionError"
    assert body["checks"]["signing_key"].startswith("ok")


def test_the_platform_key_endpoint_serves_the_ed25519_public_key(client: Client) -> None:
    response = client.get("/api/v1/platform-key")
    assert response.status_code == 200
    body = response.json()
    key = platform_key()
    assert body["key_id"] == key.key_id
    assert body["algorithm"] == "ed25519"
    served = serialization.load_pem_public_key(body["public_key_pem"].encode())
    assert isinstance(served, Ed25519PublicKey)
    assert public_key_pem(served) == key.public_pem()
    assert key_id_for(served) == body["key_id"]


def test_the_platform_key_endpoint_is_503_without_the_signing_key(settings: Any, tmp_path: Path,
                                                                   client: Client) -> None:
    settings.PLATFORM_SIGNING_KEY_FILE = tmp_path / "missing.pem"
    response = client.get("/api/v1/platform-key")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "signing_key_unavailable"


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/platform-key"])
def test_an_accept_header_without_json_is_the_declared_406(path: str, client: Client) -> None:
    response = client.get(path, HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    assert response.json()["error"]["code"] == "not_acceptable"
    assert ErrorCode.NOT_ACCEPTABLE in resolve(path).func.view_class.error_codes  # type: ignore[attr-defined]


def log_record(msg: str, *args: Any) -> logging.LogRecord:
    return logging.LogRecord("django.server", logging.INFO, __file__, 1, msg, args or None, None)


def test_the_log_filter_redacts_the_record_key_in_a_path() -> None:
    record = log_record(f"/api/v1/datasets/x/records/{RECORD_KEY}?fields=a")
    assert RedactRecordKeys().filter(record) is True
    assert record.getMessage() == "/api/v1/datasets/x/records/[redacted]?fields=a"


def test_the_log_filter_redacts_a_record_key_passed_as_an_argument() -> None:
    record = log_record('"%s" %s %s', f"GET /api/v1/datasets/x/records/{RECORD_KEY} HTTP/1.1", "200", "91")
    assert RedactRecordKeys().filter(record) is True
    assert RECORD_KEY not in record.getMessage()
    assert record.getMessage() == '"GET /api/v1/datasets/x/records/[redacted] HTTP/1.1" 200 91'


def test_the_log_filter_leaves_other_messages_alone() -> None:
    record = log_record("GET %s %s", "/healthz", 200)
    assert RedactRecordKeys().filter(record) is True
    assert (record.msg, record.args) == ("GET %s %s", ("/healthz", 200))


def test_the_redaction_covers_decoded_keys_with_spaces_and_keeps_the_rest() -> None:
    import logging

    from core.logging import RedactRecordKeys

    for message, expected in [
        ("Unauthorized: /api/v1/datasets/x/records/Li Wei", "Unauthorized: /api/v1/datasets/x/records/[redacted]"),
        ('"GET /api/v1/datasets/x/records/110101 HTTP/1.1" 200 5',
         '"GET /api/v1/datasets/x/records/[redacted] HTTP/1.1" 200 5'),
    ]:
        record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, message, None, None)
        RedactRecordKeys().filter(record)
        assert record.getMessage() == expected
