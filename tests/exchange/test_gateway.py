"""The exchange's front door: rate limits, request size and shape, and refusals counted per source and window."""

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent, RefusalTally
from audit.services import refusal_tallies_flush
from exchange import client as consumer
from registry.models import SystemKey
from registry.nonces import redis_client
from tests.conftest import POLICE_KEY_ID, record_path, requires_redis
from tests.exchange.test_record_read import assert_signed_by_platform

pytestmark = pytest.mark.django_db


def flush_all() -> int:
    return refusal_tallies_flush(now=timezone.now() + dt.timedelta(hours=1))


def test_a_flood_of_unsigned_requests_becomes_one_event_per_source_and_window(client: Client,
                                                                               police_grant: Any) -> None:
    before = AuditEvent.objects.count()
    receipts = {client.get(record_path(), REMOTE_ADDR="203.0.113.7")["Audit-Event"] for _ in range(25)}
    assert AuditEvent.objects.count() == before  # nothing logged one by one
    assert len(receipts) == 1  # every refusal names the same event to come
    tally = RefusalTally.objects.get()
    assert (tally.source, tally.count, tally.reasons) == ("203.0.113.7", 25, {"signature_missing": 25})
    assert flush_all() == 1
    event = AuditEvent.objects.get(uid=receipts.pop())
    assert (event.action, event.actor_type, event.object_id, event.outcome) == (
        "exchange.refusals", "anonymous", "203.0.113.7", "refused")
    assert event.detail["count"] == 25 and event.detail["reasons"] == {"signature_missing": 25}
    assert event.detail["first_digest"] and event.detail["last_digest"]
    assert not RefusalTally.objects.exists()
    assert flush_all() == 0  # idempotent: a window becomes one event


def test_refusals_from_other_sources_and_claimed_keys_are_counted_apart(client: Client, signed_get: Any,
                                                                        police_key: SystemKey,
                                                                        police_grant: Any) -> None:
    client.get(record_path(), REMOTE_ADDR="203.0.113.7")
    client.get(record_path(), REMOTE_ADDR="198.51.100.9")
    first = signed_get(record_path())
    signed_get(record_path(), headers=first.sent_headers)  # a replay: counted under the keyid it claims
    assert {(t.source, t.actor_id) for t in RefusalTally.objects.all()} == {
        ("203.0.113.7", ""), ("198.51.100.9", ""), ("127.0.0.1", POLICE_KEY_ID)}
    assert flush_all() == 3


def test_an_open_window_is_not_written_yet(client: Client, police_grant: Any) -> None:
    client.get(record_path())
    assert refusal_tallies_flush() == 0
    assert RefusalTally.objects.count() == 1


def test_the_first_and_last_digests_are_the_first_and_last_requests(client: Client, police_key: SystemKey,
                                                                    police_private_key: Any,
                                                                    police_grant: Any) -> None:
    for _ in range(2):  # two requests signed under a keyid nobody registered: two different signatures
        unknown = consumer.sign_request(consumer.Message("GET", "http://testserver" + record_path()),
                                        private_key=police_private_key, key_id="nobody-1")
        client.get(record_path(), headers=dict(unknown.headers))
    flush_all()
    event = AuditEvent.objects.get(action="exchange.refusals")
    assert event.detail["count"] == 2
    assert event.detail["first_digest"] != event.detail["last_digest"]
    assert event.request_digest == event.detail["first_digest"]


def test_a_source_over_its_rate_gets_a_signed_429_with_retry_after(client: Client, settings: Any,
                                                                   police_grant: Any) -> None:
    settings.EXCHANGE_RATE_PER_SOURCE = 3
    statuses = [client.get(record_path(), REMOTE_ADDR="192.0.2.1").status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    limited = client.get(record_path(), REMOTE_ADDR="192.0.2.1")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= settings.EXCHANGE_RATE_WINDOW_SECONDS
    assert_signed_by_platform(limited)
    assert client.get(record_path(), REMOTE_ADDR="192.0.2.2").status_code == 401  # another address is not limited
    assert RefusalTally.objects.get(source="192.0.2.1").reasons == {"signature_missing": 3, "rate_limited": 1}


def test_a_system_over_its_rate_is_refused_whichever_address_it_uses(signed_get: Any, settings: Any,
                                                                     police_key: SystemKey,
                                                                     police_grant: Any) -> None:
    settings.EXCHANGE_RATE_PER_SYSTEM = 2
    assert [signed_get(record_path()).status_code for _ in range(2)] == [200, 200]
    limited = signed_get(record_path())
    assert limited.status_code == 429 and "Retry-After" in limited
    tally = RefusalTally.objects.get()
    assert (tally.actor_type, tally.actor_id, tally.reasons) == ("system", "police-rms", {"rate_limited": 1})


@requires_redis
def test_the_rate_limit_is_shared_through_redis_and_fails_closed_without_it(
        client: Client, settings: Any, police_grant: Any) -> None:
    settings.NONCE_STORE = "redis"
    settings.EXCHANGE_RATE_PER_SOURCE = 2
    client.get(record_path(), REMOTE_ADDR="192.0.2.50")
    client.get(record_path(), REMOTE_ADDR="192.0.2.50")
    assert any(redis_client().scan_iter("rate:source:192.0.2.50:*"))
    assert client.get(record_path(), REMOTE_ADDR="192.0.2.50").status_code == 429
    redis_client.cache_clear()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there: a real connection failure
    try:
        response = client.get(record_path(), REMOTE_ADDR="192.0.2.51")
    finally:
        redis_client.cache_clear()
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "rate_limit_unavailable"


def test_an_oversized_body_is_a_signed_json_413_and_counted(client: Client, settings: Any,
                                                            police_grant: Any) -> None:
    settings.EXCHANGE_MAX_BODY_BYTES = 1000
    response = client.post("/api/v1/datasets/vaccinations/lookup", data=b"x" * 5000,
                           content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert "1000" in response.json()["error"]["message"]
    assert_signed_by_platform(response)
    assert RefusalTally.objects.get().reasons == {"payload_too_large": 1}


def test_too_many_query_parameters_is_a_signed_json_400(client: Client, police_grant: Any) -> None:
    query = "&".join(f"p{i}=1" for i in range(200))
    response = client.get(record_path(query=query))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_parameters"
    assert_signed_by_platform(response)


def test_an_overlong_address_is_a_signed_json_414(client: Client, police_grant: Any) -> None:
    response = client.get(record_path(key="1" * 5000))
    assert response.status_code == 414
    assert response.json()["error"]["code"] == "uri_too_long"
    assert_signed_by_platform(response)


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/datasets/vaccinations/records/1/2",
                                  "/api/v1/%ff"])
def test_an_unknown_address_is_a_signed_counted_json_404(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response["Cache-Control"] == "no-store"
    assert_signed_by_platform(response)
    assert RefusalTally.objects.get(uid=response["Audit-Event"]).reasons == {"not_found": 1}


def test_a_verified_system_at_an_unknown_address_is_an_event_of_its_own(signed_get: Any,
                                                                        police_key: SystemKey) -> None:
    response = signed_get("/api/v1/nothing-here?x=1")
    assert response.status_code == 404
    event = AuditEvent.objects.get(uid=response["Audit-Event"])
    assert (event.action, event.actor_id, event.reason) == ("api.not_found", "police-rms", "not_found")


def test_a_method_the_address_does_not_take_is_a_signed_counted_405(client: Client, police_grant: Any) -> None:
    response = client.delete(record_path())
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert_signed_by_platform(response)
    assert RefusalTally.objects.get(uid=response["Audit-Event"]).reasons == {"method_not_allowed": 1}


@pytest.fixture
def refusal_tallies_refused() -> Iterator[None]:
    """The database refuses every tally write (a real trigger), as a full disk would."""
    from django.db import connection

    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres:
            cursor.execute("CREATE FUNCTION test_refuse_tally() RETURNS trigger AS $$ BEGIN "
                           "RAISE EXCEPTION 'disk full'; END; $$ LANGUAGE plpgsql")
            cursor.execute("CREATE TRIGGER test_refuse_tally BEFORE INSERT OR UPDATE ON audit_refusaltally "
                           "FOR EACH ROW EXECUTE FUNCTION test_refuse_tally()")
        else:
            cursor.execute("CREATE TRIGGER test_refuse_tally BEFORE INSERT ON audit_refusaltally "
                           "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    yield


def test_a_refusal_that_cannot_be_counted_fails_closed(client: Client, police_grant: Any,
                                                       refusal_tallies_refused: None) -> None:
    response = client.get(record_path())
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "audit_unavailable"



def test_a_signature_over_another_method_is_refused(client: Client, police_key: SystemKey, police_private_key: Any,
                                                    police_grant: Any) -> None:
    """Signed as a GET of the lookup's address, sent as a POST: the method is covered, so it does not verify."""
    path = "/api/v1/datasets/vaccinations/lookup"
    signed = consumer.sign_request(consumer.Message("GET", "http://testserver" + path),
                                   private_key=police_private_key, key_id=POLICE_KEY_ID)
    response = client.post(path, headers=dict(signed.headers))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "signature_invalid"
