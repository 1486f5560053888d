"""A second factor (TOTP, django-otp) for approvers, auditors, department admins, the platform roles and
superusers: enrolment from a QR code, sign-in with the app's code or a recovery code, throttling of wrong
codes, the operator's audited reset, and the demo's switch."""

import base64
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent
from core.errors import PlatformError
from registry.models import PlatformRole, PlatformRoleName, Role
from registry.second_factor import second_factor_required, second_factor_reset
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # make_user's
ADDRESS = "198.51.100.9"


def signed_in(username: str) -> Client:
    """Through the login form: the password, and nothing more yet."""
    http = Client(REMOTE_ADDR=ADDRESS)
    response = http.post("/admin/login/", {"username": username, "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 302, response.content.decode()[:500]
    return http


def code_for(device: TOTPDevice, *, step_offset: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + step_offset * device.step
    return f"{totp.token():06d}"


def enrol(http: Client, username: str) -> tuple[TOTPDevice, list[str]]:
    page = http.get("/admin/second-factor/?next=/admin/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'src="data:image/svg+xml;base64,' in html, "the QR code"
    device = TOTPDevice.objects.get(user__username=username, confirmed=False)
    done = http.post("/admin/second-factor/", {"code": code_for(device), "next": "/admin/"})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", done.content.decode())
    device.refresh_from_db()
    return device, codes


@pytest.fixture
def operator(db: None) -> Any:
    user = make_user("platform-operator", None)
    PlatformRole.objects.create(user=user, role=PlatformRoleName.OPERATOR)
    return user


def test_the_roles_that_can_open_other_departments_work_need_a_second_factor(
    second_factor: bool, health: Any, health_clerk: Any, health_approver: Any, auditor: Any, root: Any,
    operator: Any, authority: Any
) -> None:
    assert second_factor is True, "on by default"
    admin = make_user("health-admin", health, Role.ADMIN)
    assert [second_factor_required(u) for u in (health_approver, auditor, admin, authority, operator, root)] == \
        [True] * 6
    assert second_factor_required(health_clerk) is False  # a clerk's reach is their own department's work


def test_without_a_device_an_approver_is_sent_to_enrol_before_any_admin_page(second_factor: bool,
                                                                              health_approver: Any) -> None:
    http = signed_in("health-approver")
    for path in ("/admin/", "/admin/exchange/accessrequest/", "/admin/password_change/"):
        response = http.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/admin/second-factor/?next="), response["Location"]
    assert http.get("/admin/second-factor/").status_code == 200


def test_enrolment_confirms_with_the_apps_code_and_shows_ten_recovery_codes_once(
    second_factor: bool, health_approver: Any
) -> None:
    http = signed_in("health-approver")
    device, codes = enrol(http, "health-approver")
    assert device.confirmed
    assert len(codes) == 10 and len(set(codes)) == 10
    assert sorted(StaticToken.objects.filter(device__user=health_approver).values_list("token", flat=True)) == \
        sorted(codes)
    assert http.get("/admin/").status_code == 200, "enrolling passes the second factor for this session"
    event = AuditEvent.objects.get(action="user.second_factor_enrolled")
    assert event.actor_id == "health-approver" and event.detail == {"ip": ADDRESS, "recovery_codes": 10}
    for code in codes:
        assert code not in str(list(AuditEvent.objects.values_list("detail", flat=True)))


def test_a_wrong_code_at_enrolment_is_refused_and_confirms_nothing(second_factor: bool,
                                                                   health_approver: Any) -> None:
    http = signed_in("health-approver")
    http.get("/admin/second-factor/")
    response = http.post("/admin/second-factor/", {"code": "000000"})
    device = TOTPDevice.objects.get(user=health_approver)
    if code_for(device) == "000000":  # pragma: no cover - one chance in a million
        pytest.skip("the app's code happened to be 000000")
    assert response.status_code == 200 and "That code is not right" in response.content.decode()
    assert not device.confirmed
    assert http.get("/admin/").status_code == 302
    assert AuditEvent.objects.filter(action="user.second_factor_failed", outcome="refused").count() == 1


def test_the_next_sign_in_asks_for_the_code_and_accepts_the_apps_current_one(second_factor: bool,
                                                                              health_approver: Any) -> None:
    device, _ = enrol(signed_in("health-approver"), "health-approver")
    http = signed_in("health-approver")
    asked = http.get("/admin/exchange/accessrequest/")
    assert asked.status_code == 302
    assert asked["Location"] == "/admin/second-factor/verify/?next=%2Fadmin%2Fexchange%2Faccessrequest%2F"
    later = code_for(device, step_offset=1)  # the next period's code: the last one was used at enrolment
    passed = http.post("/admin/second-factor/verify/", {"code": later, "next": "/admin/exchange/accessrequest/"})
    assert passed.status_code == 302 and passed["Location"] == "/admin/exchange/accessrequest/"
    assert http.get("/admin/exchange/accessrequest/").status_code == 200
    event = AuditEvent.objects.get(action="user.second_factor_passed")
    assert event.detail == {"ip": ADDRESS, "method": "authenticator"}


def test_a_used_code_is_not_accepted_twice(second_factor: bool, health_approver: Any) -> None:
    device, _ = enrol(signed_in("health-approver"), "health-approver")
    used = code_for(device)  # the one enrolment accepted
    response = signed_in("health-approver").post("/admin/second-factor/verify/", {"code": used})
    assert response.status_code == 200 and "not right" in response.content.decode()


def test_wrong_codes_are_throttled_each_doubling_the_wait(second_factor: bool, health_approver: Any,
                                                          settings: Any) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 60  # the first wait a minute, not a second: no race with a slow machine
    device, _ = enrol(signed_in("health-approver"), "health-approver")
    http = signed_in("health-approver")
    http.post("/admin/second-factor/verify/", {"code": "111111" if code_for(device, step_offset=1) != "111111"
                                               else "222222"})
    throttled = http.post("/admin/second-factor/verify/", {"code": code_for(device, step_offset=1)})
    assert throttled.status_code == 200, "even the right code waits out the throttle"
    assert "Too many wrong codes" in throttled.content.decode()
    assert http.get("/admin/").status_code == 302
    device.refresh_from_db()
    assert device.throttling_failure_count >= 1


def test_a_recovery_code_signs_in_once_and_says_how_many_are_left(second_factor: bool,
                                                                   health_approver: Any) -> None:
    _, codes = enrol(signed_in("health-approver"), "health-approver")
    http = signed_in("health-approver")
    passed = http.post("/admin/second-factor/verify/", {"code": codes[0].upper(), "next": "/admin/"}, follow=True)
    assert passed.status_code == 200
    assert "recovery code; 9 are left" in passed.content.decode()
    event = AuditEvent.objects.get(action="user.second_factor_passed")
    assert event.detail == {"ip": ADDRESS, "method": "recovery_code", "remaining": 9}
    again = signed_in("health-approver").post("/admin/second-factor/verify/", {"code": codes[0]})
    assert "not right" in again.content.decode(), "each recovery code works once"


def test_a_stolen_password_cannot_replace_the_authenticator(second_factor: bool, health_approver: Any) -> None:
    device, _ = enrol(signed_in("health-approver"), "health-approver")
    thief = signed_in("health-approver")
    response = thief.get("/admin/second-factor/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/second-factor/verify/")
    assert list(TOTPDevice.objects.filter(user=health_approver)) == [device]


def test_the_next_address_after_the_code_must_be_the_platforms_own(second_factor: bool,
                                                                   health_approver: Any) -> None:
    device, _ = enrol(signed_in("health-approver"), "health-approver")
    http = signed_in("health-approver")
    passed = http.post("/admin/second-factor/verify/", {"code": code_for(device, step_offset=1),
                                                        "next": "https://evil.example/phish"})
    assert passed.status_code == 302 and passed["Location"] == "/admin/"


def test_a_clerk_signs_in_with_the_password_alone(second_factor: bool, health_clerk: Any) -> None:
    assert signed_in("health-clerk").get("/admin/").status_code == 200


def test_the_operator_resets_a_lost_second_factor_audited_and_ends_the_persons_sessions(
    second_factor: bool, health_approver: Any, operator: Any
) -> None:
    enrol(signed_in("health-approver"), "health-approver")
    still_open = signed_in("health-approver")
    second_factor_reset(actor=operator, user=health_approver)
    assert not TOTPDevice.objects.filter(user=health_approver).exists()
    assert not StaticToken.objects.filter(device__user=health_approver).exists()
    assert urlsplit(still_open.get("/admin/")["Location"]).path == "/admin/login/", "sessions ended"
    event = AuditEvent.objects.get(action="user.second_factor_reset")
    assert (event.actor_id, event.detail) == ("platform-operator", {"username": "health-approver"})
    assert signed_in("health-approver").get("/admin/")["Location"].startswith("/admin/second-factor/?")


def test_only_the_operator_resets_a_second_factor(health_approver: Any, health_clerk: Any) -> None:
    with pytest.raises(PlatformError):
        second_factor_reset(actor=health_clerk, user=health_approver)


def test_the_operators_page_lists_authenticators_without_their_secrets(second_factor: bool, operator: Any,
                                                                       health_approver: Any) -> None:
    device, _ = enrol(signed_in("health-approver"), "health-approver")
    http = Client()
    http.force_login(operator)
    TOTPDevice.objects.create(user=operator, confirmed=True, name="authenticator")
    session = http.session
    session["otp_device_id"] = TOTPDevice.objects.get(user=operator).persistent_id
    session.save()
    listing = http.get("/admin/registry/secondfactor/")
    assert listing.status_code == 200
    assert "health-approver" in listing.content.decode() and device.key not in listing.content.decode()
    assert http.get("/admin/otp_totp/totpdevice/").status_code == 404, "django-otp's own page shows the secrets"
    response = http.post("/admin/registry/secondfactor/", {"action": "reset", "_selected_action": [device.pk]})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=health_approver).exists()


def test_switched_off_every_start_says_so(settings: Any, capsys: pytest.CaptureFixture[str]) -> None:
    settings.TWO_FACTOR_REQUIRED = False
    call_command("check")
    assert "registry.W001" in capsys.readouterr().err
    settings.TWO_FACTOR_REQUIRED = True
    call_command("check")
    assert "registry.W001" not in capsys.readouterr().err


def test_the_enrolment_page_offers_the_key_to_type_in(second_factor: bool, health_approver: Any) -> None:
    http = signed_in("health-approver")
    html = http.get("/admin/second-factor/").content.decode()
    device = TOTPDevice.objects.get(user=health_approver)
    secret = re.search(r'<code id="second-factor-secret">([A-Z2-7 ]+)</code>', html)
    assert secret is not None
    assert base64.b32decode(secret.group(1).replace(" ", "")) == device.bin_key
    assert parse_qs(urlsplit(device.config_url).query)["issuer"] == ["政务数据共享平台"]
