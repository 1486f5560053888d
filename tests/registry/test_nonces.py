"""registry.nonces: each signature's nonce is accepted once per key, in the database or in Redis; fail closed."""

import datetime as dt
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management.color import no_style
from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent, RefusalTally
from core.errors import PlatformError
from registry.models import SystemKey, UsedNonce
from registry.nonces import PURGE_EVERY, nonce_claim, nonces_purge, redis_client
from tests.conftest import record_path, requires_redis

pytestmark = pytest.mark.django_db

CLOSED_PORT = "redis://127.0.0.1:1/0"


@pytest.fixture
def database_store(settings: Any) -> None:
    settings.NONCE_STORE = "database"


@pytest.fixture
def fresh_redis_client() -> Iterator[None]:
    """redis_client is cached on first use; every test that changes REDIS_URL starts and ends without it."""
    redis_client.cache_clear()
    yield
    redis_client.cache_clear()


@pytest.fixture
def redis_store(settings: Any, fresh_redis_client: None) -> None:
    settings.NONCE_STORE = "redis"


@pytest.fixture
def unreachable_redis_store(settings: Any, redis_store: None) -> None:
    settings.REDIS_URL = CLOSED_PORT


def a_nonce() -> str:
    return secrets.token_urlsafe(24)


def test_the_database_store_claims_a_nonce_once_per_key(database_store: None) -> None:
    nonce = a_nonce()
    assert nonce_claim(key_id="police-rms-1", nonce=nonce, ttl_seconds=360) is True
    assert nonce_claim(key_id="police-rms-1", nonce=nonce, ttl_seconds=360) is False
    assert nonce_claim(key_id="tax-core-1", nonce=nonce, ttl_seconds=360) is True
    assert UsedNonce.objects.filter(nonce=nonce).count() == 2


def test_the_database_store_keeps_the_nonce_until_its_signature_has_expired(database_store: None) -> None:
    before = timezone.now()
    nonce_claim(key_id="police-rms-1", nonce=a_nonce(), ttl_seconds=360)
    used = UsedNonce.objects.get()
    assert before + dt.timedelta(seconds=360) <= used.expires_at <= timezone.now() + dt.timedelta(seconds=360)


def test_purging_deletes_only_expired_nonces(database_store: None) -> None:
    now = timezone.now()
    UsedNonce.objects.create(key_id="police-rms-1", nonce="expired-" + a_nonce(), expires_at=now - dt.timedelta(1))
    UsedNonce.objects.create(key_id="police-rms-1", nonce="expired-" + a_nonce(),
                             expires_at=now - dt.timedelta(seconds=1))
    live = UsedNonce.objects.create(key_id="police-rms-1", nonce="live-" + a_nonce(),
                                    expires_at=now + dt.timedelta(minutes=5))
    assert nonces_purge() == 2
    assert list(UsedNonce.objects.all()) == [live]
    assert nonce_claim(key_id="police-rms-1", nonce=live.nonce, ttl_seconds=360) is False  # still refused


def test_a_purged_nonce_row_no_longer_blocks_its_key(database_store: None) -> None:
    nonce = a_nonce()
    UsedNonce.objects.create(key_id="police-rms-1", nonce=nonce, expires_at=timezone.now() - dt.timedelta(1))
    nonces_purge()
    assert nonce_claim(key_id="police-rms-1", nonce=nonce, ttl_seconds=360) is True


def test_the_database_store_purges_expired_nonces_as_it_goes(database_store: None) -> None:
    """The embedded default runs no beat: the claim that gets every PURGE_EVERY-th row id purges."""
    expired = UsedNonce.objects.create(pk=1, key_id="police-rms-1", nonce=a_nonce(),
                                       expires_at=timezone.now() - dt.timedelta(1))
    UsedNonce.objects.create(pk=PURGE_EVERY - 2, key_id="police-rms-1", nonce=a_nonce(),
                             expires_at=timezone.now() + dt.timedelta(minutes=5))
    with connection.cursor() as cursor:  # the next row id is PURGE_EVERY - 1
        for sql in connection.ops.sequence_reset_sql(no_style(), [UsedNonce]):
            cursor.execute(sql)
    assert nonce_claim(key_id="police-rms-1", nonce=a_nonce(), ttl_seconds=360)
    assert UsedNonce.objects.filter(pk=expired.pk).exists()  # row PURGE_EVERY - 1: no purge yet
    assert nonce_claim(key_id="police-rms-1", nonce=a_nonce(), ttl_seconds=360)
    assert UsedNonce.objects.order_by("-pk").first().pk == PURGE_EVERY
    assert not UsedNonce.objects.filter(pk=expired.pk).exists()
    assert UsedNonce.objects.count() == 3


@requires_redis
def test_the_redis_store_claims_once_per_key_with_a_ttl(redis_store: None) -> None:
    nonce = a_nonce()
    keys = [f"nonce:police-rms-1:{nonce}", f"nonce:tax-core-1:{nonce}"]
    try:
        assert nonce_claim(key_id="police-rms-1", nonce=nonce, ttl_seconds=360) is True
        assert nonce_claim(key_id="police-rms-1", nonce=nonce, ttl_seconds=360) is False
        assert nonce_claim(key_id="tax-core-1", nonce=nonce, ttl_seconds=360) is True
        assert 0 < redis_client().ttl(keys[0]) <= 360
        assert not UsedNonce.objects.exists()  # Redis only: nothing in the database
    finally:
        redis_client().delete(*keys)


def test_an_unreachable_redis_store_refuses_with_503(unreachable_redis_store: None) -> None:
    with pytest.raises(PlatformError) as caught:
        nonce_claim(key_id="police-rms-1", nonce=a_nonce(), ttl_seconds=360)
    assert (caught.value.status, caught.value.code) == (503, "nonce_store_unavailable")
    assert caught.value.message


def test_a_read_is_refused_with_503_and_no_data_when_the_nonce_store_fails(
        unreachable_redis_store: None, signed_get: Any, police_key: SystemKey, police_grant: Any,
        settings: Any) -> None:
    # The rate limits share the store and would refuse first (rate_limit_unavailable): off, to reach the nonce.
    settings.EXCHANGE_RATE_PER_SOURCE = settings.EXCHANGE_RATE_PER_SYSTEM = 0
    response = signed_get(record_path())
    assert response.status_code == 503, response.content
    body = response.json()
    assert body["error"]["code"] == "nonce_store_unavailable"
    assert "fields" not in body
    assert b"hepatitis-b" not in response.content
    assert not AuditEvent.objects.filter(outcome="ok").exists()
    # Refused before the caller is verified: counted with its source's other refusals of the window.
    assert RefusalTally.objects.get(uid=response["Audit-Event"]).reasons == {"nonce_store_unavailable": 1}
