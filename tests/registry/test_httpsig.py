"""registry.httpsig: the RFC 9421 request policy (request_verify) and the platform's response signature."""

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.utils import timezone
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)

from core.keys import platform_key
from exchange import client as consumer
from registry.httpsig import RESPONSE_LABEL, SignatureRefused, VerifiedRequest, request_verify, response_sign
from registry.models import SystemKey
from tests.conftest import POLICE_KEY_ID, record_path, signed_headers

pytestmark = pytest.mark.django_db

BASE = "http://testserver"
PATH = "/api/v1/datasets/vaccinations/records/110101199003070011"
BODY = b'{"fields": ["vaccine"]}'


class Ed25519CalledRsa(algorithms.ED25519):
    """Signs with Ed25519 but names another algorithm in the signature's ``alg`` parameter."""

    algorithm_id = "rsa-pss-sha512"


def as_django_request(message: consumer.Message, body: bytes = b"") -> HttpRequest:
    """The request the platform would receive for a signed client message."""
    assert message.url.startswith(BASE)
    return RequestFactory().generic(message.method, message.url.removeprefix(BASE), data=body,
                                    content_type="application/json", headers=message.headers)


def signed_by_client(private_key: Ed25519PrivateKey, *, method: str = "GET", path: str = PATH,
                     body: bytes = b"", **kwargs: Any) -> HttpRequest:
    message = consumer.sign_request(consumer.Message(method, BASE + path), private_key=private_key,
                                    key_id=POLICE_KEY_ID, body=body or None, **kwargs)
    return as_django_request(message, body)


def signed_by_hand(private_key: Ed25519PrivateKey, *, method: str = "GET", path: str = PATH,
                   components: Sequence[str] = ("@method", "@target-uri"), omit: Sequence[str] = (),
                   created: dt.datetime | None = None, lifetime: dt.timedelta = dt.timedelta(seconds=60),
                   algorithm: type[algorithms.HTTPSignatureAlgorithm] = algorithms.ED25519,
                   message: consumer.Message | None = None, label: str = "sig1") -> consumer.Message:
    """Sign outside the client's policy: leave out parameters, cover other components, append a signature."""
    message = message or consumer.Message(method, BASE + path)
    created = created or dt.datetime.now(dt.UTC)
    HTTPMessageSigner(
        signature_algorithm=algorithm,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={POLICE_KEY_ID: private_key}),
    ).sign(
        message, key_id=POLICE_KEY_ID, label=label, created=created,
        expires=None if "expires" in omit else created + lifetime,
        nonce=None if "nonce" in omit else secrets.token_urlsafe(24),
        covered_component_ids=components, append_if_signature_exists="Signature" in message.headers,
    )
    return message


def refusal(request: HttpRequest) -> SignatureRefused:
    with pytest.raises(SignatureRefused) as caught:
        request_verify(request)
    assert caught.value.status == 401
    return caught.value


# --- accepted ---------------------------------------------------------------------------------------------


def test_it_accepts_a_good_signature_with_the_key_and_label(police_key: SystemKey,
                                                            police_private_key: Ed25519PrivateKey) -> None:
    nonce = secrets.token_urlsafe(24)
    request = signed_by_client(police_private_key, nonce=nonce)
    verified = request_verify(request)
    assert isinstance(verified, VerifiedRequest)
    assert verified.key == police_key
    assert verified.label == consumer.REQUEST_LABEL == "sig1"
    assert verified.nonce == nonce
    assert verified.signature_digest == hashlib.sha256(request.headers["Signature"].encode()).hexdigest()


def test_it_accepts_a_post_whose_signed_digest_matches_the_body(police_key: SystemKey,
                                                                police_private_key: Ed25519PrivateKey) -> None:
    request = signed_by_client(police_private_key, method="POST", body=BODY)
    assert "content-digest" in request.headers["Signature-Input"]
    assert request_verify(request).key == police_key


def test_a_refused_signature_does_not_use_up_its_nonce(police_key: SystemKey,
                                                       police_private_key: Ed25519PrivateKey) -> None:
    nonce = secrets.token_urlsafe(24)
    forged = signed_by_client(Ed25519PrivateKey.generate(), nonce=nonce)
    assert refusal(forged).code == "signature_invalid"
    assert request_verify(signed_by_client(police_private_key, nonce=nonce)).nonce == nonce


# --- refused: parameters ----------------------------------------------------------------------------------


@pytest.mark.parametrize("omit", [("nonce",), ("expires",), ("expires", "nonce")])
def test_it_refuses_a_signature_without_nonce_or_expires(police_key: SystemKey,
                                                         police_private_key: Ed25519PrivateKey,
                                                         omit: tuple[str, ...]) -> None:
    request = as_django_request(signed_by_hand(police_private_key, omit=omit))
    refused = refusal(request)
    assert refused.code == "signature_parameters_missing"
    assert refused.message.endswith(f"missing: {', '.join(omit)}.")
    assert refused.key == police_key


def test_it_refuses_a_signature_that_lives_longer_than_the_maximum_age(
        settings: Any, police_key: SystemKey, police_private_key: Ed25519PrivateKey) -> None:
    lifetime = dt.timedelta(seconds=settings.SIGNATURE_MAX_AGE_SECONDS + 1)
    request = as_django_request(signed_by_hand(police_private_key, lifetime=lifetime))
    assert refusal(request).code == "signature_lifetime_too_long"


def test_it_accepts_a_signature_that_lives_exactly_the_maximum_age(
        settings: Any, police_key: SystemKey, police_private_key: Ed25519PrivateKey) -> None:
    lifetime = dt.timedelta(seconds=settings.SIGNATURE_MAX_AGE_SECONDS)
    assert request_verify(as_django_request(signed_by_hand(police_private_key, lifetime=lifetime)))


def test_it_refuses_a_nonce_that_is_too_short(police_key: SystemKey, police_private_key: Ed25519PrivateKey) -> None:
    request = signed_by_client(police_private_key, nonce="short-nonce")
    assert refusal(request).code == "nonce_invalid"


# --- refused: the signature itself ------------------------------------------------------------------------


def test_it_refuses_a_signature_that_does_not_cover_the_target_uri(police_key: SystemKey,
                                                                   police_private_key: Ed25519PrivateKey) -> None:
    request = as_django_request(signed_by_hand(police_private_key, components=("@method",)))
    refused = refusal(request)
    assert refused.code == "signature_invalid"
    assert "@target-uri" in refused.message


def test_it_refuses_a_signature_created_in_the_future_beyond_the_skew(
        settings: Any, police_key: SystemKey, police_private_key: Ed25519PrivateKey) -> None:
    ahead = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=settings.SIGNATURE_CLOCK_SKEW_SECONDS + 60)
    refused = refusal(signed_by_client(police_private_key, created=ahead))
    assert refused.code == "signature_invalid"
    assert "future" in refused.message


def test_it_accepts_a_signature_created_slightly_ahead_within_the_skew(
        settings: Any, police_key: SystemKey, police_private_key: Ed25519PrivateKey) -> None:
    ahead = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=settings.SIGNATURE_CLOCK_SKEW_SECONDS // 2)
    assert request_verify(signed_by_client(police_private_key, created=ahead)).key == police_key


def test_it_refuses_two_signatures_in_one_request(police_key: SystemKey,
                                                  police_private_key: Ed25519PrivateKey) -> None:
    message = signed_by_hand(police_private_key, label="sig1")
    message = signed_by_hand(police_private_key, message=message, label="sig2")
    assert "sig1=" in message.headers["Signature"] and "sig2=" in message.headers["Signature"]
    refused = refusal(as_django_request(message))
    assert refused.code == "signature_invalid"
    assert "Multiple signatures" in refused.message


def test_it_refuses_an_alg_other_than_ed25519(police_key: SystemKey, police_private_key: Ed25519PrivateKey) -> None:
    message = signed_by_hand(police_private_key, algorithm=Ed25519CalledRsa)
    assert 'alg="rsa-pss-sha512"' in message.headers["Signature-Input"]
    refused = refusal(as_django_request(message))
    assert refused.code == "signature_invalid"
    assert "algorithm" in refused.message


def test_it_refuses_a_request_whose_url_cannot_be_parsed(police_key: SystemKey,
                                                         police_private_key: Ed25519PrivateKey) -> None:
    headers = signed_headers(BASE + PATH, police_private_key)
    request = RequestFactory().get(PATH + "?fields=%zz", headers=headers)
    assert refusal(request).code == "signature_invalid"


# --- refused: the key and its system ----------------------------------------------------------------------


@pytest.mark.parametrize("deactivated", ["system", "department"])
def test_it_refuses_a_key_of_a_deactivated_system_or_department(police_key: SystemKey,
                                                                police_private_key: Ed25519PrivateKey,
                                                                deactivated: str) -> None:
    owner = police_key.system if deactivated == "system" else police_key.system.department
    owner.active = False
    owner.save()
    refused = refusal(signed_by_client(police_private_key))
    assert refused.code == "system_inactive"
    assert refused.key == police_key and refused.claimed_key_id == POLICE_KEY_ID


def test_it_refuses_a_key_before_its_not_before(police_key: SystemKey, police_private_key: Ed25519PrivateKey) -> None:
    SystemKey.objects.filter(pk=police_key.pk).update(not_before=timezone.now() + dt.timedelta(days=1))
    refused = refusal(signed_by_client(police_private_key))
    assert refused.code == "key_not_valid"
    assert refused.key == police_key


# --- refused: bodies --------------------------------------------------------------------------------------


def test_it_refuses_a_body_that_does_not_match_the_signed_digest(police_key: SystemKey,
                                                                 police_private_key: Ed25519PrivateKey) -> None:
    message = consumer.sign_request(consumer.Message("POST", BASE + PATH), private_key=police_private_key,
                                    key_id=POLICE_KEY_ID, body=BODY)
    refused = refusal(as_django_request(message, b'{"fields": ["full_name"]}'))
    assert refused.code == "signature_invalid"
    assert "Content-Digest" in refused.message


def test_it_refuses_a_body_whose_digest_was_replaced_after_signing(police_key: SystemKey,
                                                                   police_private_key: Ed25519PrivateKey) -> None:
    tampered = b'{"fields": ["full_name"]}'
    message = consumer.sign_request(consumer.Message("POST", BASE + PATH), private_key=police_private_key,
                                    key_id=POLICE_KEY_ID, body=BODY)
    message.headers["Content-Digest"] = HTTPMessageSigner.content_digest_class.create(tampered)
    assert refusal(as_django_request(message, tampered)).code == "signature_invalid"


def test_it_refuses_a_body_the_signature_does_not_cover(police_key: SystemKey,
                                                        police_private_key: Ed25519PrivateKey) -> None:
    message = signed_by_hand(police_private_key, method="POST")
    message.headers["Content-Digest"] = HTTPMessageSigner.content_digest_class.create(BODY)  # correct, not signed
    assert "content-digest" not in message.headers["Signature-Input"]
    refused = refusal(as_django_request(message, BODY))
    assert refused.code == "signature_invalid"
    assert "content-digest" in refused.message


# --- response_sign ----------------------------------------------------------------------------------------


def platform_verify(response: HttpResponse, request: consumer.Message | None, required: Sequence[str],
                    body: bytes | None = None) -> list[Any]:
    """Verify a response with the platform's public key, looked up by the platform's key id only."""
    key = platform_key()
    signed = consumer.SignedResponse(status_code=response.status_code, headers=dict(response.items()),
                                     body=response.content if body is None else body,
                                     request=request or consumer.Message("GET", BASE + PATH))
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519,
                                   key_resolver=MappingKeyResolver(public_keys={key.key_id: key.public_key},
                                                                   private_keys={}))
    return verifier.verify(signed, require_components=required, body=signed.body)


def a_response() -> HttpResponse:
    response = HttpResponse(b'{"fields": {"vaccine": "hepatitis-b"}}', status=200, content_type="application/json")
    response["Audit-Event"] = "0d6c3c4e-0000-4000-8000-000000000001"
    response["Audit-Leaf-Hash"] = "ab" * 32
    return response


def test_the_response_signature_covers_status_digest_receipt_and_the_request_signature(
        police_private_key: Ed25519PrivateKey) -> None:
    message = consumer.sign_request(consumer.Message("GET", BASE + PATH), private_key=police_private_key,
                                    key_id=POLICE_KEY_ID)
    response = a_response()
    response_sign(response, as_django_request(message))
    assert response["Signature-Input"].startswith(f"{RESPONSE_LABEL}=")
    assert f'keyid="{platform_key().key_id}"' in response["Signature-Input"]
    required = ["@status", "content-digest", "audit-event", "audit-leaf-hash", '"signature";req;key="sig1"']
    [result] = platform_verify(response, message, required)
    assert result.label == RESPONSE_LABEL
    consumer.verify_response(consumer.SignedResponse(status_code=200, headers=dict(response.items()),
                                                     body=response.content, request=message),
                             platform_public_key=platform_key().public_key)


def test_the_response_to_an_unsigned_request_is_signed_without_req() -> None:
    response = HttpResponse(b'{"error": {"code": "signature_missing"}}', status=401)
    response_sign(response, RequestFactory().get(PATH))
    assert ";req" not in response["Signature-Input"]
    [result] = platform_verify(response, None, ["@status", "content-digest"])
    assert result.covered_components['"@status"'] == "401"


def test_a_body_altered_after_signing_fails_verification(police_private_key: Ed25519PrivateKey) -> None:
    message = consumer.sign_request(consumer.Message("GET", BASE + PATH), private_key=police_private_key,
                                    key_id=POLICE_KEY_ID)
    response = a_response()
    response_sign(response, as_django_request(message))
    with pytest.raises(InvalidSignature):
        platform_verify(response, message, ["@status", "content-digest"],
                        body=b'{"fields": {"vaccine": "none"}}')


def test_a_status_altered_after_signing_fails_verification() -> None:
    response = a_response()
    response_sign(response, RequestFactory().get(PATH))
    response.status_code = 204
    with pytest.raises(InvalidSignature):
        platform_verify(response, None, ["@status", "content-digest"])


@pytest.mark.parametrize("query", ["fields=%zz", "fields[]=vaccine"])
def test_the_response_to_a_signed_request_with_an_unparseable_url_is_still_signed(
        police_private_key: Ed25519PrivateKey, query: str) -> None:
    headers = signed_headers(BASE + PATH, police_private_key)
    response = HttpResponse(b'{"error": {"code": "signature_invalid"}}', status=401)
    response_sign(response, RequestFactory().get(f"{PATH}?{query}", headers=headers))
    platform_verify(response, None, ["@status", "content-digest"])


def test_a_signed_read_with_an_unparseable_query_is_a_signed_401(signed_get: Any, police_private_key: Any,
                                                                 police_key: SystemKey, police_grant: Any) -> None:
    headers = signed_headers(BASE + record_path(), police_private_key)
    response = signed_get(record_path(query="fields=%zz"), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "signature_invalid"
    platform_verify(response, None, ["@status", "content-digest"])
