"""Sending the email copies: once each, retried while the mail server fails (within a bound), caught up by
the periodic email_pending when the after-commit send was lost, and never logging an address."""

import datetime as dt
import smtplib
import time
from collections.abc import Sequence
from typing import Any

import pytest
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone

from notifications.mailing import EmailOutcome, notification_email_send, notifications_email_pending
from notifications.models import EMAIL_MAX_ATTEMPTS, Notification, NotificationKind
from notifications.services import notification_settings_update, notify
from notifications.tasks import email_pending_task, email_send_task
from tests.conftest import make_user, requires_redis

from .conftest import NEW, REQUEST_PARAMS, with_email

pytestmark = pytest.mark.django_db

ADDRESS = "approver@health.example"


class RefusingBackend(BaseEmailBackend):
    """A mail server that refuses every message (a real backend, as an unreachable SMTP server behaves)."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        raise smtplib.SMTPRecipientsRefused({ADDRESS: (550, b"mailbox unavailable")})


REFUSING = f"{__name__}.RefusingBackend"


@pytest.fixture
def pending(health_approver: Any) -> Notification:
    """A notification whose after-commit email never ran (this test's transaction never commits)."""
    with_email(health_approver, ADDRESS)
    [notification] = notify(recipients=[health_approver], kind=NEW, params=REQUEST_PARAMS)
    assert notification.email_wanted and notification.emailed_at is None
    return notification


def test_email_pending_sends_what_was_missed_once(pending: Notification, mailoutbox: list) -> None:
    assert notifications_email_pending() == 1
    assert [mail.to for mail in mailoutbox] == [[ADDRESS]]
    assert notifications_email_pending() == 0
    assert email_pending_task() == 0
    assert notification_email_send(notification_id=pending.pk) == EmailOutcome.SKIPPED
    assert len(mailoutbox) == 1
    pending.refresh_from_db()
    assert pending.emailed_at is not None and pending.email_claimed_until is None


def test_the_send_task_is_idempotent(pending: Notification, mailoutbox: list, eager_celery: None) -> None:
    assert email_send_task.delay(pending.pk).get() == "sent"
    assert email_send_task.delay(pending.pk).get() == "skipped"
    assert len(mailoutbox) == 1


def test_old_notifications_are_no_longer_emailed(pending: Notification, mailoutbox: list) -> None:
    Notification.objects.filter(pk=pending.pk).update(created_at=timezone.now() - dt.timedelta(days=4))
    assert notifications_email_pending() == 0
    assert mailoutbox == []


def test_no_email_once_the_person_switched_that_kind_off(pending: Notification, health_approver: Any,
                                                         mailoutbox: list) -> None:
    notification_settings_update(user=health_approver, email_language="en",
                                 email_kinds=[k for k in NotificationKind if k != NEW])
    assert notification_email_send(notification_id=pending.pk) == EmailOutcome.SKIPPED
    assert mailoutbox == []
    pending.refresh_from_db()
    assert not pending.email_wanted and pending.emailed_at is None
    assert notifications_email_pending() == 0


def test_no_email_once_the_address_is_gone_or_the_person_left(pending: Notification, health_approver: Any,
                                                              mailoutbox: list) -> None:
    with_email(health_approver, "")
    assert notifications_email_pending() == 0
    assert notification_email_send(notification_id=pending.pk) == EmailOutcome.SKIPPED
    with_email(health_approver, ADDRESS)
    health_approver.is_active = False
    health_approver.save()
    assert notifications_email_pending() == 0
    assert mailoutbox == []


def test_a_refusing_mail_server_leaves_the_email_pending(pending: Notification, settings: Any, mailoutbox: list,
                                                         caplog: Any) -> None:
    settings.EMAIL_BACKEND = REFUSING
    assert notification_email_send(notification_id=pending.pk) == EmailOutcome.FAILED
    pending.refresh_from_db()
    assert (pending.emailed_at, pending.email_attempts, pending.email_claimed_until) == (None, 1, None)
    assert f"notification {pending.pk}: email failed (attempt 1 of {EMAIL_MAX_ATTEMPTS}" in caplog.text
    assert ADDRESS not in caplog.text and "儿童疫苗接种记录" not in caplog.text  # ids only, no personal data
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notifications_email_pending() == 1
    assert [mail.to for mail in mailoutbox] == [[ADDRESS]]
    pending.refresh_from_db()
    assert pending.emailed_at is not None


def test_an_email_is_given_up_after_the_bound(pending: Notification, settings: Any, caplog: Any,
                                              mailoutbox: list) -> None:
    settings.EMAIL_BACKEND = REFUSING
    outcomes = [notification_email_send(notification_id=pending.pk) for _ in range(EMAIL_MAX_ATTEMPTS + 1)]
    assert outcomes == [EmailOutcome.FAILED] * (EMAIL_MAX_ATTEMPTS - 1) + [EmailOutcome.GAVE_UP,
                                                                           EmailOutcome.SKIPPED]
    assert f"notification {pending.pk}: email given up after {EMAIL_MAX_ATTEMPTS} failed attempts" in caplog.text
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notifications_email_pending() == 0
    assert mailoutbox == []
    assert Notification.objects.filter(pk=pending.pk, read_at=None).exists()  # still in the inbox


def test_a_failure_in_the_eager_task_does_not_reach_the_caller(pending: Notification, settings: Any,
                                                               eager_celery: None) -> None:
    settings.EMAIL_BACKEND = REFUSING
    assert email_send_task.delay(pending.pk).get() == "failed"  # no retry in-process: the catch-up sends it
    pending.refresh_from_db()
    assert pending.email_attempts == 1 and pending.emailed_at is None


def test_the_catch_up_stops_when_the_mail_server_is_down(health: Any, settings: Any) -> None:
    people = [with_email(make_user(f"approver-{i}", health, "approver"), f"a{i}@health.example") for i in range(5)]
    notify(recipients=people, kind=NEW, params=REQUEST_PARAMS)
    settings.EMAIL_BACKEND = REFUSING
    assert notifications_email_pending() == 0
    # three tried and failed, the other two wait for the next run untouched
    assert sorted(Notification.objects.values_list("email_attempts", flat=True)) == [0, 0, 1, 1, 1]


def test_a_notification_being_sent_by_another_worker_is_left_to_it(pending: Notification, mailoutbox: list) -> None:
    Notification.objects.filter(pk=pending.pk).update(email_claimed_until=timezone.now() + dt.timedelta(minutes=1))
    assert notification_email_send(notification_id=pending.pk) == EmailOutcome.SKIPPED
    assert notifications_email_pending() == 0
    # a lease that ran out (the worker died) is taken over
    Notification.objects.filter(pk=pending.pk).update(email_claimed_until=timezone.now() - dt.timedelta(seconds=1))
    assert notifications_email_pending() == 1
    assert len(mailoutbox) == 1


@requires_redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_emails_after_the_commit(health_approver: Any, mailoutbox: list) -> None:
    from celery.contrib.testing.worker import start_worker

    from govplatform.celery_app import app

    assert not app.conf.task_always_eager
    app.control.purge()  # tasks left in the queue by earlier tests
    with_email(health_approver, ADDRESS)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        with transaction.atomic():
            [notification] = notify(recipients=[health_approver], kind=NEW, params=REQUEST_PARAMS)
        deadline = time.monotonic() + 15
        while not Notification.objects.filter(pk=notification.pk, emailed_at__isnull=False).exists() \
                and time.monotonic() < deadline:
            time.sleep(0.05)
    assert [mail.to for mail in mailoutbox] == [[ADDRESS]]  # the worker runs in this process: same outbox

