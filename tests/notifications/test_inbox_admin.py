"""The inbox in the admin: one's own messages only, opening one marks it read and goes to its page, marking all
read, the email settings page, and the unread count in every admin page's header."""

from typing import Any

import pytest
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from notifications.context_processors import inbox
from notifications.models import Notification, NotificationKind, NotificationSettings
from notifications.services import notify

from .conftest import NEW, REQUEST_LINK, REQUEST_PARAMS

pytestmark = pytest.mark.django_db

INBOX = reverse("admin:notifications_notification_changelist")
SETTINGS = reverse("admin:notifications_notification_settings")
MARK_ALL = reverse("admin:notifications_notification_mark_all_read")


def open_url(notification: Notification) -> str:
    return reverse("admin:notifications_notification_open", args=[notification.pk])


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def tell(user: Any, kind: NotificationKind = NEW, link: str = REQUEST_LINK, **params: Any) -> Notification:
    [notification] = notify(recipients=[user], kind=kind, params={**REQUEST_PARAMS, **params}, link=link)
    return notification


def test_the_inbox_lists_only_ones_own_messages_newest_first(health_approver: Any, police_clerk: Any) -> None:
    tell(health_approver, request=1)
    tell(health_approver, request=2)
    tell(police_clerk, request=3)
    response = signed_in(health_approver).get(INBOX)
    assert response.status_code == 200
    page = response.content.decode()
    assert page.index("New access request #2 for") < page.index("New access request #1 for")
    assert "New access request #3 for" not in page
    assert list(response.context["cl"].result_list.values_list("recipient", flat=True)) == [health_approver.pk] * 2
    assert "<strong>New access request #2" in page  # unread stands out
    assert SETTINGS in page and MARK_ALL in page


def test_the_inbox_costs_the_same_queries_however_many_messages_it_shows(health_approver: Any) -> None:
    """Subjects are rendered from each row's own parameters: no query per message."""
    client = signed_in(health_approver)
    counts = []
    for more in (1, 19):  # 1 message shown, then 20
        for i in range(more):
            tell(health_approver, kind=NotificationKind.GRANT_REVOKED if i % 2 else NEW, request=i)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(INBOX).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_inbox_renders_in_the_readers_language(health_approver: Any) -> None:
    tell(health_approver, kind=NotificationKind.GRANT_EXPIRING, grant=7, valid_until="2026-06-30")
    client = signed_in(health_approver)
    assert "June 30, 2026" in client.get(INBOX).content.decode()
    assert "2026年6月30日" in client.get(INBOX, headers={"accept-language": "zh-hans"}).content.decode()


def test_every_member_of_staff_finds_the_inbox_but_cannot_add_change_or_delete(police_clerk: Any) -> None:
    client = signed_in(police_clerk)
    assert INBOX in client.get(reverse("admin:index")).content.decode()
    notification = tell(police_clerk)
    assert client.get(reverse("admin:notifications_notification_add")).status_code == 403
    assert client.get(reverse("admin:notifications_notification_delete", args=[notification.pk])).status_code == 403
    response = client.post(reverse("admin:notifications_notification_change", args=[notification.pk]),
                           {"link": "/admin/elsewhere/"})
    assert response.status_code == 403
    assert Notification.objects.get(pk=notification.pk).link == REQUEST_LINK


def test_opening_marks_read_and_goes_to_the_page_it_is_about(health_approver: Any) -> None:
    notification = tell(health_approver)
    response = signed_in(health_approver).get(open_url(notification))
    assert response.status_code == 302 and response["Location"] == REQUEST_LINK
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_the_detail_page_shows_ones_own_message_and_nobody_elses(health_approver: Any, police_clerk: Any) -> None:
    notification = tell(health_approver, kind=NotificationKind.REQUEST_RETURNED, comment="Name the case, please.")
    detail = reverse("admin:notifications_notification_change", args=[notification.pk])
    response = signed_in(health_approver).get(detail)
    assert response.status_code == 200
    assert "Name the case, please." in response.content.decode()
    assert 'name="_save"' not in response.content.decode()  # nothing to save
    response = signed_in(police_clerk).get(detail, follow=True)
    assert "Name the case, please." not in response.content.decode()


def test_opening_another_persons_message_is_not_found(health_approver: Any, police_clerk: Any) -> None:
    theirs = tell(health_approver)
    assert signed_in(police_clerk).get(open_url(theirs)).status_code == 404
    assert signed_in(police_clerk).get(open_url(theirs).replace(str(theirs.pk), "999999")).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_a_message_without_a_safe_link_opens_the_inbox(health_approver: Any) -> None:
    without = tell(health_approver, link="")
    unsafe = tell(health_approver)
    Notification.objects.filter(pk=unsafe.pk).update(link="//evil.example/")  # a damaged row
    client = signed_in(health_approver)
    for notification in (without, unsafe):
        response = client.get(open_url(notification))
        assert response.status_code == 302 and response["Location"] == INBOX


def test_anonymous_visitors_are_sent_to_sign_in(health_approver: Any) -> None:
    notification = tell(health_approver)
    for url in (INBOX, open_url(notification), SETTINGS):
        response = Client().get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert Notification.objects.get(pk=notification.pk).read_at is None


def test_mark_all_as_read_marks_only_ones_own(health_approver: Any, police_clerk: Any) -> None:
    tell(health_approver)
    tell(health_approver)
    theirs = tell(police_clerk)
    client = signed_in(health_approver)
    assert client.get(MARK_ALL).status_code == 405
    response = client.post(MARK_ALL, follow=True)
    assert response.redirect_chain == [(INBOX, 302)]
    assert "2 messages marked as read." in response.content.decode()
    assert not Notification.objects.filter(recipient=health_approver, read_at=None).exists()
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_mark_selected_as_read(health_approver: Any) -> None:
    first, second = tell(health_approver), tell(health_approver)
    response = signed_in(health_approver).post(INBOX, {"action": "mark_read", "_selected_action": [first.pk]})
    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None and second.read_at is None


def test_the_settings_page_saves_ones_own_choices(health_approver: Any, police_clerk: Any) -> None:
    client = signed_in(health_approver)
    page = client.get(SETTINGS)
    assert page.status_code == 200
    assert all(page.context["form"].initial[f"email_{kind}"] for kind in NotificationKind)  # all on by default
    posted = {"email_language": "zh-hans", "email_request_new": "on", "email_grant_revoked": "on"}
    response = client.post(SETTINGS, posted)
    assert response.status_code == 302 and response["Location"] == SETTINGS
    saved = NotificationSettings.objects.get(user=health_approver)
    assert saved.email_language == "zh-hans"
    assert [kind for kind in NotificationKind if saved.wants_email(kind)] == [NEW, NotificationKind.GRANT_REVOKED]
    assert not NotificationSettings.objects.filter(user=police_clerk).exists()
    again = client.get(SETTINGS).context["form"]
    assert again.initial["email_language"] == "zh-hans" and not again.initial["email_deadline_near"]


def test_the_settings_page_refuses_an_unknown_language(health_approver: Any) -> None:
    response = signed_in(health_approver).post(SETTINGS, {"email_language": "fr"})
    assert response.status_code == 400
    assert not NotificationSettings.objects.exists()


def test_the_header_shows_the_unread_count_on_admin_pages(health_approver: Any) -> None:
    client = signed_in(health_approver)
    page = client.get(reverse("admin:index")).content.decode()
    assert f'<a id="inbox-link" href="{INBOX}">Messages</a>' in page  # no badge when nothing is unread
    tell(health_approver)
    first = tell(health_approver)
    page = client.get(reverse("admin:index")).content.decode()
    assert '<span class="inbox-badge" title="2 unread messages">2</span>' in page
    client.get(open_url(first))
    assert '<span class="inbox-badge" title="1 unread message">1</span>' in client.get(INBOX).content.decode()


def test_the_count_is_one_query_for_signed_in_people_on_admin_pages_only(health_approver: Any,
                                                                         django_assert_num_queries: Any) -> None:
    from django.contrib.auth.models import AnonymousUser

    tell(health_approver)
    request = RequestFactory().get("/admin/")
    request.user = health_approver
    with django_assert_num_queries(1):  # COUNT of the unread
        assert inbox(request) == {"notifications_unread": 1}
    public = RequestFactory().get("/catalog/")
    public.user = health_approver
    request.user = AnonymousUser()
    with django_assert_num_queries(0):
        assert inbox(public) == {}
        assert inbox(request) == {}
