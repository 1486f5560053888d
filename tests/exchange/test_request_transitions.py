"""Every transition of a request (exchange.workflow), for every role: allowed where the policy and the state
machine both allow it, refused otherwise (403 for the wrong person, 409 for the wrong state), and a refusal
changes nothing: no state, no history step, no audit event, no grant."""

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from audit.models import AuditEvent
from catalog.models import Dataset
from core.errors import PlatformError
from exchange.models import AccessRequest, AccessRequestStep, Grant, RequestState
from exchange.services import (
    access_request_approve,
    access_request_file,
    access_request_reject,
    access_request_resubmit,
    access_request_return,
    access_request_submit,
    access_request_withdraw,
)
from exchange.workflow import DECISIONS, TRANSITION_PERMS, RequestWorkflow, transition_target, transitions_for
from registry.models import Department, PlatformRole, PlatformRoleName, Role, System
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

ROLES = ["police_clerk", "police_admin", "police_approver", "health_clerk", "health_approver", "health_admin",
         "auditor", "authority", "operator", "root"]
REQUESTERS = {"police_clerk", "police_admin", "root"}  # the consumer department's clerks (and admins)
DECIDERS = {"health_approver"}  # the providing department's approvers; nobody else, superusers included

ALLOWED: dict[str, set[str]] = {
    "submit": REQUESTERS, "resubmit": REQUESTERS, "withdraw": REQUESTERS,
    "return_for_changes": DECIDERS, "approve": DECIDERS, "approve_in_part": DECIDERS, "reject": DECIDERS,
}

Make = Callable[[AccessRequest, Any], Any]
MAKE: dict[str, Make] = {
    "submit": lambda r, u: access_request_submit(access_request=r, actor=u),
    "resubmit": lambda r, u: access_request_resubmit(access_request=r, actor=u),
    "withdraw": lambda r, u: access_request_withdraw(access_request=r, actor=u),
    "return_for_changes": lambda r, u: access_request_return(access_request=r, approver=u,
                                                             comment="Name the case the data is for."),
    "approve": lambda r, u: access_request_approve(access_request=r, approver=u, reason="Proportionate."),
    "approve_in_part": lambda r, u: access_request_approve(access_request=r, approver=u, fields=["vaccine"],
                                                           reason="The dose dates are not needed."),
    "reject": lambda r, u: access_request_reject(access_request=r, approver=u, reason_code="no_legal_basis",
                                                 legal_basis="Data Security Law art. 38",
                                                 explanation="No duty of the department needs it."),
}
SOURCE = {"submit": "draft", "resubmit": "returned", "withdraw": "submitted", "return_for_changes": "submitted",
          "approve": "resubmitted", "approve_in_part": "submitted", "reject": "resubmitted"}


@pytest.fixture
def people(police: Department, health: Department, police_clerk: Any, health_clerk: Any, health_approver: Any,
           auditor: Any, root: Any, authority: Any) -> dict[str, Any]:
    operator = make_user("operator", None)
    PlatformRole.objects.create(user=operator, role=PlatformRoleName.OPERATOR)
    return {"police_clerk": police_clerk, "police_admin": make_user("police-admin", police, Role.ADMIN),
            "police_approver": make_user("police-approver", police, Role.APPROVER), "health_clerk": health_clerk,
            "health_approver": health_approver, "health_admin": make_user("health-admin", health, Role.ADMIN),
            "auditor": auditor, "authority": authority, "operator": operator, "root": root}


@pytest.fixture
def request_in(people: dict[str, Any], police_system: System, vaccinations: Dataset) -> Callable[[str], AccessRequest]:
    """A request brought to ``state`` through the services, as the people whose work it is."""
    clerk, approver = people["police_clerk"], people["health_approver"]

    def bring(state: str) -> AccessRequest:
        request = access_request_file(consumer=police_system, dataset=vaccinations, fields=["vaccine", "dose_date"],
                                      purpose_code="law-enforcement.investigation", purpose="Checking an alibi",
                                      legal_basis="Criminal Procedure Law art. 54", actor=clerk, submit=False)
        path = {"draft": [], "submitted": ["submit"], "returned": ["submit", "return_for_changes"],
                "resubmitted": ["submit", "return_for_changes", "resubmit"],
                "approved": ["submit", "approve"], "approved_in_part": ["submit", "approve_in_part"],
                "rejected": ["submit", "reject"], "withdrawn": ["withdraw"]}[state]
        for transition in path:
            MAKE[transition](request, approver if transition in DECISIONS else clerk)
            request.refresh_from_db()
        assert request.state == state
        return request

    return bring


def snapshot(request: AccessRequest) -> tuple[Any, ...]:
    request.refresh_from_db()
    return (request.state, request.due_date, request.decided_by_id, AccessRequestStep.objects.count(),
            AuditEvent.objects.exclude(object_type="user").count(), Grant.objects.count())


def assert_refused(transition: str, request: AccessRequest, actor: Any, status: int, code: str) -> None:
    before = snapshot(request)
    with pytest.raises(PlatformError) as caught:
        MAKE[transition](request, actor)
    assert (caught.value.status, caught.value.code) == (status, code)
    assert caught.value.message
    assert snapshot(request) == before


def test_every_transition_of_the_state_machine_names_the_permission_it_needs() -> None:
    assert {event.id for event in RequestWorkflow(start_value="draft").events} == set(TRANSITION_PERMS)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("transition", list(ALLOWED))
def test_each_role_may_make_exactly_its_transitions(transition: str, role: str, people: dict[str, Any],
                                                    request_in: Callable[[str], AccessRequest]) -> None:
    request = request_in(SOURCE[transition])
    actor = people[role]
    if role in ALLOWED[transition]:
        before_steps = AccessRequestStep.objects.count()
        MAKE[transition](request, actor)
        request.refresh_from_db()
        assert request.state == transition_target(SOURCE[transition], transition)
        step = AccessRequestStep.objects.order_by("pk").last()
        assert AccessRequestStep.objects.count() == before_steps + 1
        assert step is not None and (step.action, step.from_state, step.to_state, step.actor) == (
            transition, SOURCE[transition], request.state, actor)
        assert transition not in transitions_for(actor, request)  # a transition is made once
    else:
        assert transition not in transitions_for(actor, request)
        assert_refused(transition, request, actor, 403, "forbidden")


STATES = [state.value for state in RequestState]
NOT_FROM = [(transition, state) for transition in ALLOWED for state in STATES
            if transition_target(state, transition) is None]


@pytest.mark.parametrize(("transition", "state"), NOT_FROM)
def test_a_transition_the_state_machine_does_not_allow_is_refused_with_409(
        transition: str, state: str, people: dict[str, Any], request_in: Callable[[str], AccessRequest]) -> None:
    request = request_in(state)
    actor = people["health_approver" if transition in DECISIONS else "police_clerk"]
    assert_refused(transition, request, actor, 409, "transition_not_allowed")


def test_the_allowed_transitions_are_those_drawn_in_the_workflow() -> None:
    drawn = {state: sorted(name for name in ALLOWED if transition_target(state, name)) for state in STATES}
    assert drawn == {
        "draft": ["submit", "withdraw"],
        "submitted": ["approve", "approve_in_part", "reject", "return_for_changes", "withdraw"],
        "returned": ["resubmit", "withdraw"],
        "resubmitted": ["approve", "approve_in_part", "reject", "return_for_changes", "withdraw"],
        "approved": [], "approved_in_part": [], "rejected": [], "withdrawn": [],
    }


@pytest.mark.parametrize("transition", ["return_for_changes", "approve", "approve_in_part", "reject"])
def test_the_data_authority_decides_an_escalated_request(transition: str, people: dict[str, Any],
                                                         request_in: Callable[[str], AccessRequest]) -> None:
    request = request_in("submitted")
    assert_refused(transition, request, people["authority"], 403, "forbidden")  # not before it is escalated
    AccessRequest.objects.filter(pk=request.pk).update(escalated_at=timezone.now())
    request.refresh_from_db()
    assert transition in transitions_for(people["authority"], request)
    MAKE[transition](request, people["authority"])
    request.refresh_from_db()
    assert request.state == transition_target("submitted", transition)
    assert AccessRequestStep.objects.order_by("pk").last().actor == people["authority"]  # type: ignore[union-attr]


def test_an_escalated_request_is_still_not_the_operators_or_an_auditors(
        people: dict[str, Any], request_in: Callable[[str], AccessRequest]) -> None:
    request = request_in("submitted")
    AccessRequest.objects.filter(pk=request.pk).update(escalated_at=timezone.now())
    request.refresh_from_db()
    for role in ("operator", "auditor", "health_clerk", "police_approver", "root"):
        assert_refused("approve", request, people[role], 403, "forbidden")


def test_a_deactivated_person_may_make_no_transition(people: dict[str, Any],
                                                     request_in: Callable[[str], AccessRequest]) -> None:
    request = request_in("submitted")
    get_user_model().objects.filter(pk=people["health_approver"].pk).update(is_active=False)
    approver = get_user_model().objects.get(pk=people["health_approver"].pk)
    assert_refused("approve", request, approver, 403, "forbidden")
    assert transitions_for(approver, request) == []
