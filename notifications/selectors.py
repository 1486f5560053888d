"""Reads: one's own notifications, the unread count, a notification's text, one's settings."""

from typing import Any

from django.db.models import QuerySet

from .models import Notification, NotificationSettings
from .texts import render


def notifications_for(*, user: Any) -> QuerySet[Notification]:
    """The person's own notifications, newest first (nobody else's, whoever asks)."""
    if user is None or not user.is_authenticated:
        return Notification.objects.none()
    return Notification.objects.filter(recipient=user).order_by("-created_at", "-id")


def unread_count(*, user: Any) -> int:
    """How many of the person's notifications are unread: one COUNT query (none for an anonymous visitor)."""
    if user is None or not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def notification_render(notification: Notification) -> tuple[str, str]:
    """(subject, body) in the ACTIVE language; never raises (a missing parameter reads "?")."""
    return render(notification.kind, notification.params)


def notification_settings_get(*, user: Any) -> NotificationSettings:
    """The person's settings, or the defaults (not saved) if the person never changed them."""
    found = NotificationSettings.objects.filter(user=user).first()
    return found if found is not None else NotificationSettings.defaults_for(user)
