"""Shared helpers of the notification tests: people with email addresses, Celery run in-process."""

from typing import Any

from notifications.models import NotificationKind

#: What the lead's exchange passes for a new request (plain values; the date in ISO 8601).
REQUEST_PARAMS: dict[str, str | int] = {
    "request": 12, "dataset": "儿童疫苗接种记录", "consumer": "Police records system",
    "department": "Public Security Bureau", "due": "2026-05-12"}
REQUEST_LINK = "/admin/exchange/accessrequest/12/change/"
NEW = NotificationKind.REQUEST_NEW


def with_email(user: Any, address: str) -> Any:
    user.email = address
    user.save(update_fields=["email"])
    return user
