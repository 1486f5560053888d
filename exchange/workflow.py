"""An access request's states and transitions, in one place (python-statemachine), and who may make each.

::

    draft ──submit──▶ submitted ──approve / approve_in_part / reject──▶ approved | approved_in_part | rejected
      │                  │  ▲
      │        return_for_changes  (the clock stops)
      │                  ▼  │
      │               returned ──resubmit──▶ resubmitted (the clock starts again; decided like submitted)
      │
      ├──subscribe──▶ approved             (unconditional sharing: granted at once, 无条件共享)
      ├──answer_not_shared──▶ rejected     (not shared: answered at once with the legal basis, 不予共享)
      └── withdraw (from draft, submitted, returned, resubmitted) ──▶ withdrawn

Who may make each transition is a permission of the policy (``registry.policy``): ``TRANSITION_PERMS``.
The services in ``exchange.services`` make the transitions; nothing else sets ``AccessRequest.state``.
"""

from typing import Any

from statemachine import State, StateMachine
from statemachine.exceptions import TransitionNotAllowed

from registry.policy import Perm, allows

from .models import AccessRequest, RequestState


class RequestWorkflow(StateMachine):
    draft = State(initial=True, value=RequestState.DRAFT.value)
    submitted = State(value=RequestState.SUBMITTED.value)
    returned = State(value=RequestState.RETURNED.value)
    resubmitted = State(value=RequestState.RESUBMITTED.value)
    approved = State(final=True, value=RequestState.APPROVED.value)
    approved_in_part = State(final=True, value=RequestState.APPROVED_IN_PART.value)
    rejected = State(final=True, value=RequestState.REJECTED.value)
    withdrawn = State(final=True, value=RequestState.WITHDRAWN.value)

    submit = draft.to(submitted)
    subscribe = draft.to(approved)
    answer_not_shared = draft.to(rejected)
    return_for_changes = submitted.to(returned) | resubmitted.to(returned)
    resubmit = returned.to(resubmitted)
    approve = submitted.to(approved) | resubmitted.to(approved)
    approve_in_part = submitted.to(approved_in_part) | resubmitted.to(approved_in_part)
    reject = submitted.to(rejected) | resubmitted.to(rejected)
    withdraw = draft.to(withdrawn) | submitted.to(withdrawn) | returned.to(withdrawn) | resubmitted.to(withdrawn)


#: The permission each transition needs on the request. The requesting department's clerks move their
#: request; the providing department's approvers decide it (and the data authority, once it is escalated).
TRANSITION_PERMS: dict[str, Perm] = {
    "submit": Perm.REQUEST_FILE,
    "subscribe": Perm.REQUEST_FILE,
    "answer_not_shared": Perm.REQUEST_FILE,
    "resubmit": Perm.REQUEST_FILE,
    "withdraw": Perm.REQUEST_FILE,
    "return_for_changes": Perm.REQUEST_DECIDE,
    "approve": Perm.REQUEST_DECIDE,
    "approve_in_part": Perm.REQUEST_DECIDE,
    "reject": Perm.REQUEST_DECIDE,
}
DECISIONS = ("return_for_changes", "approve", "approve_in_part", "reject")


def transitions_from(state: str) -> list[str]:
    """The transitions the state machine allows from ``state`` (whoever asks)."""
    machine = RequestWorkflow(start_value=state)
    return [event.id for event in machine.allowed_events]


def transition_target(state: str, transition: str) -> str | None:
    """The state ``transition`` leads to from ``state``, or None when the machine does not allow it."""
    holder: Any = type("Holder", (), {"state": state})()
    machine = RequestWorkflow(model=holder, state_field="state")
    try:
        machine.send(transition)
    except TransitionNotAllowed:
        return None
    return str(holder.state)


def may_transition(user: Any, transition: str, access_request: AccessRequest) -> bool:
    """Whether the policy lets ``user`` make ``transition`` on this request (whatever its state). A decision on
    an escalated request is also the data authority's."""
    perm = TRANSITION_PERMS[transition]
    if allows(user, perm, access_request):
        return True
    return (perm is Perm.REQUEST_DECIDE and access_request.escalated_at is not None
            and allows(user, Perm.REQUEST_DECIDE_ESCALATED))


def transitions_for(user: Any, access_request: AccessRequest) -> list[str]:
    """The transitions ``user`` may make on the request now: allowed by the state machine and by the policy.
    (The platform's own answers, subscribe and answer_not_shared, happen only through submitting.)"""
    own = access_request.filed_by_id == getattr(user, "pk", None)  # nobody decides what they filed
    return [name for name in transitions_from(access_request.state)
            if name not in ("subscribe", "answer_not_shared") and not (own and name in DECISIONS)
            and may_transition(user, name, access_request)]
