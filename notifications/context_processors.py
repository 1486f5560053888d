"""The number of unread messages, for the inbox link in the admin's header."""

from typing import Any

from django.http import HttpRequest

from .selectors import unread_count


def inbox(request: HttpRequest) -> dict[str, Any]:
    """On admin pages, for a signed-in person: ``notifications_unread`` (one COUNT query). Elsewhere: nothing."""
    if not request.path.startswith("/admin/"):
        return {}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active:
        return {}
    return {"notifications_unread": unread_count(user=user)}
