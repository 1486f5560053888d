"""Redis stops in the middle of the signed exchange: reads fail closed (503), nothing is accepted twice, and
everything resumes when it returns, even when it returns with its memory lost.

A Redis server of the test's own (Debian's redis-server, on a free port, keeping nothing on disk, like the
machine's), so stopping it disturbs nothing else; the platform talks to it as its nonce store and rate
limiter exactly as in production.
"""

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from audit.models import AuditEvent
from registry.nonces import redis_client
from tests.conftest import record_path

REDIS_SERVER = shutil.which("redis-server")
pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(REDIS_SERVER is None, reason="needs Debian's redis-server")]


class OwnRedis:
    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()  # as a crash would: no shutdown, no save
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def own_redis(settings: Any) -> Iterator[OwnRedis]:
    server = OwnRedis()
    server.start()
    settings.REDIS_URL, settings.NONCE_STORE = server.url, "redis"
    settings.SIGNATURE_CLOCK_SKEW_SECONDS = 1  # the wait after a restart that lost the nonces: 1 s, not 30
    redis_client.cache_clear()
    time.sleep(1.1)  # the server has run past the skew: its first signatures are trusted
    yield server
    server.stop()
    redis_client.cache_clear()


def served_events() -> int:
    return AuditEvent.objects.filter(action="record.read", outcome="ok").count()


def test_reads_fail_closed_while_redis_is_down_and_resume_when_it_returns(
    own_redis: OwnRedis, police_grant: Any, police_key: Any, signed_get: Any
) -> None:
    before = signed_get(record_path())
    assert before.status_code == 200, before.content
    assert served_events() == 1

    own_redis.stop()
    down = [signed_get(record_path()) for _ in range(3)]
    assert [r.status_code for r in down] == [503] * 3
    assert {r.json()["error"]["code"] for r in down} <= {"rate_limit_unavailable", "nonce_store_unavailable"}
    assert served_events() == 1, "nothing was served, so no read event"

    own_redis.start()  # back, with its memory lost
    replay = signed_get(record_path(), headers=before.sent_headers)
    assert replay.status_code == 503, "a signature from before the restart may have been seen: refused"
    assert replay.json()["error"]["code"] == "nonce_store_unavailable"
    assert "started afresh" in replay.json()["error"]["message"]

    time.sleep(1.1)  # past the allowed clock skew after the restart
    resumed = signed_get(record_path())
    assert resumed.status_code == 200, resumed.content
    again = signed_get(record_path(), headers=resumed.sent_headers)
    assert again.status_code == 401 and again.json()["error"]["code"] == "replayed"
    assert served_events() == 2, "one event per read served, none for the refused ones"
    assert signed_get(record_path(), headers=before.sent_headers).status_code in (401, 503), "never twice"


def test_a_redis_that_kept_running_refuses_nothing(own_redis: OwnRedis, police_grant: Any, police_key: Any,
                                                   signed_get: Any) -> None:
    """The epoch is the Redis server's start, not the platform's first request: a new deployment on a
    Redis that has been up a while serves its first signed call."""
    client = redis.Redis.from_url(own_redis.url)
    assert client.get("nonce:epoch") is None
    assert signed_get(record_path()).status_code == 200
    started = int(client.get("nonce:epoch") or 0)
    assert abs(started - (time.time() - client.info("server")["uptime_in_seconds"])) <= 2
