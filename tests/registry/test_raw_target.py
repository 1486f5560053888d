"""The signature's ``@target-uri`` is verified exactly as the client sent it, however it percent-encoded it.

A hand-written RFC 9421 signer (not the http-message-signatures library, not our client) builds the
signature base itself (RFC 9421 §2.3, §2.5) and sends each request over real HTTP (``http.client``
sends the target byte for byte) to a live server that passes the raw target on (``govplatform.rawuri``),
and, on PostgreSQL, to gunicorn.
"""

import base64
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

from catalog.models import Dataset, Record
from exchange import client as consumer
from exchange.models import Grant
from registry.models import SystemKey
from tests.conftest import POLICE_KEY_ID, database_env, is_postgres

pytestmark = pytest.mark.django_db(transaction=True)

#: (key as stored, the path segment as our hand-written client encodes it)
KEYS = [
    ("a=b;c!", "a=b;c!"),  # sub-delimiters left raw (Django would write %3D and %3B)
    ("x~y", "x%7Ey"),  # an unreserved character percent-encoded anyway
    ("x~z", "x~z"),  # the same character raw
    ("é-1", "%c3%a9-1"),  # lowercase hex
    ("李四", "%e6%9d%8e%e5%9b%9b"),  # non-ASCII, lowercase hex
    ("sp ace", "sp%20ace"),
]


def sign(method: str, url: str, private_key: Ed25519PrivateKey, key_id: str = POLICE_KEY_ID) -> dict[str, str]:
    """RFC 9421 by hand: the signature base of @method and @target-uri, Ed25519, our policy's parameters."""
    created = int(time.time())
    params = (f'("@method" "@target-uri");created={created};expires={created + 60};keyid="{key_id}";'
              f'nonce="{secrets.token_urlsafe(18)}";alg="ed25519"')
    base = f'"@method": {method}\n"@target-uri": {url}\n"@signature-params": {params}'
    signature = base64.b64encode(private_key.sign(base.encode())).decode()
    return {"Signature-Input": f"mine={params}", "Signature": f"mine=:{signature}:"}


def send(base_url: str, target: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    host = base_url.removeprefix("http://")
    connection = http.client.HTTPConnection(host, timeout=10)
    try:
        connection.putrequest("GET", target, skip_accept_encoding=True)  # the target, byte for byte
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.fixture
def odd_keys(vaccinations: Dataset, police_grant: Grant) -> None:
    for key, _segment in KEYS:
        Record.objects.create(dataset=vaccinations, key=key, data={
            "citizen_id": key, "full_name": "Odd", "vaccine": f"v-{key}", "dose_date": "2026-01-02"})


def signed_read(base_url: str, target: str, private_key: Ed25519PrivateKey, *, signed_target: str | None = None
                ) -> tuple[int, dict[str, str], bytes]:
    headers = sign("GET", base_url + (signed_target or target), private_key)
    return send(base_url, target, headers)


@pytest.mark.parametrize(("key", "segment"), KEYS, ids=[segment for _key, segment in KEYS])
def test_a_key_encoded_any_correct_way_is_read_with_the_signature_over_what_was_sent(
        key: str, segment: str, raw_live_server: str, police_key: SystemKey,
        police_private_key: Ed25519PrivateKey, odd_keys: None) -> None:
    status, _headers, body = signed_read(raw_live_server, f"/api/v1/datasets/vaccinations/records/{segment}",
                                        police_private_key)
    assert status == 200, body
    assert json.loads(body)["fields"]["vaccine"] == f"v-{key}"


@pytest.mark.parametrize("query", ["fields=vaccine%2cdose_date", "fields=vaccine,dose_date&grant=",
                                   "fields=vaccine%2Cdose_date", "fields=%76accine"])
def test_a_query_encoded_any_correct_way_is_verified_as_sent(query: str, raw_live_server: str, police_key: SystemKey,
                                                            police_private_key: Ed25519PrivateKey,
                                                            odd_keys: None, police_grant: Grant) -> None:
    if query.endswith("grant="):
        query = query + str(police_grant.pk)
    status, _headers, body = signed_read(raw_live_server, f"/api/v1/datasets/vaccinations/records/x~z?{query}",
                                         police_private_key)
    assert status == 200, body
    assert "vaccine" in json.loads(body)["fields"]


@pytest.mark.parametrize(("sent", "signed"), [
    ("x~z", "x%7Ez"),  # signed the encoded form, sent the raw one
    ("x%7Ey", "x%7ey"),  # the hex's case differs
    ("x%7Ey", "x~y"),
    ("a=b;c!", "a%3Db%3Bc%21"),  # Django's own re-encoding is not what was sent
])
def test_a_signature_over_another_encoding_than_the_one_sent_is_refused(
        sent: str, signed: str, raw_live_server: str, police_key: SystemKey, police_private_key: Ed25519PrivateKey,
        odd_keys: None) -> None:
    prefix = "/api/v1/datasets/vaccinations/records/"
    status, _headers, body = signed_read(raw_live_server, prefix + sent, police_private_key,
                                         signed_target=prefix + signed)
    assert status == 401, body
    assert json.loads(body)["error"]["code"] == "signature_invalid"


def test_a_query_changed_after_signing_is_refused(raw_live_server: str, police_key: SystemKey,
                                                  police_private_key: Ed25519PrivateKey, odd_keys: None) -> None:
    prefix = "/api/v1/datasets/vaccinations/records/x~z"
    status, _headers, body = signed_read(raw_live_server, prefix + "?fields=dose_date", police_private_key,
                                         signed_target=prefix + "?fields=vaccine")
    assert (status, json.loads(body)["error"]["code"]) == (401, "signature_invalid")


def test_our_client_verifies_the_answer_to_a_raw_target_under_any_label(
        raw_live_server: str, police_key: SystemKey, police_private_key: Ed25519PrivateKey, odd_keys: None) -> None:
    from core.keys import platform_key

    url = raw_live_server + "/api/v1/datasets/vaccinations/records/%e6%9d%8e%e5%9b%9b"
    headers = sign("GET", url, police_private_key)
    status, response_headers, body = send(raw_live_server, url.removeprefix(raw_live_server), headers)
    assert status == 200
    request = consumer.Message("GET", url, headers)
    answer = consumer.SignedResponse(status_code=status, headers=response_headers, body=body, request=request)
    consumer.verify_response(answer, platform_public_key=platform_key().public_key)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(not is_postgres(), reason="gunicorn serves the test database from another process: PostgreSQL")
def test_gunicorn_passes_the_raw_target_on(police_key: SystemKey, police_private_key: Ed25519PrivateKey,
                                           odd_keys: None) -> None:
    port = _free_port()
    env = {**os.environ, **database_env(), "PLATFORM_SIGNING_KEY_FILE": str(settings.PLATFORM_SIGNING_KEY_FILE),
           "PLATFORM_DATA_DIR": str(settings.DATA_DIR)}
    process = subprocess.Popen([str(Path(sys.executable).with_name("gunicorn")), "govplatform.wsgi", "-b",
                                f"127.0.0.1:{port}", "-w", "1", "--log-level", "warning"], cwd=settings.BASE_DIR,
                               env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                send(base, "/healthz", {})
                break
            except OSError:
                assert process.poll() is None, "gunicorn exited"
                time.sleep(0.1)
        for key, segment in KEYS:
            status, _headers, body = signed_read(base, f"/api/v1/datasets/vaccinations/records/{segment}"
                                                 "?fields=vaccine%2cdose_date", police_private_key)
            assert status == 200, (segment, body)
            assert json.loads(body)["fields"]["vaccine"] == f"v-{key}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_without_a_raw_target_the_rebuilt_url_is_verified(client: Any, police_key: SystemKey,
                                                          police_private_key: Ed25519PrivateKey,
                                                          odd_keys: None) -> None:
    """Django's test client gives no raw target: the URL Django rebuilds is what our client must sign."""
    path = "/api/v1/datasets/vaccinations/records/x~z"
    headers = sign("GET", "http://testserver" + path, police_private_key)
    assert client.get(path, headers=headers).status_code == 200
    raw = sign("GET", "http://testserver/api/v1/datasets/vaccinations/records/x%7Ez", police_private_key)
    assert client.get(path, headers=raw, REQUEST_URI="/api/v1/datasets/vaccinations/records/x%7Ez").status_code == 200
