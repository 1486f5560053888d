"""Shared helpers of the notification tests: people with email addresses, Celery run in-process."""

from collections.abc import Iterator
from typing import Any

import pytest

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


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Celery runs tasks in-process, as in the embedded default, also when REDIS_URL names a broker."""
    from govplatform.celery_app import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = before
