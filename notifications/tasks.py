"""Thin tasks: they take ids, call the mailing services, and retry a failed email with a growing delay."""

from typing import Any

from celery import shared_task

from .mailing import EmailOutcome, notification_email_send, notifications_email_pending

#: Retries of one email by its own task (1, 2, 4 minutes later); the periodic catch-up tries again after that.
EMAIL_RETRIES = 3
EMAIL_RETRY_DELAY_SECONDS = 60


@shared_task(name="notifications.email_send", bind=True, max_retries=EMAIL_RETRIES)
def email_send_task(self: Any, notification_id: int) -> str:
    outcome = notification_email_send(notification_id=notification_id)
    # Run eagerly (the embedded default), the caller's request is not held up by retries: the catch-up sends it.
    if outcome == EmailOutcome.FAILED and not self.request.is_eager and self.request.retries < EMAIL_RETRIES:
        raise self.retry(countdown=EMAIL_RETRY_DELAY_SECONDS * 2 ** self.request.retries)
    return str(outcome)


@shared_task(name="notifications.email_pending")
def email_pending_task() -> int:
    return notifications_email_pending()
