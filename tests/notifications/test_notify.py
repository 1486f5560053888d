"""notifications.services.notify: one inbox row per distinct active person, email after the commit only,
as each person chose (which kinds, which language)."""

from typing import Any

import pytest
from django.db import transaction

from notifications.models import Notification, NotificationKind
from notifications.services import notification_settings_update, notify
from tests.conftest import make_user

from .conftest import NEW, REQUEST_LINK, REQUEST_PARAMS, with_email

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


def test_one_notification_per_distinct_active_recipient(health_clerk: Any, health_approver: Any,
                                                        police_clerk: Any) -> None:
    police_clerk.is_active = False
    police_clerk.save()
    created = notify(recipients=[health_approver, health_clerk, health_approver, police_clerk, None], kind=NEW,
                     params=REQUEST_PARAMS, link=REQUEST_LINK)
    assert [n.recipient_id for n in created] == [health_approver.pk, health_clerk.pk]
    assert all(n.pk for n in created)
    rows = Notification.objects.order_by("pk")
    assert [(n.recipient_id, n.kind, n.params, n.link, n.read_at) for n in rows] == [
        (health_approver.pk, "request_new", REQUEST_PARAMS, REQUEST_LINK, None),
        (health_clerk.pk, "request_new", REQUEST_PARAMS, REQUEST_LINK, None)]
    assert not Notification.objects.filter(recipient=police_clerk).exists()


def test_nobody_to_tell_makes_nothing(police_clerk: Any) -> None:
    police_clerk.is_active = False
    police_clerk.save()
    assert notify(recipients=[police_clerk], kind=NEW, params=REQUEST_PARAMS) == []
    assert notify(recipients=[], kind=NEW, params=REQUEST_PARAMS) == []
    assert not Notification.objects.exists()


def test_recipients_may_be_a_queryset(health_clerk: Any, health_approver: Any) -> None:
    from django.contrib.auth import get_user_model

    created = notify(recipients=get_user_model().objects.filter(username__startswith="health"), kind=NEW,
                     params=REQUEST_PARAMS)
    assert {n.recipient_id for n in created} == {health_clerk.pk, health_approver.pk}


def test_parameters_must_be_plain_values(health_clerk: Any) -> None:
    with pytest.raises(TypeError, match="due"):
        notify(recipients=[health_clerk], kind=NEW, params={"due": object()})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="request"):
        notify(recipients=[health_clerk], kind=NEW, params={"request": True})
    with pytest.raises(ValueError, match="kind"):
        notify(recipients=[health_clerk], kind="no_such_kind", params={})  # type: ignore[arg-type]
    assert not Notification.objects.exists()


@pytest.mark.parametrize("link", ["https://evil.example/", "//evil.example/", "/\\evil.example", "admin/x"])
def test_a_link_is_a_path_on_this_platform(health_clerk: Any, link: str) -> None:
    with pytest.raises(ValueError, match="link"):
        notify(recipients=[health_clerk], kind=NEW, params={}, link=link)


def test_email_is_sent_after_the_commit(health_approver: Any, mailoutbox: list, django_capture_on_commit_callbacks:
                                        Any) -> None:
    with_email(health_approver, "approver@health.example")
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        [notification] = notify(recipients=[health_approver], kind=NEW, params=REQUEST_PARAMS, link=REQUEST_LINK)
        assert mailoutbox == []  # not while the transaction is open
    [mail] = mailoutbox
    assert mail.to == ["approver@health.example"]
    assert mail.subject == "New access request #12 for 儿童疫苗接种记录"
    assert "Police records system of Public Security Bureau has filed access request #12" in mail.body
    assert "May 12, 2026" in mail.body
    assert f"http://127.0.0.1:8000/admin/notifications/notification/{notification.pk}/open/" in mail.body
    assert "http://127.0.0.1:8000/admin/notifications/notification/settings/" in mail.body
    notification.refresh_from_db()
    assert notification.emailed_at is not None and notification.email_attempts == 0


def test_no_email_when_the_transaction_rolls_back(health_approver: Any, mailoutbox: list,
                                                  django_capture_on_commit_callbacks: Any) -> None:
    with_email(health_approver, "approver@health.example")
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError), \
            transaction.atomic():
        notify(recipients=[health_approver], kind=NEW, params=REQUEST_PARAMS)
        raise RuntimeError("the action failed")
    assert callbacks == []
    assert mailoutbox == []
    assert not Notification.objects.exists()


def test_email_follows_each_persons_choice_of_kinds(health_approver: Any, health_clerk: Any, mailoutbox: list,
                                                    django_capture_on_commit_callbacks: Any) -> None:
    with_email(health_approver, "approver@health.example")
    with_email(health_clerk, "clerk@health.example")
    every_kind_but_new = [kind for kind in NotificationKind if kind != NEW]
    notification_settings_update(user=health_approver, email_language="en", email_kinds=every_kind_but_new)
    with django_capture_on_commit_callbacks(execute=True):
        created = notify(recipients=[health_approver, health_clerk], kind=NEW, params=REQUEST_PARAMS)
    assert [mail.to for mail in mailoutbox] == [["clerk@health.example"]]
    assert len(created) == 2  # the inbox has it all the same
    assert [n.email_wanted for n in created] == [False, True]
    with django_capture_on_commit_callbacks(execute=True):
        notify(recipients=[health_approver], kind=NotificationKind.DEADLINE_NEAR,
               params={**REQUEST_PARAMS, "days_left": 2})
    assert mailoutbox[-1].to == ["approver@health.example"]


def test_no_email_without_an_address(health_approver: Any, mailoutbox: list,
                                     django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        [notification] = notify(recipients=[health_approver], kind=NEW, params=REQUEST_PARAMS)
    assert callbacks == [] and mailoutbox == []
    assert not notification.email_wanted and notification.emailed_at is None


def test_email_is_in_the_language_the_person_chose(health: Any, mailoutbox: list,
                                                   django_capture_on_commit_callbacks: Any) -> None:
    chinese = with_email(make_user("zh-approver", health, "approver"), "zh@health.example")
    english = with_email(make_user("en-approver", health, "approver"), "en@health.example")
    notification_settings_update(user=chinese, email_language="zh-hans", email_kinds=list(NotificationKind))
    with django_capture_on_commit_callbacks(execute=True):
        notify(recipients=[chinese, english], kind=NEW, params=REQUEST_PARAMS)
    by_address = {mail.to[0]: mail for mail in mailoutbox}
    # The dates follow each one's language (the strings do too, once the catalogue translates them).
    assert "2026年5月12日" in by_address["zh@health.example"].body
    assert "May 12, 2026" not in by_address["zh@health.example"].body
    assert "May 12, 2026" in by_address["en@health.example"].body
    assert "#12" in by_address["zh@health.example"].subject


def test_an_unreachable_broker_does_not_break_the_action(health_approver: Any, mailoutbox: list, caplog: Any,
                                                         django_capture_on_commit_callbacks: Any) -> None:
    """A real broker that nobody listens on: queueing fails after the commit, the notification stays pending
    for the periodic catch-up, and the caller sees no error."""
    from celery import Celery

    from govplatform.celery_app import app as platform_app
    from notifications.mailing import notifications_email_pending

    with_email(health_approver, "approver@health.example")
    down = Celery("broker-down", broker="redis://127.0.0.1:1/0", set_as_current=True)
    down.conf.update(task_always_eager=False, task_publish_retry=False, broker_connection_retry=False,
                     broker_connection_max_retries=0,
                     broker_transport_options={"socket_connect_timeout": 0.5, "socket_timeout": 0.5,
                                               "max_retries": 0})
    try:
        down.set_current()
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            [notification] = notify(recipients=[health_approver], kind=NEW, params=REQUEST_PARAMS)
    finally:
        platform_app.set_current()
        platform_app.set_default()
    assert mailoutbox == []
    assert "could not queue the email of 1 notification(s)" in caplog.text
    assert "approver@health.example" not in caplog.text
    notification.refresh_from_db()
    assert notification.email_wanted and notification.emailed_at is None
    assert notifications_email_pending() == 1
    assert [mail.to for mail in mailoutbox] == [["approver@health.example"]]
