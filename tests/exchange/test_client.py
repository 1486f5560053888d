"""exchange.client: the consumer's key generation, request signing and verified signed GET (library and CLI)."""

import datetime as dt
import json
import os
import stat
from pathlib import Path
from typing import Any

import http_sf
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import HTTPMessageVerifier, MappingKeyResolver, algorithms

from core.keys import platform_key
from exchange import client as consumer
from exchange.models import Grant
from registry.models import System, SystemKey
from tests.conftest import POLICE_KEY_ID, RECORD_KEY, record_path

URL = "http://testserver" + record_path()


def signature_input(message: consumer.Message) -> tuple[list[str], dict[str, Any]]:
    """The covered component names and the parameters of the message's single signature."""
    parsed = http_sf.parse(message.headers["Signature-Input"].encode(), tltype="dictionary")
    assert list(parsed) == [consumer.REQUEST_LABEL]
    components, parameters = parsed[consumer.REQUEST_LABEL]
    return [name for name, _ in components], parameters


# --- keygen -----------------------------------------------------------------------------------------------


def test_keygen_writes_a_private_key_only_its_owner_can_read(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "police-rms.pem"
    consumer.keygen(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")


def test_keygen_returns_the_matching_public_key(tmp_path: Path) -> None:
    path = tmp_path / "police-rms.pem"
    public = consumer.keygen(path)
    assert public.startswith("-----BEGIN PUBLIC KEY-----")
    assert public == consumer.public_pem(consumer.load_private_key(path).public_key())


def test_keygen_never_overwrites_a_key(tmp_path: Path) -> None:
    path = tmp_path / "police-rms.pem"
    consumer.keygen(path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        consumer.keygen(path)
    assert path.read_bytes() == before


def test_the_keygen_command_prints_the_public_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "police-rms.pem"
    assert consumer.main(["keygen", "--out", str(path)]) == 0
    out = capsys.readouterr().out
    assert out == consumer.public_pem(consumer.load_private_key(path).public_key())


def test_the_keygen_command_refuses_an_existing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "police-rms.pem"
    path.write_text("someone's key")
    with pytest.raises(SystemExit) as caught:
        consumer.main(["keygen", "--out", str(path)])
    assert caught.value.code == 2
    assert "exists" in capsys.readouterr().err
    assert path.read_text() == "someone's key"


# --- sign_request -----------------------------------------------------------------------------------------


def test_sign_request_covers_method_and_target_uri_with_the_required_parameters(
        police_private_key: Ed25519PrivateKey) -> None:
    created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    message = consumer.sign_request(consumer.Message("GET", URL), private_key=police_private_key,
                                    key_id=POLICE_KEY_ID, created=created)
    components, parameters = signature_input(message)
    assert components == ["@method", "@target-uri"]
    assert {"created", "expires", "keyid", "nonce", "alg"} <= set(parameters)
    assert parameters["keyid"] == POLICE_KEY_ID and parameters["alg"] == "ed25519"
    assert parameters["created"] == int(created.timestamp())
    assert parameters["expires"] - parameters["created"] == consumer.SIGNATURE_LIFETIME.total_seconds()
    assert 16 <= len(parameters["nonce"]) <= 128
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=MappingKeyResolver(
        public_keys={POLICE_KEY_ID: police_private_key.public_key()}, private_keys={}))
    assert verifier.verify(message, require_components=["@method", "@target-uri"])


def test_sign_request_uses_a_fresh_nonce_every_time(police_private_key: Ed25519PrivateKey) -> None:
    nonces = {signature_input(consumer.sign_request(consumer.Message("GET", URL), private_key=police_private_key,
                                                    key_id=POLICE_KEY_ID))[1]["nonce"] for _ in range(5)}
    assert len(nonces) == 5


def test_sign_request_covers_the_content_digest_of_a_body(police_private_key: Ed25519PrivateKey) -> None:
    message = consumer.sign_request(consumer.Message("POST", URL), private_key=police_private_key,
                                    key_id=POLICE_KEY_ID, body=b'{"a": 1}')
    components, _ = signature_input(message)
    assert components == ["@method", "@target-uri", "content-digest"]
    assert message.headers["Content-Digest"].startswith("sha-256=:")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://localhost/records", "localhost:8000/api/v1/"])
def test_get_refuses_a_url_that_is_not_http(police_private_key: Ed25519PrivateKey, url: str) -> None:
    with pytest.raises(ValueError, match="only http"):
        consumer.get(url, private_key=police_private_key, key_id=POLICE_KEY_ID)


# --- end to end against a live server ---------------------------------------------------------------------


@pytest.fixture
def police_key_file(tmp_path: Path, police_system: System) -> Path:
    """The police system's private key as its operator keeps it, its public half registered on the platform."""
    path = tmp_path / "police-rms.pem"
    SystemKey.objects.create(system=police_system, key_id=POLICE_KEY_ID, public_key=consumer.keygen(path))
    return path


@pytest.fixture
def platform_public_key_file(tmp_path: Path) -> Path:
    path = tmp_path / "platform.pub.pem"
    path.write_text(platform_key().public_pem())
    return path


def cli_get(live_server: Any, key_file: Path, platform_public_key: Path) -> int:
    return consumer.main(["get", live_server.url + record_path(), "--key-file", str(key_file),
                          "--key-id", POLICE_KEY_ID, "--platform-key", str(platform_public_key)])


@pytest.mark.django_db(transaction=True)
def test_the_get_command_prints_a_verified_record(live_server: Any, police_key_file: Path, police_grant: Grant,
                                                  platform_public_key_file: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert live_server.url.startswith("http://localhost:")
    assert cli_get(live_server, police_key_file, platform_public_key_file) == 0
    captured = capsys.readouterr()
    body = json.loads(captured.out)
    assert body["key"] == RECORD_KEY
    assert body["fields"] == {"vaccine": "hepatitis-b", "dose_date": "2026-03-01"}
    assert "HTTP 200" in captured.err
    assert "Audit-Event: " in captured.err
    assert "Response signature: verified with the platform key" in captured.err


@pytest.mark.django_db(transaction=True)
def test_the_get_command_fails_when_the_response_does_not_verify(live_server: Any, police_key_file: Path,
                                                                 police_grant: Grant, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    impostor = tmp_path / "not-the-platform.pub.pem"
    impostor.write_text(consumer.public_pem(Ed25519PrivateKey.generate().public_key()))
    assert cli_get(live_server, police_key_file, impostor) == 2
    assert "Response signature: INVALID" in capsys.readouterr().err


@pytest.mark.django_db(transaction=True)
def test_the_get_command_returns_1_for_a_verified_refusal(live_server: Any, police_key_file: Path,
                                                          vaccinations: Any, platform_public_key_file: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_get(live_server, police_key_file, platform_public_key_file) == 1  # no grant: a signed 403
    captured = capsys.readouterr()
    assert json.loads(captured.out)["error"]["code"] == "no_grant"
    assert "HTTP 403" in captured.err and "verified with the platform key" in captured.err


def test_get_does_not_follow_a_redirect_with_its_signature(tmp_path: Path) -> None:
    """A signature is for one URL: the client hands back the redirect rather than resend its headers."""
    import http.server
    import threading

    seen: list[str] = []

    class Redirecting(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Redirecting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/api/v1/datasets/x/records/y"
        response = consumer.get(url, private_key=Ed25519PrivateKey.generate(), key_id="k-1")
    finally:
        server.shutdown()
    assert response.status_code == 302
    assert seen == ["/api/v1/datasets/x/records/y"]
