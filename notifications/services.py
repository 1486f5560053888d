"""Writes: notify people, mark notifications read, save a person's email choices."""

import logging
from collections.abc import Iterable
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from .models import Notification, NotificationKind, NotificationSettings
from .tasks import email_send_task

logger = logging.getLogger(__name__)


def link_is_safe(link: str) -> bool:
    """A path on this platform ("/..."), never another site (``//host``, ``/\\host``, ``https:``)."""
    return (link.startswith("/") and not link.startswith(("//", "/\\"))
            and url_has_allowed_host_and_scheme(link, allowed_hosts=None))


def _check(params: dict[str, str | int], link: str) -> None:
    for key, value in params.items():
        if not isinstance(key, str) or isinstance(value, bool) or not isinstance(value, str | int):
            raise TypeError(f"notification parameter {key!r} must be a str or an int, not {type(value).__name__}")
    if link and not link_is_safe(link):
        raise ValueError(f"a notification's link is a path on this platform starting with '/', not {link!r}")


def notify(*, recipients: Iterable[Any], kind: NotificationKind, params: dict[str, str | int],
           link: str = "") -> list[Notification]:
    """Tell people something: one notification per distinct active recipient (inactive people and repeats are
    skipped), in their inbox at once. Called inside the caller's transaction: the notifications commit or roll
    back with the action they are about. After the commit, each one whose recipient wants this kind by email
    (and has an address) is emailed by a task; a broker that is down loses nothing (see email_pending)."""
    kind = NotificationKind(kind)
    _check(params, link)
    wanted_ids = list(dict.fromkeys(person.pk for person in recipients if person is not None and person.pk))
    if not wanted_ids:
        return []
    people = get_user_model().objects.filter(pk__in=wanted_ids, is_active=True).only("pk", "email")
    active = {person.pk: person for person in people}
    choices_of = {row.user_id: row for row in NotificationSettings.objects.filter(user_id__in=list(active))}
    notifications = []
    for pk in wanted_ids:
        person = active.get(pk)
        if person is None:
            continue
        choices = choices_of.get(pk)
        wants_email = bool(person.email) and (choices is None or choices.wants_email(kind))
        notifications.append(Notification(recipient=person, kind=kind, params=dict(params), link=link,
                                          email_wanted=wants_email))
    created = Notification.objects.bulk_create(notifications)
    to_email = [notification.pk for notification in created if notification.email_wanted]
    if to_email:
        transaction.on_commit(partial(_email_enqueue, to_email), robust=True)
    return created


def _email_enqueue(notification_ids: list[int]) -> None:
    """After the commit: one email task per notification. With the broker down, the first failure stops the
    rest (each would wait for the same timeout); the periodic email_pending sends them, as they are stored."""
    for done, notification_id in enumerate(notification_ids):
        try:
            email_send_task.delay(notification_id)
        except Exception as exc:
            logger.warning("could not queue the email of %d notification(s) from %s (%s); the periodic catch-up "
                           "sends them", len(notification_ids) - done, notification_id, type(exc).__name__)
            return


def notifications_mark_read(*, user: Any, ids: Iterable[int] | None = None) -> int:
    """Mark the person's own unread notifications read: those of ``ids``, or all when None. Others' ids are
    ignored. Returns how many changed."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        wanted = [int(pk) for pk in ids]
        if not wanted:
            return 0
        unread = unread.filter(pk__in=wanted)
    return unread.update(read_at=timezone.now())


def notification_settings_update(*, user: Any, email_language: str, email_kinds: Iterable[str]) -> NotificationSettings:
    """Save the person's choices: the language of their emails and which kinds arrive by email (the others
    only in the inbox)."""
    if email_language not in {code for code, _name in settings.LANGUAGES}:
        raise ValueError(f"{email_language!r} is not one of the platform's languages")
    by_email = {NotificationKind(kind) for kind in email_kinds}
    email_off = [kind.value for kind in NotificationKind if kind not in by_email]
    choices, _created = NotificationSettings.objects.update_or_create(
        user=user, defaults={"email_language": email_language, "email_off": email_off})
    return choices
