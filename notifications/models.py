"""Notifications: what a person is told, kept as a kind and plain parameters, rendered when read.

A notification stores no text: its subject and body are rendered at display time in the reader's
language (and in the recipient's chosen language for email) from the kind's templates in ``texts.py``.
Every notification is in its recipient's inbox; email is a copy, sent after the commit that made it.
"""

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class NotificationKind(models.TextChoices):
    REQUEST_NEW = "request_new", _("New access request")
    REQUEST_RETURNED = "request_returned", _("Request returned for changes")
    REQUEST_RESUBMITTED = "request_resubmitted", _("Request resubmitted")
    REQUEST_DECIDED = "request_decided", _("Request decided")
    DEADLINE_NEAR = "deadline_near", _("Deadline near")
    REQUEST_ESCALATED = "request_escalated", _("Request escalated")
    REQUEST_ASSIGNED = "request_assigned", _("Request handed to you")
    GRANT_EXPIRING = "grant_expiring", _("Grant expiring")
    GRANT_REVOKED = "grant_revoked", _("Grant revoked")


#: An email that failed this many times is given up (the notification stays in the inbox).
EMAIL_MAX_ATTEMPTS = 5


class Notification(models.Model):
    # No index of its own: the (recipient, -created_at) index below serves every lookup by recipient.
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, db_index=False,
                                  related_name="notifications", verbose_name=_("recipient"))
    kind = models.CharField(max_length=32, choices=NotificationKind.choices, verbose_name=_("kind"))
    params = models.JSONField(default=dict, blank=True, verbose_name=_("parameters"),
                              help_text=_("The plain values the message is rendered from."))
    link = models.CharField(max_length=500, blank=True, verbose_name=_("link"),
                            help_text=_("The page the message is about, as a path on this platform."))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("time"))
    read_at = models.DateTimeField(null=True, blank=True, verbose_name=_("read at"))
    email_wanted = models.BooleanField(default=False, verbose_name=_("to be emailed"),
                                       help_text=_("The recipient wanted this kind of message by email and had an "
                                                   "email address."))
    emailed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("emailed at"))
    email_attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("failed email attempts"))
    # A sender's lease: whoever set it sends the email; an expired lease (a crashed worker) is taken over.
    email_claimed_until = models.DateTimeField(null=True, blank=True, editable=False,
                                               verbose_name=_("email being sent until"))

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notif_recipient_newest"),
            models.Index(fields=["recipient"], condition=Q(read_at__isnull=True), name="notif_recipient_unread"),
            models.Index(fields=["created_at"], condition=Q(email_wanted=True, emailed_at__isnull=True),
                         name="notif_email_pending"),
        ]

    def __str__(self) -> str:
        from .texts import render

        return render(self.kind, self.params)[0]


def default_email_language() -> str:
    return str(settings.LANGUAGE_CODE)


class NotificationSettings(models.Model):
    """One person's choices; made the first time the person saves them (until then, the defaults)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="notification_settings", verbose_name=_("user"))
    email_language = models.CharField(max_length=16, choices=settings.LANGUAGES, default=default_email_language,
                                      verbose_name=_("language of emails"))
    email_off = models.JSONField(default=list, blank=True, verbose_name=_("kinds not sent by email"),
                                 help_text=_("These kinds of message arrive only in the inbox."))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("notification settings")
        verbose_name_plural = _("notification settings")

    def __str__(self) -> str:
        return str(self.user)

    def wants_email(self, kind: str) -> bool:
        return kind not in self.email_off

    def language(self) -> str:
        """The language of this person's emails (the platform's default if the chosen one is no longer offered)."""
        offered = {code for code, _name in settings.LANGUAGES}
        return self.email_language if self.email_language in offered else str(settings.LANGUAGE_CODE)

    @classmethod
    def defaults_for(cls, user: Any) -> "NotificationSettings":
        """The settings of a person who never saved any (not saved)."""
        return cls(user=user, email_language=default_email_language(), email_off=[])
