"""The nonce store: each signature's nonce is accepted once per key.

Redis (``SET NX EX``) when ``NONCE_STORE=redis``, otherwise a unique row in the database. Either way
the claim is atomic, and a store that cannot be written refuses the request (fail closed).

A Redis that restarts without its data forgets the nonces it saw, and a request captured before could be
replayed while its signature is still young. So Redis also keeps the moment its memory began (its
*epoch*: a key without expiry which, when missing, is set to the Redis server's start time), and
signatures created before the epoch plus the allowed clock skew are refused (503: sign again). After a
restart that lost the data, for that skew (30 s by default), nothing is accepted: fail closed rather
than twice. A new deployment on a Redis that has run for a while refuses nothing. (Emptying the nonce
database by hand, without a restart, is not detected: don't.)
"""

import datetime as dt
import time
from functools import lru_cache

import redis
from django.conf import settings
from django.db import DatabaseError, IntegrityError
from django.utils import timezone
from django.utils.translation import gettext as _

from core.db import one_statement
from core.errors import ErrorCode, PlatformError

from .models import UsedNonce

PURGE_EVERY = 500
EPOCH_KEY = "nonce:epoch"


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def nonce_claim(*, key_id: str, nonce: str, ttl_seconds: int, created: int | None = None) -> bool:
    """Record the nonce; False if this key already used it. PlatformError 503 if the store fails, or if
    Redis started afresh after the signature was ``created`` (it may have seen the nonce before)."""
    try:
        if settings.NONCE_STORE == "redis":
            client = redis_client()
            pipe = client.pipeline(transaction=True)
            pipe.get(EPOCH_KEY)
            pipe.set(f"nonce:{key_id}:{nonce}", 1, nx=True, ex=ttl_seconds)
            epoch, claimed = pipe.execute()
            if epoch is None:  # a Redis that never had the key, or lost it: its memory began when it started
                started = int(time.time()) - int(client.info("server")["uptime_in_seconds"])
                client.set(EPOCH_KEY, started, nx=True)
                epoch = client.get(EPOCH_KEY)
            trusted_from = int(epoch) + settings.SIGNATURE_CLOCK_SKEW_SECONDS
            if created is not None and created < trusted_from:
                raise PlatformError(ErrorCode.NONCE_STORE_UNAVAILABLE, _(
                    "The replay-protection store started afresh and may have forgotten this signature's nonce: "
                    "signatures created before %(time)s are refused. Sign the request again after that time.") % {
                        "time": dt.datetime.fromtimestamp(trusted_from, dt.UTC).isoformat()})
            return bool(claimed)
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
