"""Fixed-window request counters for the exchange's rate limits (per source address, per system).

Redis (``INCR`` and ``EXPIRE``, one round trip) when the nonce store is Redis, so every process of a
deployment shares one count; otherwise a counter in this process's memory, which is exact for the
embedded default's single serving process and a per-process limit under several. A store that
cannot be read refuses the request (fail closed), like the nonce store.
"""

import math
import threading
import time
from dataclasses import dataclass

import redis
from django.conf import settings

from core.errors import ErrorCode, PlatformError

from .nonces import redis_client


@dataclass(frozen=True)
class Limited:
    """Over the limit: how many were allowed and when the window ends."""

    limit: int
    retry_after: int


class _Memory:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.window = -1
        self.counts: dict[str, int] = {}

    def hit(self, bucket: str, window_index: int) -> int:
        with self.lock:
            if window_index != self.window:  # a new window: every count starts again
                self.window, self.counts = window_index, {}
            self.counts[bucket] = self.counts.get(bucket, 0) + 1
            return self.counts[bucket]


_MEMORY = _Memory()


def rate_limit_hit(bucket: str, *, limit: int) -> Limited | None:
    """Count one request against ``bucket``; a ``Limited`` when it is over ``limit`` in this window.

    A limit of 0 switches the bucket's limit off. PlatformError 503 when the shared store fails.
    """
    if limit <= 0:
        return None
    window = settings.EXCHANGE_RATE_WINDOW_SECONDS
    now = time.time()
    index = int(now // window)
    retry_after = max(1, math.ceil((index + 1) * window - now))
    try:
        if settings.NONCE_STORE == "redis":
            key = f"rate:{bucket}:{index}"
            pipe = redis_client().pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, window + 1)
            count = int(pipe.execute()[0])
        else:
            count = _MEMORY.hit(bucket, index)
    except redis.RedisError as exc:
        raise PlatformError(ErrorCode.RATE_LIMIT_UNAVAILABLE) from exc
    return Limited(limit=limit, retry_after=retry_after) if count > limit else None


def rate_limits_reset() -> None:
    """Forget the in-memory counts (tests)."""
    with _MEMORY.lock:
        _MEMORY.window, _MEMORY.counts = -1, {}
