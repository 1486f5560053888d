"""GET /api/v1/datasets/{id}/records/{key}: granted fields only, signed responses, every refusal audited."""

import datetime as dt
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.urls import resolve
from django.utils import timezone, translation

from audit.models import AuditEvent, RefusalTally
from audit.services import refusal_tallies_flush, subject_hash
from core.errors import ErrorCode
from core.keys import platform_key
from exchange import client as consumer
from exchange.views import RecordReadApi
from registry.models import SystemKey
from tests.conftest import POLICE_KEY_ID, RECORD_KEY, audit_inserts_refused, record_path, signed_headers

pytestmark = pytest.mark.django_db


def last_event() -> AuditEvent:
    return AuditEvent.objects.order_by("-id").first()


def assert_refused(response: Any, status: int, code: str, action: str = "record.read") -> AuditEvent:
    """The refusal is a clear JSON error, signed, declared by its view, and its audit event (``action``) is
    named in the receipt."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    view = resolve(response.request["PATH_INFO"]).func.view_class  # type: ignore[attr-defined]
    assert code in view.error_codes, "declare it: the OpenAPI schema lists the codes from there"
    assert "fields" not in body
    assert_signed_by_platform(response)
    if "Audit-Leaf-Hash" not in response:
        return assert_counted(response, code)
    event = AuditEvent.objects.get(uid=response["Audit-Event"])
    assert (event.action, event.outcome, event.reason) == (action, "refused", code)
    assert response["Audit-Leaf-Hash"] == event.leaf_hash
    return event


def assert_counted(response: Any, code: str) -> AuditEvent:
    """A caller the platform could not verify is counted in its window's tally, not logged one by one; the
    receipt names the event the window becomes when it closes."""
    tally = RefusalTally.objects.filter(uid=response["Audit-Event"]).first()
    if tally is not None:  # not yet written (another response of the same window may have closed it)
        assert tally.reasons.get(code, 0) >= 1
        refusal_tallies_flush(now=timezone.now() + dt.timedelta(hours=1))
    event = AuditEvent.objects.get(uid=response["Audit-Event"])
    assert (event.action, event.outcome) == ("exchange.refusals", "refused")
    assert event.detail["reasons"][code] >= 1
    return event


def assert_signed_by_platform(response: Any) -> None:
    url = getattr(response, "sent_url", f"http://testserver{response.request['PATH_INFO']}")
    request = consumer.Message("GET", url, getattr(response, "sent_headers", {}))
    signed = consumer.SignedResponse(status_code=response.status_code, headers=dict(response.items()),
                                     body=response.content, request=request)
    verifier_key = platform_key().public_key
    if "Signature" in request.headers:
        consumer.verify_response(signed, platform_public_key=verifier_key)
    else:  # an unsigned request: the response still carries the platform's signature over status and body
        from http_message_signatures import HTTPMessageVerifier, algorithms

        from exchange.client import _AnyKeyIdResolver

        HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=_AnyKeyIdResolver(verifier_key)
                            ).verify(signed, require_components=["@status", "content-digest"], body=signed.body)


def test_it_returns_only_the_granted_fields(signed_get: Any, police_key: SystemKey, police_grant: Any) -> None:
    response = signed_get(record_path())
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["fields"] == {"vaccine": "hepatitis-b", "dose_date": "2026-03-01"}
    assert body["key"] == RECORD_KEY and body["version"] == 1
    assert_signed_by_platform(response)


def test_no_cache_keeps_a_record_nor_a_refusal(signed_get: Any, police_key: SystemKey, police_grant: Any) -> None:
    assert signed_get(record_path())["Cache-Control"] == "no-store"
    assert signed_get(record_path(key="000"))["Cache-Control"] == "no-store"  # a refusal names what was asked


def test_it_audits_the_read_with_grant_purpose_and_hashed_subject(signed_get: Any, police_key: SystemKey,
                                                                   police_grant: Any) -> None:
    response = signed_get(record_path())
    event = AuditEvent.objects.get(uid=response["Audit-Event"])
    assert (event.action, event.outcome) == ("record.read", "ok")
    assert (event.actor_type, event.actor_id, event.actor_department) == ("system", "police-rms", "police")
    assert event.grant_id == police_grant.pk and event.purpose == "public-health.tracing"
    assert event.subjects == [subject_hash(RECORD_KEY)]
    assert RECORD_KEY not in event.canonical_leaf().decode()  # never the raw citizen id
    assert len(event.request_digest) == 64


def test_it_returns_a_subset_of_granted_fields_when_asked(signed_get: Any, police_key: SystemKey,
                                                          police_grant: Any) -> None:
    response = signed_get(record_path(query="fields=vaccine"))
    assert response.status_code == 200
    assert response.json()["fields"] == {"vaccine": "hepatitis-b"}


def test_it_refuses_a_field_not_granted(signed_get: Any, police_key: SystemKey, police_grant: Any) -> None:
    response = signed_get(record_path(query="fields=vaccine,full_name"))
    event = assert_refused(response, 403, "field_not_granted")
    assert response.json()["error"]["message"] == ("No grant covers full_name; your grants allow dose_date, "
                                                   "vaccine.")
    assert event.grant_id is None  # no grant covered it: the refusal is under none


def test_it_refuses_an_unknown_field_with_400(signed_get: Any, police_key: SystemKey, police_grant: Any) -> None:
    assert_refused(signed_get(record_path(query="fields=shoe_size")), 400, "unknown_field")


def test_it_refuses_an_unsigned_request(client: Any, police_key: SystemKey, police_grant: Any) -> None:
    event = assert_refused(client.get(record_path()), 401, "signature_missing")
    assert event.actor_type == "anonymous"


def test_it_refuses_a_replayed_request(signed_get: Any, police_key: SystemKey, police_grant: Any) -> None:
    first = signed_get(record_path())
    assert first.status_code == 200
    replay = signed_get(record_path(), headers=first.sent_headers)
    event = assert_refused(replay, 401, "replayed")
    # Whoever replays a captured request is not proven to be its system: counted under the keyid it claimed.
    assert (event.actor_type, event.actor_id, event.actor_department) == ("anonymous", POLICE_KEY_ID, "")
    assert event.detail["count"] == 1 and event.request_digest == event.detail["first_digest"]


def test_it_refuses_an_unknown_key(signed_get: Any, police_key: SystemKey, police_grant: Any) -> None:
    stranger = Ed25519PrivateKey.generate()
    event = assert_refused(signed_get(record_path(), private_key=stranger, key_id="nobody-1"), 401, "unknown_key")
    assert (event.actor_type, event.actor_id) == ("anonymous", "nobody-1")


def test_it_refuses_a_revoked_key(signed_get: Any, police_key: SystemKey, police_grant: Any) -> None:
    SystemKey.objects.filter(pk=police_key.pk).update(revoked_at=timezone.now())
    event = assert_refused(signed_get(record_path()), 401, "key_revoked")
    assert (event.actor_type, event.actor_id) == ("anonymous", POLICE_KEY_ID)


def test_a_forged_signature_naming_a_real_keyid_is_not_blamed_on_that_system(
        signed_get: Any, police_key: SystemKey, police_grant: Any) -> None:
    event = assert_refused(signed_get(record_path(), private_key=Ed25519PrivateKey.generate()), 401,
                           "signature_invalid")
    assert (event.actor_type, event.actor_id, event.actor_department) == ("anonymous", POLICE_KEY_ID, "")


@pytest.mark.parametrize("path", [record_path(key="1101%00"), record_path(dataset="vacc%00inations"),
                                  record_path(query="fields=vac%00cine")])
def test_control_characters_in_the_address_are_a_400_and_audited(path: str, signed_get: Any, police_key: SystemKey,
                                                                 police_grant: Any) -> None:
    event = assert_refused(signed_get(path), 400, "invalid_characters")
    assert "\x00" not in event.object_id


def test_an_unsigned_request_with_a_control_character_is_still_audited(client: Any, police_key: SystemKey) -> None:
    event = assert_refused(client.get(record_path(dataset="vacc%00inations")), 400, "invalid_characters")
    assert event.object_id == "127.0.0.1"  # counted per source address


def test_it_refuses_an_expired_key(signed_get: Any, police_key: SystemKey, police_grant: Any) -> None:
    SystemKey.objects.filter(pk=police_key.pk).update(not_before=timezone.now() - dt.timedelta(days=400),
                                                      expires_at=timezone.now() - dt.timedelta(days=1))
    assert_refused(signed_get(record_path()), 401, "key_not_valid")


def test_it_refuses_a_signature_by_the_wrong_private_key(signed_get: Any, police_key: SystemKey,
                                                         police_grant: Any) -> None:
    response = signed_get(record_path(), private_key=Ed25519PrivateKey.generate())
    assert_refused(response, 401, "signature_invalid")


def test_it_refuses_a_signature_for_another_url(signed_get: Any, police_private_key: Ed25519PrivateKey,
                                                police_key: SystemKey, police_grant: Any) -> None:
    headers = signed_headers("http://testserver" + record_path(key="someone-else"), police_private_key)
    assert_refused(signed_get(record_path(), headers=headers), 401, "signature_invalid")


def test_it_refuses_an_old_signature(signed_get: Any, police_key: SystemKey, police_grant: Any) -> None:
    response = signed_get(record_path(), created=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10))
    event = assert_refused(response, 401, "signature_invalid")
    assert "expires" in response.json()["error"]["message"] or "age" in response.json()["error"]["message"]
    assert event.actor_type == "anonymous"  # refused before the key was looked up


def test_it_refuses_a_reader_without_a_grant(signed_get: Any, police_key: SystemKey, vaccinations: Any) -> None:
    event = assert_refused(signed_get(record_path()), 403, "no_grant")
    assert event.subjects == [subject_hash(RECORD_KEY)]


def test_it_refuses_once_the_grant_is_revoked(signed_get: Any, police_key: SystemKey, police_grant: Any) -> None:
    police_grant.revoked_at = timezone.now()
    police_grant.save()
    assert_refused(signed_get(record_path()), 403, "grant_revoked")
    police_grant.valid_until = timezone.now()  # a revoked grant that would have expired by now anyway
    police_grant.save()
    assert_refused(signed_get(record_path()), 403, "no_grant")


def test_it_answers_404_for_an_unknown_dataset_or_record(signed_get: Any, police_key: SystemKey,
                                                         police_grant: Any) -> None:
    assert_refused(signed_get(record_path(dataset="no-such-dataset")), 404, "dataset_not_found")
    assert_refused(signed_get(record_path(key="000")), 404, "record_not_found")


def test_no_data_leaves_when_the_audit_log_cannot_be_written(signed_get: Any, police_key: SystemKey,
                                                             police_grant: Any) -> None:
    """Fail closed: a real database refusal of the audit insert, not a mock."""
    with audit_inserts_refused():
        response = signed_get(record_path())
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "audit_unavailable"
    assert b"hepatitis-b" not in response.content
    assert not AuditEvent.objects.exists()


def test_nothing_is_served_without_the_platform_signing_key(settings: Any, tmp_path: Any, signed_get: Any,
                                                            police_key: SystemKey, police_grant: Any) -> None:
    settings.PLATFORM_SIGNING_KEY_FILE = tmp_path / "missing.pem"
    response = signed_get(record_path())
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "signing_key_unavailable"
    assert not AuditEvent.objects.filter(outcome="ok").exists()


@pytest.fixture
def second_grant(police_grant: Any) -> Any:
    """A newer grant for other fields and another purpose; the first stays in force."""
    from exchange.models import Grant

    return Grant.objects.create(consumer=police_grant.consumer, dataset=police_grant.dataset,
                                allowed_fields=["full_name"], purpose_code="law-enforcement.investigation",
                                purpose="Witnesses", valid_from=police_grant.valid_from,
                                valid_until=police_grant.valid_until)


def test_the_fields_asked_for_choose_the_grant_that_covers_them(signed_get: Any, police_key: SystemKey,
                                                                police_grant: Any, second_grant: Any) -> None:
    older = signed_get(record_path(query="fields=vaccine")).json()
    assert (older["grant"], older["purpose"], older["fields"]) == (
        police_grant.pk, "public-health.tracing", {"vaccine": "hepatitis-b"})
    newer = signed_get(record_path(query="fields=full_name"))
    assert newer.json()["grant"] == second_grant.pk
    assert AuditEvent.objects.get(uid=newer["Audit-Event"]).purpose == "law-enforcement.investigation"


def test_grants_are_never_merged(signed_get: Any, police_key: SystemKey, police_grant: Any,
                                 second_grant: Any) -> None:
    response = signed_get(record_path(query="fields=vaccine,full_name"))
    assert_refused(response, 403, "field_not_granted")
    assert "together" in response.json()["error"]["message"]


def test_several_grants_and_no_choice_is_a_400_that_lists_them(signed_get: Any, police_key: SystemKey,
                                                               police_grant: Any, second_grant: Any) -> None:
    response = signed_get(record_path())
    assert_refused(response, 400, "several_grants")
    message = response.json()["error"]["message"]
    assert f"grant={police_grant.pk} (public-health.tracing: vaccine, dose_date)" in message
    assert f"grant={second_grant.pk} (law-enforcement.investigation: full_name)" in message


def test_a_named_grant_is_read_under(signed_get: Any, police_key: SystemKey, police_grant: Any,
                                     second_grant: Any) -> None:
    body = signed_get(record_path(query=f"grant={police_grant.pk}")).json()
    assert body["fields"] == {"vaccine": "hepatitis-b", "dose_date": "2026-03-01"}
    assert_refused(signed_get(record_path(query=f"grant={police_grant.pk}&fields=full_name")), 403,
                   "field_not_granted")


@pytest.mark.parametrize(("grant", "status", "code"), [("999999", 403, "no_grant"), ("abc", 400, "bad_grant"),
                                                       ("-1", 400, "bad_grant")])
def test_a_grant_that_is_not_yours_or_not_a_number_is_refused(grant: str, status: int, code: str, signed_get: Any,
                                                              police_key: SystemKey, police_grant: Any) -> None:
    assert_refused(signed_get(record_path(query=f"grant={grant}")), status, code)


# --- Languages: the message follows Accept-Language, the code never does ----------------------------------


def test_an_error_message_follows_accept_language_and_its_code_does_not(
        client: Any, police_key: SystemKey, police_grant: Any, platform_language: str) -> None:
    answers = [(language, client.get(record_path(), HTTP_ACCEPT_LANGUAGE=language)) for language in ("en", "zh-hans")]
    answers.append((platform_language, client.get(record_path())))  # no Accept-Language: the platform's default
    assert platform_language == "zh-hans"
    for language, response in answers:
        assert_refused(response, 401, "signature_missing")
        assert response["Content-Language"] == language
        assert "Accept-Language" in response["Vary"]
        with translation.override(language):
            assert response.json()["error"]["message"] == str(ErrorCode.SIGNATURE_MISSING.default_message)


def test_a_refusal_in_its_own_words_is_translated_with_its_details_filled_in(
        signed_get: Any, police_private_key: Ed25519PrivateKey, police_key: SystemKey, police_grant: Any) -> None:
    path = record_path(query="fields=vaccine,full_name")
    for language in ("en", "zh-hans"):
        headers = {**signed_headers(f"http://testserver{path}", police_private_key), "Accept-Language": language}
        response = signed_get(path, headers=headers)
        assert_refused(response, 403, "field_not_granted")
        assert response["Content-Language"] == language
        with translation.override(language):
            expected = translation.gettext("No grant covers %(fields)s; your grants allow %(allowed)s.") % {
                "fields": "full_name", "allowed": "dose_date, vaccine"}
        assert response.json()["error"]["message"] == expected


def test_an_accept_header_without_json_is_a_signed_406(client: Any, police_key: SystemKey,
                                                       police_grant: Any) -> None:
    response = client.get(record_path(), HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    assert response.json() == {"error": {"code": "not_acceptable", "detail": None,
                                         "message": str(ErrorCode.NOT_ACCEPTABLE.default_message)}}
    assert ErrorCode.NOT_ACCEPTABLE in RecordReadApi.error_codes
    assert_signed_by_platform(response)
    assert not AuditEvent.objects.exists()  # refused by content negotiation, before the read was asked
