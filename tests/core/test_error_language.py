"""API errors: the message in the request's language, the code a stable English identifier; DRF's and
Django's exceptions converted in the one handler."""

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import translation
from rest_framework import exceptions as drf_exceptions

from core.errors import ErrorCode, PlatformError, api_exception_handler, validation_error


def default_message(code: ErrorCode, language: str) -> str:
    with translation.override(language):
        return str(code.default_message)


@pytest.mark.django_db
def test_the_json_404_follows_accept_language_and_keeps_its_code(platform_language: str) -> None:
    client = Client()
    for language, headers in [("en", {"Accept-Language": "en"}), ("zh-hans", {"Accept-Language": "zh-hans"}),
                              (platform_language, {})]:
        response = client.get("/api/v1/no-such-address", headers=headers)
        assert response.status_code == 404
        assert response["Content-Language"] == language
        assert response.json() == {"error": {"code": "not_found", "detail": None,
                                             "message": default_message(ErrorCode.NOT_FOUND, language)}}


def test_the_json_500_is_in_the_active_language_and_not_escaped(rf: Any) -> None:
    from govplatform.views import server_error

    with translation.override("zh-hans"):
        response = server_error(rf.get("/api/v1/anything"))
    assert response.status_code == 500
    message = default_message(ErrorCode.INTERNAL_ERROR, "zh-hans")
    assert f'"message": "{message}"'.encode() in response.content  # UTF-8 as is, not \\u escapes
    assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_drfs_own_words_follow_accept_language_too() -> None:
    """DRF ships its Simplified Chinese: the 405's message changes with the language, its code does not."""
    client = Client()
    english = client.post("/api/v1/platform-key", headers={"Accept-Language": "en"})
    chinese = client.post("/api/v1/platform-key", headers={"Accept-Language": "zh-hans"})
    assert english.status_code == chinese.status_code == 405
    assert english.json()["error"]["code"] == chinese.json()["error"]["code"] == "method_not_allowed"
    assert english.json()["error"]["message"] == 'Method "POST" not allowed.'
    assert chinese.json()["error"]["message"] != english.json()["error"]["message"]
    assert (english["Content-Language"], chinese["Content-Language"]) == ("en", "zh-hans")


def handled(exc: Exception) -> tuple[int, dict[str, Any]]:
    response = api_exception_handler(exc, {})
    assert response is not None
    return response.status_code, response.data["error"]


def test_an_unacceptable_accept_header_is_a_406_that_says_what_to_send() -> None:
    assert handled(drf_exceptions.NotAcceptable()) == (406, {
        "code": "not_acceptable", "message": str(ErrorCode.NOT_ACCEPTABLE.default_message), "detail": None})


def test_drfs_particular_words_are_kept_and_its_generic_ones_replaced_by_the_tables() -> None:
    assert handled(drf_exceptions.MethodNotAllowed("PUT"))[1]["message"] == 'Method "PUT" not allowed.'
    assert handled(drf_exceptions.NotAuthenticated())[1]["message"] == str(
        ErrorCode.SIGNATURE_MISSING.default_message)


def test_a_validation_error_becomes_invalid_input_with_the_messages_per_field() -> None:
    status, error = handled(ValidationError({"name": ["Too long."], "code": ["Taken."]}))
    assert (status, error["code"]) == (400, "invalid_input")
    assert error["detail"] == {"name": ["Too long."], "code": ["Taken."]}


def test_a_service_converts_a_validation_error_with_a_more_precise_code_in_the_same_way() -> None:
    error = validation_error(ValidationError("A purpose code is lowercase."), code=ErrorCode.BAD_PURPOSE_CODE)
    assert isinstance(error, PlatformError)
    assert (error.status, error.code, error.message) == (400, "bad_purpose_code", "A purpose code is lowercase.")
    assert error.detail == {"__all__": ["A purpose code is lowercase."]}


def test_every_code_is_a_stable_lowercase_english_identifier_with_an_error_status() -> None:
    for code in ErrorCode:
        assert code.value.isascii() and code.value == code.value.lower() and " " not in code.value
        assert 400 <= code.status < 600
        with translation.override("zh-hans"):
            assert str(code) == code.value  # the language never reaches the code
