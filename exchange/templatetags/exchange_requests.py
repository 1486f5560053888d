"""Template helpers for access requests in the admin: a request's deadline as people read it, and the counts of
the home page's "Requests waiting for you" panel (``{% request_inbox as inbox %}``)."""

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import template
from django.conf import settings
from django.urls import reverse
from django.utils import formats
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.workdays import today as workdays_today
from core.workdays import working_days_between

from ..models import WAITING_STATES, AccessRequest, RequestState
from ..selectors import RequestInbox, request_inbox

register = template.Library()


@dataclass(frozen=True)
class Deadline:
    """A waiting request's deadline as the admin shows it: the date, how far off it is, and how urgent."""

    date: dt.date | None
    #: "overdue" (red), "soon" (amber: today or within REQUEST_REMIND_WORKING_DAYS working days), "ok", or ""
    #: when no clock runs (a draft, a returned request, a decided one).
    kind: str
    text: str

    def html(self) -> SafeString:
        if self.date is None:
            return format_html("{}", self.text or "-")
        return format_html('<span class="deadline deadline--{}"><span class="deadline__date">{}</span> '
                           '<span class="deadline__when">{}</span></span>',
                           self.kind or "none", formats.date_format(self.date, "DATE_FORMAT"), self.text)


def deadline_of(access_request: AccessRequest, *, today: dt.date | None = None) -> Deadline:
    """The deadline of a request whose clock runs (submitted or resubmitted): overdue, due today, or due in N
    working days. Others have none to keep: a returned request's clock stops, a decided one's is over."""
    due = access_request.due_date
    if access_request.state not in WAITING_STATES or due is None:
        if access_request.state == RequestState.RETURNED:
            return Deadline(None, "", _("stopped while the request is returned"))
        return Deadline(None, "", "")
    today = today or workdays_today()
    if due < today:
        late = working_days_between(due, today)
        text = (ngettext("overdue by %(days)d working day", "overdue by %(days)d working days", late)
                % {"days": late}) if late > 0 else _("overdue")
        return Deadline(due, "overdue", text)
    if due == today:
        return Deadline(due, "soon", _("due today"))
    left = working_days_between(today, due)
    text = ngettext("due in %(days)d working day", "due in %(days)d working days", left) % {"days": left}
    return Deadline(due, "soon" if left <= settings.REQUEST_REMIND_WORKING_DAYS else "ok", text)


@register.filter
def deadline(access_request: AccessRequest) -> SafeString:
    """``{{ access_request|deadline }}``: the date and how far off it is, coloured when due soon or overdue."""
    return deadline_of(access_request).html()


@dataclass(frozen=True)
class InboxLine:
    label: str
    count: int
    url: str
    kind: str = ""


def _list_url(**params: str) -> str:
    return reverse("admin:exchange_accessrequest_changelist") + "?" + urlencode(params)


def inbox_lines(inbox: RequestInbox) -> dict[str, list[InboxLine]]:
    """The panel's lines, each a count and a link to the list filtered to those requests."""
    lines: dict[str, list[InboxLine]] = {"deciding": [], "filing": []}
    if inbox.decides:
        lines["deciding"] = [
            InboxLine(_("waiting for your decision"), inbox.waiting or 0, _list_url(inbox="mine")),
            InboxLine(ngettext("due within %(days)d working day", "due within %(days)d working days",
                               settings.REQUEST_REMIND_WORKING_DAYS) % {"days": settings.REQUEST_REMIND_WORKING_DAYS},
                      inbox.due_soon or 0, _list_url(inbox="mine", deadline="soon"), "soon"),
            InboxLine(_("overdue"), inbox.overdue or 0, _list_url(inbox="mine", deadline="overdue"), "overdue"),
        ]
    if inbox.files:
        lines["filing"] = [
            InboxLine(_("drafts"), inbox.drafts or 0, _list_url(side="filed", state=RequestState.DRAFT.value)),
            InboxLine(_("returned to you for changes"), inbox.returned or 0,
                      _list_url(side="filed", state=RequestState.RETURNED.value), "soon" if inbox.returned else ""),
            InboxLine(_("waiting for the providing department"), inbox.filed_waiting or 0,
                      _list_url(side="filed", deadline="running")),
        ]
    return lines


@register.simple_tag(takes_context=True)
def request_inbox_panel(context: dict[str, Any]) -> dict[str, list[InboxLine]]:
    """``{% request_inbox_panel as inbox %}``: the lines of the home page's requests panel for the signed-in
    person (a few COUNT queries); empty lists for someone who neither decides nor files requests."""
    return inbox_lines(request_inbox(user=context["request"].user))
