"""The admin's home page: "Requests waiting for you" for those who decide (how many wait, are due within two
working days, are overdue) and their department's requests by state for clerks, each a link to the list
filtered to exactly those requests; counted with a few COUNT queries, not a loop over the rows."""

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import Dataset
from core.workdays import today as workdays_today
from core.workdays import working_day_add
from exchange.models import AccessRequest
from exchange.selectors import RequestInbox, request_inbox
from exchange.services import access_request_approve, access_request_file, access_request_return
from registry.models import Role, System
from registry.policy import forget_roles
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

HOME = reverse("admin:index")


def as_user(user: Any) -> Client:
    http = Client()
    http.force_login(user)
    return http


def file(actor: Any, consumer: System, dataset: Dataset, **overrides: Any) -> AccessRequest:
    return access_request_file(consumer=consumer, dataset=dataset, fields=["vaccine"], actor=actor,
                               purpose_code="law-enforcement.investigation", purpose="Checking an alibi",
                               legal_basis="Criminal Procedure Law art. 54", **overrides)


@pytest.fixture
def requests(police_clerk: Any, police_system: System, vaccinations: Dataset,
             health_approver: Any) -> dict[str, AccessRequest]:
    """Five waiting requests (one due today, one due in two working days, two overdue, one later), an approved
    one, a returned one and a draft."""
    today = workdays_today()
    made = {name: file(police_clerk, police_system, vaccinations, case_reference=name)
            for name in ("today", "in-two", "overdue", "long-overdue", "later", "approved", "returned")}
    for name, due in [("today", today), ("in-two", working_day_add(today, 2)),
                      ("overdue", today - dt.timedelta(days=1)), ("long-overdue", today - dt.timedelta(days=20)),
                      ("later", working_day_add(today, 3))]:
        AccessRequest.objects.filter(pk=made[name].pk).update(due_date=due)
    access_request_approve(access_request=made["approved"], approver=health_approver)
    access_request_return(access_request=made["returned"], approver=health_approver, comment="Which case?")
    made["draft"] = file(police_clerk, police_system, vaccinations, case_reference="draft", submit=False)
    return made


def panel(user: Any) -> str:
    html = as_user(user).get(HOME).content.decode()
    if 'id="request-inbox"' not in html:
        return ""
    start = html.index('id="request-inbox"')
    return html[start:html.index("</div>", start)]


def listed(user: Any, link: str) -> list[str]:
    return sorted(r.case_reference for r in as_user(user).get(link).context["cl"].result_list)


def test_an_approver_sees_how_many_wait_are_due_soon_and_are_overdue(health_approver: Any,
                                                                     requests: dict[str, AccessRequest]) -> None:
    assert request_inbox(user=health_approver) == RequestInbox(waiting=5, due_soon=2, overdue=2)
    html = panel(health_approver)
    assert "Requests waiting for you" in html and "Your department" not in html
    for label, count in [("Waiting for your decision", 5), ("Due within 2 working days", 2), ("Overdue", 2)]:
        row = html[html.index(label):]
        assert f'<td class="count">{count}</td>' in row[:row.index("</tr>")], label


def test_each_count_links_to_the_list_of_exactly_those_requests(health_approver: Any,
                                                                requests: dict[str, AccessRequest]) -> None:
    changelist = reverse("admin:exchange_accessrequest_changelist")
    assert listed(health_approver, f"{changelist}?inbox=mine") == [
        "in-two", "later", "long-overdue", "overdue", "today"]
    assert listed(health_approver, f"{changelist}?inbox=mine&deadline=soon") == ["in-two", "today"]
    assert listed(health_approver, f"{changelist}?inbox=mine&deadline=overdue") == ["long-overdue", "overdue"]
    html = panel(health_approver)
    for link in ("?inbox=mine", "?inbox=mine&amp;deadline=soon", "?inbox=mine&amp;deadline=overdue"):
        assert f'href="{changelist}{link}"' in html


def test_the_data_authority_sees_the_escalated_requests(authority: Any,
                                                        requests: dict[str, AccessRequest]) -> None:
    assert request_inbox(user=authority) == RequestInbox(waiting=0, due_soon=0, overdue=0)
    AccessRequest.objects.filter(pk=requests["long-overdue"].pk).update(escalated_at=dt.datetime.now(dt.UTC))
    assert request_inbox(user=authority) == RequestInbox(waiting=1, due_soon=0, overdue=1)
    assert "Requests waiting for you" in panel(authority)


def test_a_clerk_sees_their_departments_requests_by_state(police_clerk: Any,
                                                          requests: dict[str, AccessRequest]) -> None:
    assert request_inbox(user=police_clerk) == RequestInbox(drafts=1, returned=1, filed_waiting=5)
    html = panel(police_clerk)
    assert "Your department's requests" in html and "Requests waiting for you" not in html
    changelist = reverse("admin:exchange_accessrequest_changelist")
    assert listed(police_clerk, f"{changelist}?side=filed&state=draft") == ["draft"]
    assert listed(police_clerk, f"{changelist}?side=filed&state=returned") == ["returned"]
    assert len(listed(police_clerk, f"{changelist}?side=filed&deadline=running")) == 5


def test_the_providers_clerk_counts_only_requests_filed_by_their_department(
        health_clerk: Any, requests: dict[str, AccessRequest]) -> None:
    assert request_inbox(user=health_clerk) == RequestInbox(drafts=0, returned=0, filed_waiting=0)


def test_nobody_decides_their_own_request_so_it_does_not_wait_for_them(
        police: Any, health: Any, police_system: System, vaccinations: Dataset) -> None:
    from registry.models import Membership

    both = make_user("two-hats", police, Role.CLERK)
    Membership.objects.create(user=both, department=health, role=Role.APPROVER)
    file(both, police_system, vaccinations)
    inbox = request_inbox(user=both)
    assert (inbox.waiting, inbox.filed_waiting) == (0, 1)


def test_the_auditor_has_no_panel(auditor: Any, requests: dict[str, AccessRequest]) -> None:
    assert request_inbox(user=auditor) == RequestInbox()
    assert panel(auditor) == ""


def test_an_apps_own_page_has_no_panel(health_approver: Any, requests: dict[str, AccessRequest]) -> None:
    html = as_user(health_approver).get(reverse("admin:app_list", args=["exchange"])).content.decode()
    assert 'id="request-inbox"' not in html


def test_the_counts_cost_one_query_a_side_however_many_requests_wait(
        health_approver: Any, police_clerk: Any, requests: dict[str, AccessRequest],
        django_assert_num_queries: Any, police_system: System, vaccinations: Dataset) -> None:
    forget_roles(health_approver)  # no roles remembered
    # Expect 3 queries: the person's department roles, their platform roles, the counts
    with django_assert_num_queries(3):
        request_inbox(user=health_approver)
    for _ in range(5):
        file(police_clerk, police_system, vaccinations)
    forget_roles(health_approver)
    with django_assert_num_queries(3):
        assert request_inbox(user=health_approver).waiting == 10
