"""Admin sessions end after a working day and after 30 minutes idle; a password change ends the person's other
sessions and a role change ends all of theirs."""

import time
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from govplatform.middleware import SEEN, STARTED
from registry.models import Membership, Role
from registry.services import membership_grant, membership_revoke
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def signed_in(user: Any) -> Client:
    http = Client()
    assert http.post("/admin/login/", {"username": user.get_username(), "password": PASSWORD}).status_code == 302
    assert http.get("/admin/").status_code == 200
    return http


def shift(http: Client, **seconds_ago: float) -> None:
    """Move the session's stamps into the past, as if that much time had gone by."""
    session = http.session
    now = time.time()
    for name, ago in seconds_ago.items():
        session[{"started": STARTED, "seen": SEEN}[name]] = now - ago
    session.save()


def test_an_idle_session_ends_and_the_sign_in_page_says_why(health_clerk: Any, settings: Any) -> None:
    http = signed_in(health_clerk)
    shift(http, seen=settings.SESSION_IDLE_MINUTES * 60 - 30)
    assert http.get("/admin/").status_code == 200  # not yet
    shift(http, seen=settings.SESSION_IDLE_MINUTES * 60 + 1)
    response = http.get("/admin/", follow=True)
    assert response.redirect_chain and "/admin/login/" in response.redirect_chain[-1][0]
    assert "minutes without activity" in response.content.decode()


def test_a_busy_session_ends_after_a_working_day(health_clerk: Any, settings: Any) -> None:
    http = signed_in(health_clerk)
    shift(http, started=settings.SESSION_MAX_HOURS * 3600 + 1, seen=10)
    response = http.get("/admin/", follow=True)
    assert "/admin/login/" in response.redirect_chain[-1][0]
    assert "at most" in response.content.decode()


def test_the_sign_out_is_audited(health_clerk: Any, settings: Any) -> None:
    from audit.models import AuditEvent

    http = signed_in(health_clerk)
    shift(http, seen=settings.SESSION_IDLE_MINUTES * 60 + 1)
    http.get("/admin/")
    assert AuditEvent.objects.filter(action="user.logged_out", actor_id="health-clerk").exists()


def test_a_password_change_ends_the_persons_other_sessions(health_clerk: Any) -> None:
    here, elsewhere = signed_in(health_clerk), signed_in(health_clerk)
    response = here.post("/admin/password_change/", {"old_password": PASSWORD, "new_password1": "a new one 2026!x",
                                                      "new_password2": "a new one 2026!x"})
    assert response.status_code == 302
    assert here.get("/admin/").status_code == 200  # the session that changed it goes on
    assert elsewhere.get("/admin/").status_code == 302  # the other one is signed out


def test_a_role_change_ends_all_the_persons_sessions(health_clerk: Any, police: Any, root: Any) -> None:
    http = signed_in(health_clerk)
    other = signed_in(make_user("bystander", police, Role.CLERK))
    membership_grant(actor=root, user=health_clerk, department=police, role=Role.CLERK)
    assert http.get("/admin/").status_code == 302
    assert other.get("/admin/").status_code == 200  # nobody else's
    http = signed_in(health_clerk)
    membership_revoke(actor=root, membership=Membership.objects.get(user=health_clerk, department=police))
    assert http.get("/admin/").status_code == 302
    assert get_user_model().objects.filter(username="health-clerk").exists()
