"""One subject and one body per kind of notification, rendered in the active language.

The templates are gettext strings with ``%(name)s`` placeholders filled from the notification's
parameters. Rendering never fails: a missing parameter shows as "?", a date that is not ISO 8601 is
shown as given, an unknown kind gets a plain title. Free texts (reasons, comments) appear verbatim.
"""

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .models import NotificationKind

MISSING = "?"
#: Parameters that hold a date (ISO 8601, YYYY-MM-DD), shown in the reader's date format.
DATE_PARAMS = frozenset({"due", "valid_until"})

OUTCOMES: dict[str, Promise] = {
    "approved": _("approved"),
    "approved_in_part": _("approved in part"),
    "rejected": _("rejected"),
}

# (subject, body) per kind. deadline_near's subject depends on the days left (see _deadline_subject).
TEMPLATES: dict[str, tuple[Promise, Promise]] = {
    NotificationKind.REQUEST_NEW: (
        _("New access request #%(request)s for %(dataset)s"),
        _("%(consumer)s of %(department)s has filed access request #%(request)s for %(dataset)s.\n\n"
          "Please decide it by %(due)s."),
    ),
    NotificationKind.REQUEST_RETURNED: (
        _("Access request #%(request)s for %(dataset)s was returned for changes"),
        _("Your access request #%(request)s for %(dataset)s was returned for changes.\n\n"
          "The approver's comment:\n%(comment)s\n\n"
          "Please change the request as asked and submit it again."),
    ),
    NotificationKind.REQUEST_RESUBMITTED: (
        _("Access request #%(request)s for %(dataset)s was resubmitted"),
        _("%(consumer)s has changed access request #%(request)s for %(dataset)s and submitted it again.\n\n"
          "Please decide it by %(due)s."),
    ),
    NotificationKind.REQUEST_DECIDED: (
        _("Access request #%(request)s for %(dataset)s: %(outcome)s"),
        _("Your access request #%(request)s for %(dataset)s has been decided: %(outcome)s.\n\n"
          "The approver's reason:\n%(reason)s"),
    ),
    NotificationKind.DEADLINE_NEAR: (
        _("Access request #%(request)s for %(dataset)s is due soon"),
        _("Access request #%(request)s for %(dataset)s is to be decided by %(due)s.\n\n"
          "A request not decided in time is escalated to the data authority."),
    ),
    NotificationKind.REQUEST_ESCALATED: (
        _("Access request #%(request)s for %(dataset)s is overdue and has been escalated"),
        _("%(department)s did not decide access request #%(request)s for %(dataset)s by its deadline, %(due)s.\n\n"
          "The request has been escalated to the data authority."),
    ),
    NotificationKind.REQUEST_ASSIGNED: (
        _("Access request #%(request)s for %(dataset)s has been handed to you"),
        _("Access request #%(request)s for %(dataset)s has been handed to you to decide.\n\n"
          "Please decide it by %(due)s."),
    ),
    NotificationKind.GRANT_EXPIRING: (
        _("Grant #%(grant)s for %(dataset)s expires on %(valid_until)s"),
        _("Grant #%(grant)s for %(dataset)s is valid until %(valid_until)s. After that your system can no "
          "longer read this data.\n\n"
          "If you still need it, file a new access request in good time."),
    ),
    NotificationKind.GRANT_REVOKED: (
        _("Grant #%(grant)s for %(dataset)s has been revoked"),
        _("Grant #%(grant)s for %(dataset)s has been revoked. Your system can no longer read this data.\n\n"
          "The reason given:\n%(reason)s"),
    ),
}


class _Values(dict[str, str]):
    """The parameters as text; a missing one reads "?"."""

    def __missing__(self, key: str) -> str:
        return MISSING


def _date(value: Any) -> str:
    try:
        return date_format(dt.date.fromisoformat(str(value)), "DATE_FORMAT")
    except ValueError:
        return str(value)


def _outcome(value: Any) -> str:
    word = OUTCOMES.get(str(value))
    return str(word) if word is not None else str(value)


def _values(params: Any) -> _Values:
    values = _Values()
    if not isinstance(params, Mapping):
        return values
    for key, value in params.items():
        if value is None:
            continue
        if key in DATE_PARAMS:
            values[str(key)] = _date(value)
        elif key == "outcome":
            values[str(key)] = _outcome(value)
        else:
            values[str(key)] = str(value)
    return values


def _days_left(params: Any) -> int | None:
    value = params.get("days_left") if isinstance(params, Mapping) else None
    if isinstance(value, bool):
        return None
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _deadline_subject(params: Any) -> str:
    days = _days_left(params)
    if days is None:
        return str(TEMPLATES[NotificationKind.DEADLINE_NEAR][0])
    if days < 0:
        return gettext("Access request #%(request)s for %(dataset)s is overdue")
    if days == 0:
        return gettext("Access request #%(request)s for %(dataset)s is due today")
    return ngettext("Access request #%(request)s for %(dataset)s is due in %(days_left)s working day",
                    "Access request #%(request)s for %(dataset)s is due in %(days_left)s working days", days)


def _one_line(text: str) -> str:
    """A subject is one line: an email header must not break, whatever a dataset's title holds."""
    return " ".join(text.split())


def render(kind: str, params: Any) -> tuple[str, str]:
    """(subject, body) of a notification of ``kind`` with ``params``, in the active language."""
    values = _values(params)
    templates = TEMPLATES.get(kind)
    if templates is None:
        return gettext("Notification"), ""
    subject = _deadline_subject(params) if kind == NotificationKind.DEADLINE_NEAR else str(templates[0])
    return _one_line(subject % values), str(templates[1]) % values
