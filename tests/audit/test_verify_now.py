"""The auditor's "verify now": the whole log verified as a task, the result recorded in the log and shown on
the checkpoints' page, a failure in plain sight."""

from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from audit.events import EventType
from audit.models import AuditEvent
from audit.sequencer import log_sequence
from audit.services import Actor, event_record
from tests.audit.test_audit_verify import tamper

pytestmark = pytest.mark.django_db


def a_log(n: int = 4) -> None:
    with transaction.atomic():
        for i in range(n):
            event_record(actor=Actor("user", "clerk"), action=EventType.USER_LOGGED_IN, object_id=str(i),
                         detail={"ip": "198.51.100.4"})
    log_sequence()


def test_verify_now_records_the_result_and_the_page_shows_it(auditor: Any, eager_celery: None) -> None:
    a_log()
    http = Client()
    http.force_login(auditor)
    assert "has not been verified from here yet" in http.get("/admin/audit/checkpoint/").content.decode()
    done = http.post("/admin/audit/checkpoint/verify/", follow=True)
    assert done.status_code == 200
    event = AuditEvent.objects.get(action="audit.verified")
    assert (event.actor_id, event.outcome, event.detail["ok"], event.detail["problems"]) == ("auditor", "ok", True, [])
    assert event.detail["tree_size"] >= 4
    assert "the log held" in done.content.decode()


def test_a_failed_verification_is_in_plain_sight(auditor: Any, eager_celery: None) -> None:
    a_log()
    tamper("UPDATE audit_auditevent SET actor_id = 'someone-else' WHERE object_id = %s", ["2"])
    http = Client()
    http.force_login(auditor)
    html = http.post("/admin/audit/checkpoint/verify/", follow=True).content.decode()
    event = AuditEvent.objects.get(action="audit.verified")
    assert event.outcome == "refused" and event.detail["ok"] is False and event.detail["problems"]
    assert "it FAILED" in html


def test_only_auditors_verify_from_the_admin(health_clerk: Any, eager_celery: None) -> None:
    http = Client()
    http.force_login(health_clerk)
    assert http.post("/admin/audit/checkpoint/verify/").status_code == 403
    assert not AuditEvent.objects.filter(action="audit.verified").exists()
