"""Email copies of notifications: sent once each, in the recipient's language, retried when the mail server fails.

The notification is in the database (and the inbox) before any email is attempted; the email is a copy.
Whoever sends takes a short lease on the row first, so the after-commit task and the periodic catch-up
never send the same notification twice. Logs name notification ids only, never addresses or texts.
"""

import datetime as dt
import enum
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .models import EMAIL_MAX_ATTEMPTS, Notification
from .selectors import notification_render, notification_settings_get

logger = logging.getLogger(__name__)

#: How long one sender holds a notification (longer than any SMTP timeout); a crashed sender's lease expires.
EMAIL_LEASE = dt.timedelta(minutes=5)
#: Notifications older than this are no longer emailed by the catch-up (the inbox still has them).
EMAIL_PENDING_MAX_AGE = dt.timedelta(days=3)
#: The catch-up stops after this many failures in a row: the mail server is down; the next run tries again.
EMAIL_PENDING_FAILURES_IN_A_ROW = 3


class EmailOutcome(enum.StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"  # already sent, being sent by another worker, or no longer wanted
    FAILED = "failed"  # the mail server failed; it is tried again
    GAVE_UP = "gave_up"  # failed EMAIL_MAX_ATTEMPTS times


def _claim(notification_id: int) -> bool:
    now = timezone.now()
    return bool(
        Notification.objects.filter(pk=notification_id, email_wanted=True, emailed_at__isnull=True,
                                    email_attempts__lt=EMAIL_MAX_ATTEMPTS)
        .filter(Q(email_claimed_until__isnull=True) | Q(email_claimed_until__lt=now))
        .update(email_claimed_until=now + EMAIL_LEASE)
    )


def _absolute(path: str) -> str:
    return f"{settings.PLATFORM_BASE_URL}{path}"


def email_compose(notification: Notification) -> tuple[str, str]:
    """(subject, text) of the email, in the ACTIVE language: the message, a link that opens it (and marks it
    read), and where to choose which messages arrive by email."""
    subject, body = notification_render(notification)
    opened = _absolute(reverse("admin:notifications_notification_open", args=[notification.pk]))
    choices = _absolute(reverse("admin:notifications_notification_settings"))
    text = "\n\n".join([
        body,
        _("Open it on the data-sharing platform: %(url)s") % {"url": opened},
        "-- \n" + _("Every message is also in your inbox on the platform. Choose which messages arrive by "
                    "email, and in which language: %(url)s") % {"url": choices},
    ])
    return subject, text + "\n"


def notification_email_send(*, notification_id: int) -> EmailOutcome:
    """Email one notification to its recipient if still due; idempotent. A mail server failure counts an
    attempt and leaves the notification pending (up to EMAIL_MAX_ATTEMPTS)."""
    if not _claim(notification_id):
        return EmailOutcome.SKIPPED
    pending = Notification.objects.filter(pk=notification_id)
    notification = Notification.objects.select_related("recipient").filter(pk=notification_id).first()
    if notification is None:  # deleted with its recipient meanwhile
        return EmailOutcome.SKIPPED
    recipient = notification.recipient
    choices = notification_settings_get(user=recipient)
    if not (recipient.is_active and recipient.email and choices.wants_email(notification.kind)):
        pending.update(email_wanted=False, email_claimed_until=None)  # switched off since, or no address
        return EmailOutcome.SKIPPED
    with translation.override(choices.language()):
        subject, text = email_compose(notification)
    try:
        send_mail(subject, text, None, [recipient.email], fail_silently=False)
    except OSError as exc:  # smtplib.SMTPException, refused connections and timeouts are all OSErrors
        attempts = notification.email_attempts + 1
        pending.update(email_attempts=F("email_attempts") + 1, email_claimed_until=None)
        if attempts >= EMAIL_MAX_ATTEMPTS:
            logger.error("notification %s: email given up after %d failed attempts (%s)", notification_id,
                         attempts, type(exc).__name__)
            return EmailOutcome.GAVE_UP
        logger.warning("notification %s: email failed (attempt %d of %d, %s); it is tried again later",
                       notification_id, attempts, EMAIL_MAX_ATTEMPTS, type(exc).__name__)
        return EmailOutcome.FAILED
    except Exception:
        # Not the mail server: a fault of ours. Counted (so it is not retried for ever), then raised to be seen.
        pending.update(email_attempts=F("email_attempts") + 1, email_claimed_until=None)
        raise
    pending.update(emailed_at=timezone.now(), email_claimed_until=None)
    return EmailOutcome.SENT


def notifications_email_pending(*, limit: int = 500) -> int:
    """Send every email still due (the after-commit send lost with the broker, or failed at the mail server):
    not yet emailed, wanted, the recipient active with an address, recent, under the attempts bound.
    Idempotent; returns how many were sent."""
    now = timezone.now()
    due = list(
        Notification.objects.filter(email_wanted=True, emailed_at__isnull=True,
                                    created_at__gte=now - EMAIL_PENDING_MAX_AGE,
                                    email_attempts__lt=EMAIL_MAX_ATTEMPTS, recipient__is_active=True)
        .exclude(recipient__email="")
        .filter(Q(email_claimed_until__isnull=True) | Q(email_claimed_until__lt=now))
        .order_by("created_at", "pk").values_list("pk", flat=True)[:limit]
    )
    sent = failures = 0
    for notification_id in due:
        outcome = notification_email_send(notification_id=notification_id)
        if outcome == EmailOutcome.SENT:
            sent, failures = sent + 1, 0
        elif outcome in (EmailOutcome.FAILED, EmailOutcome.GAVE_UP):
            failures += 1
            if failures >= EMAIL_PENDING_FAILURES_IN_A_ROW:
                logger.warning("email catch-up stopped after %d failures in a row; the next run tries again", failures)
                break
    return sent
