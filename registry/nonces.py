"""The nonce store: each signature's nonce is accepted once per key.

Redis (``SET NX EX``) when ``NONCE_STORE=redis``, otherwise a unique row in the database. Either way
the claim is atomic, and a store that cannot be written refuses the request (fail closed).
"""

import datetime as dt
from functools import lru_cache

import redis
from django.conf import settings
from django.db import DatabaseError, IntegrityError
from django.utils import timezone

from core.db import one_statement
from core.errors import ErrorCode, PlatformError

from .models import UsedNonce

PURGE_EVERY = 500


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def nonce_claim(*, key_id: str, nonce: str, ttl_seconds: int) -> bool:
    """Record the nonce; False if this key already used it. PlatformError 503 if the store fails."""
    try:
        if settings.NONCE_STORE == "redis":
            return bool(redis_client().set(f"nonce:{key_id}:{nonce}", 1, nx=True, ex=ttl_seconds))
        try:
            with one_statement():
                row = UsedNonce.objects.create(
                    key_id=key_id, nonce=nonce, expires_at=timezone.now() + dt.timedelta(seconds=ttl_seconds)
                )
        except IntegrityError:
            return False
        if row.pk % PURGE_EVERY == 0:  # the embedded default has no beat: purge as we go
            nonces_purge()
        return True
    except (redis.RedisError, DatabaseError) as exc:
        raise PlatformError(ErrorCode.NONCE_STORE_UNAVAILABLE) from exc


def nonces_purge() -> int:
    """Delete database nonces whose signatures have expired anyway; Redis expires its own."""
    deleted, _ = UsedNonce.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted
