"""The security headers: a strict Content Security Policy on every page, the admin and the API; HSTS and
the HTTPS redirect when a TLS deployment switches them on (README, "In production").

The browser tests (tests/test_browser.py) load the same pages in chromium, where anything the policy
blocks is a console error and fails the walk.
"""

from typing import Any

import pytest
from django.test import Client

PAGES = ["/", "/catalog/", "/admin/login/", "/api/docs/", "/api/docs/?script", "/api/v1/platform-key", "/healthz"]


def policy(response: Any) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives = (part.strip().split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_every_page_carries_a_strict_content_security_policy(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 200, path
    csp = policy(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"] and csp["base-uri"] == ["'none'"]
    assert not any("unsafe" in value for values in csp.values() for value in values), csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_the_admin_pages_a_person_signs_in_to_carry_the_policy_too(health_clerk: Any) -> None:
    http = Client()
    http.force_login(health_clerk)
    for path in ("/admin/", "/admin/catalog/dataset/", "/admin/notifications/notification/"):
        response = http.get(path)
        assert response.status_code == 200, path
        assert policy(response)["script-src"] == ["'self'"], path


@pytest.mark.django_db
def test_a_signed_api_answer_carries_the_policy(police_grant: Any, police_key: Any, signed_get: Any) -> None:
    from tests.conftest import record_path

    response = signed_get(record_path())
    assert response.status_code in (200, 404)
    assert policy(response)["default-src"] == ["'self'"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/admin/login/", "/catalog/", "/api/docs/"])
def test_no_page_writes_inline_styles_or_scripts(path: str) -> None:
    html = Client().get(path).content.decode()
    assert "<style" not in html, f"{path}: an inline <style> block, which the policy refuses"
    assert ' style="' not in html, f"{path}: an inline style attribute, which the policy refuses"
    for script in html.split("<script")[1:]:
        tag = script.split(">", 1)[0]
        assert "src=" in tag or 'type="application/json"' in tag, f"{path}: an inline script: <script{tag}>"


def test_without_tls_settings_there_is_no_hsts_and_no_redirect(db: None) -> None:
    response = Client().get("/")
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers


def test_a_tls_deployment_redirects_plain_http_and_sends_hsts(db: None, settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    plain = Client().get("/catalog/?q=x")
    assert plain.status_code == 301
    assert plain.headers["Location"] == "https://testserver/catalog/?q=x"
    secure = Client().get("/catalog/", secure=True)
    assert secure.status_code == 200
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def test_the_health_check_answers_over_plain_http_behind_the_redirect(db: None, settings: Any) -> None:
    """A load balancer's probe speaks plain HTTP to the app; it gets the health, not a redirect."""
    settings.SECURE_SSL_REDIRECT = True
    assert Client().get("/healthz").status_code == 200
