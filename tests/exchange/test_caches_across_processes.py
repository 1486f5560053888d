"""A revoked key or grant is refused on its very next use in every server process, caches warm.

Two real gunicorn processes serve the test database; each has read (and so remembered) the key, the
dataset and the grants. The revocation happens in this process, through the services, and the next
request to either server is refused.
"""

import datetime as dt
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.utils import timezone

from exchange import client as consumer
from exchange.models import Grant
from registry.models import SystemKey
from registry.services import system_key_register, system_key_revoke
from tests.conftest import POLICE_KEY_ID, database_env, record_path

pytestmark = pytest.mark.django_db(transaction=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server() -> Iterator[str]:
    """A gunicorn process with one worker on the test database; its base URL."""
    port = _free_port()
    env = {**os.environ, **database_env(), "PLATFORM_SIGNING_KEY_FILE": str(settings.PLATFORM_SIGNING_KEY_FILE),
           "PLATFORM_DATA_DIR": str(settings.DATA_DIR)}
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "govplatform.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1",
         "--log-level", "warning"], cwd=settings.BASE_DIR, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1):  # noqa: S310 (loopback)
                    break
            except OSError:
                assert process.poll() is None, "the server exited"
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def read(base: str, private_key: Ed25519PrivateKey, key_id: str) -> tuple[int, str]:
    response = consumer.get(base + record_path(), private_key=private_key, key_id=key_id)
    body = response.json()
    return response.status_code, body["error"]["code"] if response.status_code != 200 else ""


def test_revoking_a_key_or_a_grant_is_seen_by_every_process_on_the_next_request(
        police_key: SystemKey, police_grant: Grant, police_private_key: Ed25519PrivateKey, police_clerk: Any) -> None:
    with ExitStack() as stack:
        servers = [stack.enter_context(server()) for _ in range(2)]
        for base in servers:  # warm: each remembers the key, the dataset and the grant
            assert read(base, police_private_key, POLICE_KEY_ID) == (200, "")
            assert read(base, police_private_key, POLICE_KEY_ID) == (200, "")

        system_key_revoke(key=police_key, actor=police_clerk, reason="laptop stolen")
        for base in servers:
            assert read(base, police_private_key, POLICE_KEY_ID) == (401, "key_revoked")

        fresh = Ed25519PrivateKey.generate()
        system_key_register(system=police_key.system, key_id="police-rms-2", actor=police_clerk,
                            public_key=consumer.public_pem(fresh.public_key()),
                            not_before=timezone.now() - dt.timedelta(minutes=1))
        for base in servers:
            assert read(base, fresh, "police-rms-2") == (200, "")

        police_grant.revoked_at = timezone.now()
        police_grant.save(update_fields=["revoked_at"])  # (the revocation service comes with the grants issue)
        for base in servers:
            assert read(base, fresh, "police-rms-2") == (403, "grant_revoked")


def test_a_deactivated_department_stops_its_systems_at_once(police_key: SystemKey, police_grant: Grant,
                                                             police_private_key: Ed25519PrivateKey) -> None:
    with server() as base:
        assert read(base, police_private_key, POLICE_KEY_ID) == (200, "")
        department = police_key.system.department
        department.active = False
        department.save(update_fields=["active"])
        assert read(base, police_private_key, POLICE_KEY_ID) == (401, "system_inactive")
