"""Admin sign-ins are locked after repeated failures, per account and per source address (django-axes): a
clear page, the lock audited, and an audited unlock by the platform operator."""

from typing import Any

import pytest
from django.test import Client

from audit.models import AuditEvent
from core.errors import PlatformError
from registry.models import PlatformRole, PlatformRoleName
from registry.services import login_unlock
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

RIGHT = "correct horse battery staple"  # make_user's password


def sign_in(username: str, password: str, address: str = "198.51.100.7") -> Any:
    return Client(REMOTE_ADDR=address).post("/admin/login/", {"username": username, "password": password,
                                                              "next": "/admin/"})


@pytest.fixture
def operator(db: None) -> Any:
    user = make_user("platform-operator", None)
    PlatformRole.objects.create(user=user, role=PlatformRoleName.OPERATOR)
    return user


def test_the_right_password_after_too_many_wrong_ones_is_refused_with_a_clear_page(health_clerk: Any,
                                                                                   settings: Any) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in("health-clerk", "wrong").status_code == 200  # the form again, not yet locked
    locked = sign_in("health-clerk", "wrong")
    assert locked.status_code == 429
    assert "Sign-in locked" in locked.content.decode()
    assert "platform operator" in locked.content.decode()
    right = sign_in("health-clerk", RIGHT)
    assert right.status_code == 429 and "_auth_user_id" not in right.wsgi_request.session
    # The lock, and every attempt refused while it holds, is evidence.
    event = AuditEvent.objects.filter(action="user.locked_out").order_by("id").first()
    assert event is not None and AuditEvent.objects.filter(action="user.locked_out").count() == 2
    assert (event.actor_type, event.actor_id, event.outcome) == ("anonymous", "health-clerk", "refused")
    assert event.detail == {"ip": "198.51.100.7", "failures": settings.AXES_FAILURE_LIMIT}
    failed = AuditEvent.objects.filter(action="user.login_failed").count()
    assert failed >= settings.AXES_FAILURE_LIMIT
    assert RIGHT not in str(list(AuditEvent.objects.values_list("detail", flat=True)))


def test_one_address_trying_many_accounts_is_locked_too(health_clerk: Any, health_approver: Any,
                                                        settings: Any) -> None:
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(f"guess-{n}", "wrong", address="203.0.113.66")
    assert sign_in("health-approver", RIGHT, address="203.0.113.66").status_code == 429
    assert sign_in("health-approver", RIGHT, address="203.0.113.67").status_code == 302  # another address


def test_a_success_before_the_limit_starts_the_count_again(health_clerk: Any, settings: Any) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in("health-clerk", "wrong")
    assert sign_in("health-clerk", RIGHT).status_code == 302
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in("health-clerk", "wrong")
    assert sign_in("health-clerk", RIGHT).status_code == 302


def test_the_operator_unlocks_in_the_admin_and_it_is_audited(health_clerk: Any, operator: Any,
                                                             settings: Any) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in("health-clerk", "wrong")
    assert sign_in("health-clerk", RIGHT).status_code == 429
    http = Client()
    http.force_login(operator)
    page = http.get("/admin/axes/accessattempt/")
    assert page.status_code == 200 and "health-clerk" in page.content.decode()
    from axes.models import AccessAttempt

    response = http.post("/admin/axes/accessattempt/", {
        "action": "unlock", "_selected_action": [a.pk for a in AccessAttempt.objects.all()]})
    assert response.status_code == 302
    assert sign_in("health-clerk", RIGHT).status_code == 302
    events = AuditEvent.objects.filter(action="user.unlocked")
    assert {(e.actor_id, e.detail["username"], e.detail["ip"]) for e in events} >= {
        ("platform-operator", "health-clerk", "")}


def test_only_the_operator_unlocks(health_clerk: Any, health_approver: Any) -> None:
    with pytest.raises(PlatformError) as refused:
        login_unlock(actor=health_approver, username="health-clerk")
    assert refused.value.code == "forbidden"
    http = Client()
    http.force_login(health_approver)
    assert http.get("/admin/axes/accessattempt/").status_code == 403
    assert not AuditEvent.objects.filter(action="user.unlocked").exists()
