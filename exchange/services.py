"""Writes for the exchange: access requests through their states, the request clock, grants, the signed read.

Each checks its actor and records its audit event inside its own transaction. Refusals on the
record API are audited too, in a transaction of their own, before the refusal leaves.
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from statemachine.exceptions import TransitionNotAllowed

from audit.events import EventType
from audit.services import Actor, change_detail, event_record
from catalog.models import Dataset, DatasetStatus, MaskRule, Tier, mask_rule_problem
from catalog.signals import VersionChange
from core.errors import ErrorCode, PlatformError, validation_error
from core.workdays import today as workdays_today
from core.workdays import working_day_add, working_day_latest, working_days_between
from notifications.models import NotificationKind
from notifications.services import notify
from registry.models import PlatformRoleName, Role, System
from registry.policy import CLERKS, Perm, allows, require
from registry.selectors import people_holding

from .models import (
    EDITABLE_STATES,
    MAX_DAILY_VOLUME,
    MAX_GRANT_DAYS,
    WAITING_STATES,
    AccessRequest,
    AccessRequestStep,
    Grant,
    GrantState,
    Purpose,
    RejectionReason,
    RequestState,
    purpose_code_validator,
)
from .selectors import due_soon_q
from .terms import stricter
from .workflow import DECISIONS, RequestWorkflow, may_transition


def _field_names_check(dataset: Dataset, names: list[str]) -> None:
    known = {f.name for f in dataset.fields.all()}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise PlatformError(ErrorCode.UNKNOWN_FIELD, _("%(dataset)s has no field(s) %(unknown)s; its fields are "
                                                       "%(known)s.") % {
            "dataset": dataset.identifier, "unknown": ", ".join(unknown), "known": ", ".join(sorted(known))})


@dataclass
class RequestTerms:
    """What a request asks for; checked the same way when it is drawn up, changed and submitted."""

    fields: list[str]
    purpose_code: str
    purpose: str
    legal_basis: str
    case_reference: str = ""
    duration_days: int = 365
    expected_daily_volume: int = 100

    def check(self, dataset: Dataset) -> None:
        self.fields = list(dict.fromkeys(self.fields))
        if not self.fields:
            raise PlatformError(ErrorCode.NO_FIELDS)
        _field_names_check(dataset, self.fields)
        try:
            purpose_code_validator(self.purpose_code)
        except ValidationError as exc:
            raise validation_error(exc, code=ErrorCode.BAD_PURPOSE_CODE) from exc
        if not Purpose.objects.filter(code=self.purpose_code, active=True).exists():
            raise PlatformError(ErrorCode.UNKNOWN_PURPOSE, _("'%(code)s' is not an active purpose of the platform's "
                                                             "list; choose one from the list.")
                                % {"code": self.purpose_code})
        if not self.purpose.strip() or not self.legal_basis.strip():
            raise PlatformError(ErrorCode.PURPOSE_REQUIRED)
        if not 1 <= self.duration_days <= MAX_GRANT_DAYS:
            raise PlatformError(ErrorCode.BAD_DURATION, _("The duration is 1 to %(max)d days.") % {
                "max": MAX_GRANT_DAYS})
        if not 1 <= self.expected_daily_volume <= MAX_DAILY_VOLUME:
            raise PlatformError(ErrorCode.BAD_VOLUME, _("The expected daily volume is 1 to %(max)d records.") % {
                "max": MAX_DAILY_VOLUME})

    def values(self) -> dict[str, Any]:
        return {"fields": self.fields, "purpose_code": self.purpose_code, "purpose": self.purpose,
                "legal_basis": self.legal_basis, "case_reference": self.case_reference,
                "duration_days": self.duration_days, "expected_daily_volume": self.expected_daily_volume}


def _request_link(access_request: AccessRequest) -> str:
    return reverse("admin:exchange_accessrequest_change", args=[access_request.pk])


def _grant_link(grant: Grant) -> str:
    return reverse("admin:exchange_grant_change", args=[grant.pk])


def _approvers(access_request: AccessRequest) -> list[Any]:
    """Who answers for the providing department: its approvers, and the approver the request was handed to."""
    people = list(people_holding(department=access_request.dataset.owner, roles=[Role.APPROVER]))
    if access_request.assignee is not None and access_request.assignee not in people:
        people.append(access_request.assignee)
    return people


def _requesters(access_request: AccessRequest) -> list[Any]:
    """Who is told of the answer: the clerk who filed the request, and the consumer department's clerks."""
    return [access_request.filed_by, *people_holding(department=access_request.consumer.department, roles=CLERKS)]


def _request_params(access_request: AccessRequest, **extra: str | int) -> dict[str, str | int]:
    params: dict[str, str | int] = {
        "request": access_request.pk, "dataset": access_request.dataset.title,
        "consumer": access_request.consumer.name, "department": access_request.consumer.department.name}
    if access_request.due_date is not None:
        params["due"] = access_request.due_date.isoformat()
    return {**params, **extra}


_REQUESTER_VERBS: dict[str, Promise] = {
    "submit": gettext_lazy("submit"), "subscribe": gettext_lazy("submit"),
    "answer_not_shared": gettext_lazy("submit"), "resubmit": gettext_lazy("resubmit"),
    "withdraw": gettext_lazy("withdraw"),
}


def _require_transition(actor: Any, transition: str, access_request: AccessRequest) -> None:
    """The policy's answer for this transition (before the request is locked and its state checked)."""
    if may_transition(actor, transition, access_request):
        if transition in DECISIONS and access_request.filed_by_id == actor.pk:
            raise PlatformError(ErrorCode.OWN_REQUEST)
        return
    if transition in DECISIONS:
        raise PlatformError(ErrorCode.FORBIDDEN, _("Only approvers of %(department)s may decide requests for "
                                                   "%(dataset)s.") % {
            "department": access_request.dataset.owner, "dataset": access_request.dataset.identifier})
    raise PlatformError(ErrorCode.FORBIDDEN, _("Only clerks of %(department)s may %(verb)s requests for "
                                               "%(system)s.") % {
        "department": access_request.consumer.department, "verb": _REQUESTER_VERBS[transition],
        "system": access_request.consumer.code})


def _locked(access_request: AccessRequest) -> AccessRequest:
    return (AccessRequest.objects.select_for_update(of=("self",))
            .select_related("consumer__department", "dataset__owner", "filed_by", "renews")
            .get(pk=access_request.pk))


def _step(access_request: AccessRequest, transition: str, *, actor: Any, comment: str = "",
          detail: dict[str, Any] | None = None) -> str:
    """Move the locked request along ``transition`` (the state machine refuses what it does not allow), and
    write the step into its history. Returns the state it left."""
    before = access_request.state
    try:
        RequestWorkflow(model=access_request, state_field="state").send(transition)
    except TransitionNotAllowed as exc:
        raise PlatformError(ErrorCode.TRANSITION_NOT_ALLOWED, _(
            "Request #%(request)s is %(state)s; that cannot be done now.") % {
            "request": access_request.pk, "state": RequestState(before).label}) from exc
    AccessRequestStep.objects.create(access_request=access_request, action=transition, from_state=before,
                                     to_state=access_request.state, actor=actor, comment=comment,
                                     detail=detail or {})
    return before


def _clock_start(access_request: AccessRequest, now: dt.datetime) -> None:
    """The deadline: REQUEST_DEADLINE_WORKING_DAYS working days after the day it was (re)submitted."""
    access_request.submitted_at = now
    access_request.due_date = working_day_add(timezone.localdate(now), settings.REQUEST_DEADLINE_WORKING_DAYS)
    access_request.reminded_soon_at = access_request.reminded_due_at = access_request.escalated_at = None
    access_request.assignee = None


_CLOCK_FIELDS = ["submitted_at", "due_date", "reminded_soon_at", "reminded_due_at", "escalated_at", "assignee"]


def access_request_file(
    *,
    consumer: System,
    dataset: Dataset,
    fields: Iterable[str],
    purpose_code: str,
    purpose: str,
    legal_basis: str,
    actor: Any,
    case_reference: str = "",
    duration_days: int = 365,
    expected_daily_volume: int = 100,
    renews: Grant | None = None,
    submit: bool = True,
) -> AccessRequest:
    """A clerk draws up a request, for one of their department's systems, to read fields of a dataset, and
    (unless ``submit`` is False: a draft) submits it (``access_request_submit``)."""
    require(actor, Perm.REQUEST_FILE, AccessRequest(consumer=consumer, dataset=dataset),
            _("Only clerks of %(department)s may file requests for %(system)s.")
            % {"department": consumer.department, "system": consumer.code})
    if not consumer.active:
        raise PlatformError(ErrorCode.CONSUMER_INACTIVE, _("%(system)s is deactivated.") % {"system": consumer.code})
    _dataset_requestable(dataset)
    terms = RequestTerms(list(fields), purpose_code, purpose, legal_basis, case_reference, duration_days,
                         expected_daily_volume)
    terms.check(dataset)
    with transaction.atomic():
        if renews is not None:  # read afresh, under a lock: one renewal at a time
            renews = Grant.objects.select_for_update(of=("self",)).get(pk=renews.pk)
            _renewal_check(renews, consumer=consumer, dataset=dataset)
        request = AccessRequest.objects.create(consumer=consumer, dataset=dataset, filed_by=actor, renews=renews,
                                               **terms.values())
        event_record(actor=Actor.for_user(actor), action=EventType.ACCESS_REQUEST_FILED,
                     object_id=str(request.pk), purpose=purpose_code,
                     detail={"consumer": consumer.code, "dataset": dataset.identifier, "fields": terms.fields,
                             "duration_days": duration_days, "daily_volume": expected_daily_volume,
                             "renews": renews.pk if renews else None})
        if submit:
            _submit(request, actor=actor)
    return request


def _dataset_requestable(dataset: Dataset) -> None:
    if dataset.status != DatasetStatus.PUBLISHED:
        raise PlatformError(ErrorCode.NOT_PUBLISHED, _("%(dataset)s is not published.") % {
            "dataset": dataset.identifier})
    if dataset.tier == Tier.OPEN:
        raise PlatformError(ErrorCode.OPEN_DATASET, _("%(dataset)s is open data; it needs no request.") % {
            "dataset": dataset.identifier})


def access_request_update(*, access_request: AccessRequest, actor: Any, fields: Iterable[str], purpose_code: str,
                          purpose: str, legal_basis: str, case_reference: str = "", duration_days: int = 365,
                          expected_daily_volume: int = 100) -> AccessRequest:
    """The requesting department changes its draft, or a request returned for changes (then resubmits it)."""
    require(actor, Perm.REQUEST_FILE, access_request, _("Only clerks of %(department)s may change requests for "
                                                        "%(system)s.") % {
        "department": access_request.consumer.department, "system": access_request.consumer.code})
    terms = RequestTerms(list(fields), purpose_code, purpose, legal_basis, case_reference, duration_days,
                         expected_daily_volume)
    terms.check(access_request.dataset)
    with transaction.atomic():
        request = _locked(access_request)
        if request.state not in EDITABLE_STATES:
            raise PlatformError(ErrorCode.TRANSITION_NOT_ALLOWED, _(
                "Request #%(request)s is %(state)s; only a draft or a returned request can be changed.") % {
                "request": request.pk, "state": request.get_state_display()})
        old = {name: getattr(request, name) for name in terms.values()}
        for name, value in terms.values().items():
            setattr(request, name, value)
        request.save(update_fields=list(terms.values()))
        detail = change_detail(old, terms.values())
        if detail["changed"]:
            event_record(actor=Actor.for_user(actor), action=EventType.ACCESS_REQUEST_UPDATED,
                         object_id=str(request.pk), purpose=request.purpose_code, detail=detail)
    return request


def access_request_submit(*, access_request: AccessRequest, actor: Any) -> AccessRequest:
    """Submit a draft. By the dataset's tier: conditional sharing waits for the providing department on a
    working-day clock; unconditional sharing is granted at once (a subscription, 无条件共享); a dataset that is
    not shared answers at once with its legal basis and the request is kept as unmet demand (共享需求)."""
    _require_transition(actor, "submit", access_request)
    with transaction.atomic():
        request = _locked(access_request)
        _submit(request, actor=actor)
    return request


def _submit(request: AccessRequest, *, actor: Any) -> None:
    dataset, now = request.dataset, timezone.now()
    if request.state != RequestState.DRAFT:
        _step(request, "submit", actor=actor)  # refused by the state machine, with the state in the message
    if not request.consumer.active:
        raise PlatformError(ErrorCode.CONSUMER_INACTIVE, _("%(system)s is deactivated.") % {
            "system": request.consumer.code})
    _dataset_requestable(dataset)
    RequestTerms(request.fields, request.purpose_code, request.purpose, request.legal_basis, request.case_reference,
                 request.duration_days, request.expected_daily_volume).check(dataset)
    if dataset.tier == Tier.NOT_SHARED:
        _step(request, "answer_not_shared", actor=actor, comment=dataset.legal_basis)
        request.rejection_reason, request.rejection_legal_basis = RejectionReason.NOT_SHARED, dataset.legal_basis
        request.decided_at = now
        request.decision_reason = _("%(dataset)s is not shared (不予共享).") % {"dataset": dataset.title}
        request.save(update_fields=["state", "rejection_reason", "rejection_legal_basis", "decided_at",
                                    "decision_reason"])
        event_record(actor=Actor.platform("catalogue"), action=EventType.ACCESS_REQUEST_NOT_SHARED,
                     object_id=str(request.pk), purpose=request.purpose_code,
                     detail={"dataset": dataset.identifier, "legal_basis": dataset.legal_basis})
        return
    if dataset.tier == Tier.UNCONDITIONAL:
        _step(request, "subscribe", actor=actor)
        request.decided_at = now
        request.save(update_fields=["state", "decided_at"])
        masking, rows, _tightened = _approval_terms(request, list(request.fields), None, None)
        grant = _grant_create(request, fields=request.fields, duration_days=request.duration_days,
                              daily_quota=request.expected_daily_volume, now=now, masking=masking, row_filter=rows)
        event_record(actor=Actor.for_user(actor), action=EventType.ACCESS_REQUEST_SUBSCRIBED,
                     object_id=str(request.pk), grant_id=grant.pk, purpose=request.purpose_code,
                     detail={"consumer": request.consumer.code, "dataset": dataset.identifier,
                             "fields": request.fields, "duration_days": request.duration_days})
        return
    _step(request, "submit", actor=actor)
    _clock_start(request, now)
    request.save(update_fields=["state", *_CLOCK_FIELDS])
    event_record(actor=Actor.for_user(actor), action=EventType.ACCESS_REQUEST_SUBMITTED, object_id=str(request.pk),
                 purpose=request.purpose_code,
                 detail={"dataset": dataset.identifier, "due_date": request.due_date.isoformat()
                         if request.due_date else None})
    notify(recipients=_approvers(request), kind=NotificationKind.REQUEST_NEW, params=_request_params(request),
           link=_request_link(request))


def access_request_return(*, access_request: AccessRequest, approver: Any, comment: str) -> AccessRequest:
    """An approver sends the request back for changes, saying what to change (退回修改); the clock stops."""
    _require_transition(approver, "return_for_changes", access_request)
    if not comment.strip():
        raise PlatformError(ErrorCode.COMMENT_REQUIRED)
    with transaction.atomic():
        request = _locked(access_request)
        _step(request, "return_for_changes", actor=approver, comment=comment.strip())
        request.return_comment = comment.strip()
        request.save(update_fields=["state", "return_comment"])
        event_record(actor=Actor.for_user(approver), action=EventType.ACCESS_REQUEST_RETURNED,
                     object_id=str(request.pk), purpose=request.purpose_code,
                     detail={"comment": request.return_comment})
        notify(recipients=[request.filed_by], kind=NotificationKind.REQUEST_RETURNED,
               params=_request_params(request, comment=request.return_comment), link=_request_link(request))
    return request


def access_request_resubmit(*, access_request: AccessRequest, actor: Any) -> AccessRequest:
    """The requesting department submits its returned request again (重新提交); a new deadline starts."""
    _require_transition(actor, "resubmit", access_request)
    with transaction.atomic():
        request = _locked(access_request)
        _step(request, "resubmit", actor=actor)
        _dataset_requestable(request.dataset)
        _clock_start(request, timezone.now())
        request.save(update_fields=["state", *_CLOCK_FIELDS])
        event_record(actor=Actor.for_user(actor), action=EventType.ACCESS_REQUEST_RESUBMITTED,
                     object_id=str(request.pk), purpose=request.purpose_code,
                     detail={"due_date": request.due_date.isoformat() if request.due_date else None})
        notify(recipients=_approvers(request), kind=NotificationKind.REQUEST_RESUBMITTED,
               params=_request_params(request), link=_request_link(request))
    return request


def access_request_withdraw(*, access_request: AccessRequest, actor: Any, comment: str = "") -> AccessRequest:
    """The requesting department withdraws its request (撤回) before it is decided."""
    _require_transition(actor, "withdraw", access_request)
    with transaction.atomic():
        request = _locked(access_request)
        before = _step(request, "withdraw", actor=actor, comment=comment.strip())
        request.save(update_fields=["state"])
        event_record(actor=Actor.for_user(actor), action=EventType.ACCESS_REQUEST_WITHDRAWN,
                     object_id=str(request.pk), purpose=request.purpose_code, detail={"from_state": before})
    return request


def _grant_create(request: AccessRequest, *, fields: list[str], duration_days: int, daily_quota: int | None,
                  now: dt.datetime, masking: Mapping[str, str], row_filter: Mapping[str, list[str]]) -> Grant:
    """The grant a decision creates. A renewal starts where the grant it renews ends (if that is later) and keeps
    its pseudonym salt, so the consumer's pseudonyms stay the same."""
    dataset = request.dataset
    _field_names_check(dataset, fields)
    valid_from = now
    renews = request.renews
    if renews is not None and renews.revoked_at is None:
        valid_from = max(now, renews.valid_until)
    salt = {"pseudonym_salt": renews.pseudonym_salt} if renews is not None else {}
    return Grant.objects.create(
        access_request=request, consumer=request.consumer, dataset=dataset, dataset_version=dataset.version,
        allowed_fields=fields, purpose_code=request.purpose_code, purpose=request.purpose, daily_quota=daily_quota,
        valid_from=valid_from, valid_until=valid_from + dt.timedelta(days=duration_days),
        masking={name: masking[name] for name in fields}, row_filter=dict(row_filter), **salt)


def _approval_terms(request: AccessRequest, granted: list[str], masking: Mapping[str, str] | None,
                    row_filter: Mapping[str, Any] | None) -> tuple[dict[str, str], dict[str, list[str]], bool]:
    """The grant's masking (the defaults, or the renewed grant's rules, tightened by the approver) and row filter
    (the approver's, or the renewed grant's); True when they are stricter than the starting point (in part)."""
    schema = {f.name: f for f in request.dataset.fields.all()}
    renews = request.renews
    base = {name: stricter(schema[name].masking, renews.masking.get(name, MaskRule.NONE) if renews else
                           MaskRule.NONE) for name in granted}
    wanted = dict(masking or {})
    if unknown := [name for name in wanted if name not in granted]:
        raise PlatformError(ErrorCode.BAD_MASKING, _("Masking names fields that are not granted: %(fields)s.") % {
            "fields": ", ".join(unknown)}, detail={name: "not_granted" for name in unknown})
    for name, rule in wanted.items():
        field = schema[name]
        if rule not in MaskRule.values:
            raise PlatformError(ErrorCode.BAD_MASKING, _("%(field)s: %(rule)s is not a masking rule; choose one of "
                                                         "%(rules)s.") % {
                "field": name, "rule": str(rule)[:30], "rules": ", ".join(MaskRule.values)}, detail={name: "unknown"})
        if stricter(rule, base[name]) != rule:
            raise PlatformError(ErrorCode.BAD_MASKING, _("%(field)s is masked %(base)s by default; a grant may only "
                                                         "make it stricter, not %(rule)s.") % {
                "field": name, "base": base[name], "rule": rule}, detail={name: "looser_than_default"})
        if rule != MaskRule.REDACT and (problem := mask_rule_problem(
                rule, field_type=field.type, is_subject_identifier=field.is_subject_identifier)) is not None:
            raise PlatformError(ErrorCode.BAD_MASKING, f"{name}: {problem}", detail={name: "unsuited"})
    final = {name: wanted.get(name, base[name]) for name in granted}
    rows: dict[str, list[str]] = {}
    source = row_filter if row_filter is not None else (renews.row_filter if renews else {})
    if not isinstance(source, Mapping):
        raise PlatformError(ErrorCode.BAD_ROW_FILTER)
    for name, values in source.items():
        texts = [str(v).strip() for v in (values if isinstance(values, list | tuple) else [values])
                 if str(v).strip()]
        if name not in schema or not texts:
            raise PlatformError(ErrorCode.BAD_ROW_FILTER, _("A row filter names a field of %(dataset)s and at least "
                                                            "one value; %(field)s is not one.") % {
                "dataset": request.dataset.identifier, "field": str(name)[:63]})
        rows[name] = texts
    inherited_rows = renews.row_filter if renews else {}
    tightened = any(final[name] != base[name] for name in granted) or (bool(rows) and rows != inherited_rows)
    return final, rows, tightened


def access_request_approve(*, access_request: AccessRequest, approver: Any, reason: str = "",
                           fields: Iterable[str] | None = None, duration_days: int | None = None,
                           daily_quota: int | None = None, masking: Mapping[str, str] | None = None,
                           row_filter: Mapping[str, Any] | None = None) -> Grant:
    """An approver grants the request (同意), or part of it (部分同意): fewer of the requested fields, a shorter
    duration or a lower daily quota than the expected volume, a stricter masking of a field than its default, or
    a row filter, each recorded. Nothing beyond the request."""
    _require_transition(approver, "approve", access_request)
    with transaction.atomic():
        request = _locked(access_request)
        dataset = request.dataset
        granted = list(dict.fromkeys(fields)) if fields is not None else list(request.fields)
        duration = duration_days if duration_days is not None else request.duration_days
        quota = daily_quota if daily_quota is not None else request.expected_daily_volume
        if (not granted or any(name not in request.fields for name in granted)
                or not 1 <= duration <= request.duration_days or not 1 <= quota <= request.expected_daily_volume):
            raise PlatformError(ErrorCode.NOT_A_PART, _(
                "Grant at least one of the requested fields (%(fields)s), for 1 to %(days)d days, with a daily "
                "quota of 1 to %(volume)d.") % {"fields": ", ".join(request.fields), "days": request.duration_days,
                                                "volume": request.expected_daily_volume})
        final_masking, rows, tightened = _approval_terms(request, granted, masking, row_filter)
        in_part = (len(granted) < len(request.fields) or duration < request.duration_days
                   or quota < request.expected_daily_volume or tightened)
        transition = "approve_in_part" if in_part else "approve"
        terms = {"fields": granted, "duration_days": duration, "daily_quota": quota,
                 "masking": {name: rule for name, rule in final_masking.items() if rule != MaskRule.NONE},
                 "row_filter": rows}
        requested = {"fields": request.fields, "duration_days": request.duration_days,
                     "daily_volume": request.expected_daily_volume}
        _step(request, transition, actor=approver, comment=reason.strip(),
              detail={**terms, "requested": requested} if in_part else terms)
        if dataset.status != DatasetStatus.PUBLISHED or dataset.tier == Tier.NOT_SHARED:
            raise PlatformError(ErrorCode.NO_LONGER_PUBLISHED, _("%(dataset)s is no longer shared.") % {
                "dataset": dataset.identifier})
        now = timezone.now()
        grant = _grant_create(request, fields=granted, duration_days=duration, daily_quota=quota, now=now,
                              masking=final_masking, row_filter=rows)
        request.decided_by, request.decided_at, request.decision_reason = approver, now, reason.strip()
        request.save(update_fields=["state", "decided_by", "decided_at", "decision_reason"])
        detail = {"reason": request.decision_reason, "consumer": request.consumer.code, "dataset": dataset.identifier,
                  **terms}
        event_record(actor=Actor.for_user(approver),
                     action=EventType.ACCESS_REQUEST_APPROVED_IN_PART if in_part else EventType.ACCESS_REQUEST_APPROVED,
                     object_id=str(request.pk), grant_id=grant.pk, purpose=request.purpose_code,
                     detail={**detail, "requested": requested} if in_part else detail)
        notify(recipients=_requesters(request), kind=NotificationKind.REQUEST_DECIDED,
               params=_request_params(request, outcome=request.state, reason=request.decision_reason),
               link=_request_link(request))
    return grant


def access_request_reject(*, access_request: AccessRequest, approver: Any, reason_code: str, legal_basis: str,
                          explanation: str) -> AccessRequest:
    """An approver refuses the request (不予同意): a reason from the fixed list, a legal basis and text."""
    _require_transition(approver, "reject", access_request)
    if reason_code not in RejectionReason.values or not legal_basis.strip() or not explanation.strip():
        raise PlatformError(ErrorCode.REJECTION_INCOMPLETE)
    with transaction.atomic():
        request = _locked(access_request)
        _step(request, "reject", actor=approver, comment=explanation.strip(),
              detail={"rejection_reason": reason_code, "legal_basis": legal_basis.strip()})
        request.decided_by, request.decided_at = approver, timezone.now()
        request.decision_reason, request.rejection_reason = explanation.strip(), reason_code
        request.rejection_legal_basis = legal_basis.strip()
        request.save(update_fields=["state", "decided_by", "decided_at", "decision_reason", "rejection_reason",
                                    "rejection_legal_basis"])
        event_record(actor=Actor.for_user(approver), action=EventType.ACCESS_REQUEST_REJECTED,
                     object_id=str(request.pk), purpose=request.purpose_code,
                     detail={"reason": request.decision_reason, "rejection_reason": reason_code,
                             "legal_basis": request.rejection_legal_basis, "consumer": request.consumer.code,
                             "dataset": request.dataset.identifier, "fields": request.fields})
        notify(recipients=_requesters(request), kind=NotificationKind.REQUEST_DECIDED,
               params=_request_params(request, outcome=request.state, reason=request.decision_reason),
               link=_request_link(request))
    return request


def access_request_hand_over(*, access_request: AccessRequest, actor: Any, approver: Any) -> AccessRequest:
    """The data authority hands an escalated request to an approver of the providing department (督办), who
    gets REQUEST_HANDOVER_WORKING_DAYS working days from today. The request is no longer escalated: the
    approvers decide it, and the clock escalates it again if the new deadline passes too."""
    require(actor, Perm.REQUEST_HAND_OVER, access_request,
            _("Only the data authority hands escalated requests to another approver."))
    if not allows(approver, Perm.REQUEST_DECIDE, access_request) or approver.pk == access_request.filed_by_id:
        raise PlatformError(ErrorCode.NOT_AN_APPROVER, _("%(person)s is not an approver of %(department)s.") % {
            "person": approver, "department": access_request.dataset.owner})
    with transaction.atomic():
        request = _locked(access_request)
        if request.escalated_at is None or not request.is_waiting:
            raise PlatformError(ErrorCode.NOT_ESCALATED)
        # A new deadline, on the clock like the first: reminded before it, escalated again if it runs over.
        request.assignee = approver
        request.due_date = working_day_add(workdays_today(), settings.REQUEST_HANDOVER_WORKING_DAYS)
        request.reminded_soon_at = request.reminded_due_at = request.escalated_at = None
        request.save(update_fields=["assignee", "due_date", "reminded_soon_at", "reminded_due_at", "escalated_at"])
        AccessRequestStep.objects.create(access_request=request, action="hand_over", from_state=request.state,
                                         to_state=request.state, actor=actor,
                                         detail={"to": approver.get_username(),
                                                 "due_date": request.due_date.isoformat()})
        event_record(actor=Actor.for_user(actor), action=EventType.ACCESS_REQUEST_HANDED_OVER,
                     object_id=str(request.pk), purpose=request.purpose_code,
                     detail={"to": approver.get_username(), "due_date": request.due_date.isoformat()})
        notify(recipients=[approver], kind=NotificationKind.REQUEST_ASSIGNED, params=_request_params(request),
               link=_request_link(request))
    return request


@dataclass
class ClockRun:
    """What one run of the request clock did."""

    reminded: int = 0
    escalated: int = 0
    expiring: int = 0


def requests_clock_run(*, today: dt.date | None = None) -> ClockRun:
    """The request clock (Celery beat, ``exchange.requests_clock``): remind the approvers REQUEST_REMIND_WORKING_DAYS
    working days before a deadline and on the day, escalate an overdue request to the data authority, tell
    consumers their grants expire within GRANT_EXPIRY_NOTICE_DAYS. Each happens once per request (or grant) and
    deadline; each reminder and escalation is an audit event. Idempotent: run it as often as you like."""
    today = today or workdays_today()
    run = ClockRun()
    waiting = AccessRequest.objects.filter(state__in=WAITING_STATES, due_date__isnull=False)
    # Overdue once a working day has passed after the deadline: a Friday deadline escalates on Monday, not
    # over the weekend; a deadline before National Day on the first working day after it.
    overdue = waiting.filter(due_date__lt=working_day_latest(today), escalated_at=None)
    for pk in overdue.values_list("pk", flat=True):
        run.escalated += _escalate(pk, today)
    for pk in AccessRequest.objects.filter(due_soon_q(today=today)).filter(
            Q(reminded_soon_at=None) | Q(reminded_due_at=None, due_date=today)).values_list("pk", flat=True):
        run.reminded += _remind(pk, today)
    horizon = timezone.now() + dt.timedelta(days=settings.GRANT_EXPIRY_NOTICE_DAYS)
    for pk in Grant.objects.filter(revoked_at=None, expiry_notified_at=None, valid_until__gt=timezone.now(),
                                   valid_until__lte=horizon).values_list("pk", flat=True):
        run.expiring += _grant_expiry_notify(pk)
    return run


def _remind(pk: int, today: dt.date) -> int:
    with transaction.atomic():
        request = AccessRequest.objects.select_for_update(of=("self",)).select_related(
            "dataset__owner", "consumer__department", "assignee").get(pk=pk)
        if not request.is_waiting or request.due_date is None or request.due_date < today:
            return 0
        days_left = working_days_between(today, request.due_date)
        if request.due_date == today and request.reminded_due_at is None:
            request.reminded_soon_at = request.reminded_soon_at or timezone.now()  # no "soon" after "today"
            request.reminded_due_at = timezone.now()
        elif 0 < days_left <= settings.REQUEST_REMIND_WORKING_DAYS and request.reminded_soon_at is None:
            request.reminded_soon_at = timezone.now()
        else:
            return 0
        request.save(update_fields=["reminded_soon_at", "reminded_due_at"])
        recipients = _approvers(request)
        event_record(actor=Actor.platform("request-clock"), action=EventType.ACCESS_REQUEST_REMINDED,
                     object_id=str(request.pk), purpose=request.purpose_code,
                     detail={"due_date": request.due_date.isoformat(), "days_left": days_left,
                             "recipients": len(recipients)})
        notify(recipients=recipients, kind=NotificationKind.DEADLINE_NEAR,
               params=_request_params(request, days_left=days_left), link=_request_link(request))
    return 1


def _escalate(pk: int, today: dt.date) -> int:
    with transaction.atomic():
        request = AccessRequest.objects.select_for_update(of=("self",)).select_related(
            "dataset__owner", "consumer__department").get(pk=pk)
        if not request.is_waiting or not request.due_date or request.due_date >= working_day_latest(today):
            return 0
        if request.escalated_at is not None:
            return 0
        request.escalated_at = timezone.now()
        request.save(update_fields=["escalated_at"])
        event_record(actor=Actor.platform("request-clock"), action=EventType.ACCESS_REQUEST_ESCALATED,
                     object_id=str(request.pk), purpose=request.purpose_code,
                     detail={"due_date": request.due_date.isoformat(), "department": request.dataset.owner.code})
        authority = people_holding(platform_roles=[PlatformRoleName.DATA_AUTHORITY])
        notify(recipients=[*authority, *_approvers(request)], kind=NotificationKind.REQUEST_ESCALATED,
               params=_request_params(request, department=request.dataset.owner.name), link=_request_link(request))
    return 1


def _grant_expiry_notify(pk: int) -> int:
    with transaction.atomic():
        grant = Grant.objects.select_for_update(of=("self",)).select_related(
            "dataset", "consumer__department", "access_request__filed_by").get(pk=pk)
        if grant.expiry_notified_at is not None or grant.revoked_at is not None:
            return 0
        grant.expiry_notified_at = timezone.now()
        grant.save(update_fields=["expiry_notified_at"])
        filer = [grant.access_request.filed_by] if grant.access_request else []
        notify(recipients=[*filer, *people_holding(department=grant.consumer.department, roles=CLERKS)],
               kind=NotificationKind.GRANT_EXPIRING,
               params={"grant": grant.pk, "dataset": grant.dataset.title,
                       "valid_until": timezone.localdate(grant.valid_until).isoformat()},
               link=_grant_link(grant))
    return 1


def grant_revoke(*, grant: Grant, actor: Any, reason: str) -> Grant:
    """An approver of the providing department revokes a grant (撤销授权), with a reason; the next read under
    it is refused (the revocation bumps the access version, so no process keeps it in memory)."""
    require(actor, Perm.GRANT_REVOKE, grant, _("Only approvers of %(department)s may revoke grants for "
                                               "%(dataset)s.") % {"department": grant.dataset.owner,
                                                                  "dataset": grant.dataset.identifier})
    if not reason.strip():
        raise PlatformError(ErrorCode.REASON_REQUIRED, _("Say why the grant is revoked; the consumer is told."))
    with transaction.atomic():
        grant = Grant.objects.select_for_update(of=("self",)).select_related(
            "dataset", "consumer__department", "access_request__filed_by").get(pk=grant.pk)
        if grant.state in (GrantState.REVOKED, GrantState.EXPIRED):
            raise PlatformError(ErrorCode.GRANT_ENDED)
        grant.revoked_at, grant.revoked_by, grant.revocation_reason = timezone.now(), actor, reason.strip()
        grant.save(update_fields=["revoked_at", "revoked_by", "revocation_reason"])
        event_record(actor=Actor.for_user(actor), action=EventType.GRANT_REVOKED, object_id=str(grant.pk),
                     grant_id=grant.pk, purpose=grant.purpose_code,
                     detail={"dataset": grant.dataset.identifier, "consumer": grant.consumer.code,
                             "reason": grant.revocation_reason})
        filer = [grant.access_request.filed_by] if grant.access_request else []
        notify(recipients=[*filer, *people_holding(department=grant.consumer.department, roles=CLERKS)],
               kind=NotificationKind.GRANT_REVOKED,
               params={"grant": grant.pk, "dataset": grant.dataset.title, "reason": grant.revocation_reason},
               link=_grant_link(grant))
    return grant


def _renewal_check(grant: Grant, *, consumer: System, dataset: Dataset) -> None:
    if grant.consumer_id != consumer.pk or grant.dataset_id != dataset.pk:
        raise PlatformError(ErrorCode.INVALID_INPUT, _("A renewal is for the same system and dataset as the grant."))
    if grant.state in (GrantState.REVOKED, GrantState.EXPIRED):
        raise PlatformError(ErrorCode.GRANT_ENDED, _("Grant #%(grant)s has ended; file a new request instead.")
                            % {"grant": grant.pk})
    if grant.renewals.exclude(state__in=[RequestState.REJECTED, RequestState.WITHDRAWN]).exists():
        raise PlatformError(ErrorCode.RENEWAL_PENDING)


def grant_renewal_terms(grant: Grant) -> dict[str, Any]:
    """The terms a renewal of ``grant`` carries forward, for the request form (the clerk may narrow them)."""
    request = grant.access_request
    return {"consumer": grant.consumer_id, "dataset": grant.dataset_id,
            "requested_fields": list(grant.allowed_fields), "purpose_code": grant.purpose_code,
            "purpose": grant.purpose, "legal_basis": request.legal_basis if request else "",
            "case_reference": request.case_reference if request else "",
            "duration_days": (grant.valid_until - grant.valid_from).days or 1,
            "expected_daily_volume": grant.daily_quota or (request.expected_daily_volume if request else 100)}


_PURPOSE_FIELDS = ("label_zh", "label_en", "description", "active")


def purpose_save(*, actor: Any, code: str, label_zh: str, label_en: str, description: str = "",
                 active: bool = True) -> Purpose:
    """The data authority adds a purpose to the vocabulary, or changes one (its code never changes: grants and
    the audit log name the purpose by it); old and new values are recorded."""
    require(actor, Perm.PURPOSE_MANAGE, None, _("Only the data authority keeps the vocabulary of purposes."))
    try:
        purpose_code_validator(code)
    except ValidationError as exc:
        raise validation_error(exc, code=ErrorCode.BAD_PURPOSE_CODE) from exc
    values = {"label_zh": label_zh.strip(), "label_en": label_en.strip(), "description": description.strip(),
              "active": active}
    if not values["label_zh"] or not values["label_en"]:
        raise PlatformError(ErrorCode.INVALID_INPUT, _("A purpose has a Chinese and an English label."))
    with transaction.atomic():
        purpose = Purpose.objects.select_for_update().filter(code=code).first()
        if purpose is None:
            purpose = Purpose.objects.create(code=code, **values)
            event_record(actor=Actor.for_user(actor), action=EventType.PURPOSE_ADDED, object_id=code,
                         detail={"new": {"code": code, **values}})
            return purpose
        old = {name: getattr(purpose, name) for name in _PURPOSE_FIELDS}
        detail = change_detail(old, values)
        if detail["changed"]:
            for name, value in values.items():
                setattr(purpose, name, value)
            purpose.save(update_fields=list(_PURPOSE_FIELDS))
            event_record(actor=Actor.for_user(actor), action=EventType.PURPOSE_CHANGED, object_id=code,
                         detail=detail)
    return purpose


def grants_suspend_for_version(*, change: VersionChange, **_signal: Any) -> None:
    """A new version of a dataset removed or re-typed granted fields, or stopped sharing it: the grants
    concerned are suspended (effective on the next call) and each suspension is an audit event whose
    reason the consumer is told. Runs in the publishing transaction (``catalog.signals``)."""
    dataset, now = change.dataset, timezone.now()
    for grant in Grant.objects.select_for_update().filter(dataset=dataset, revoked_at=None, suspended_at=None,
                                                          valid_until__gt=now):
        lost = [name for name in grant.allowed_fields if name in change.removed or name in change.retyped]
        if not lost and not change.stops_sharing:
            continue
        if change.stops_sharing:
            reason = _("Version %(version)d of %(dataset)s is no longer shared (%(legal_basis)s).")
        else:
            reason = _("Version %(version)d of %(dataset)s removed or changed the type of the granted field(s) "
                       "%(fields)s.")
        reason = (reason % {"version": change.version, "dataset": dataset.identifier, "fields": ", ".join(lost),
                            "legal_basis": dataset.legal_basis} + " "
                  + _("The grant is suspended until an approver of %(department)s approves it again.")
                  % {"department": dataset.owner})
        grant.suspended_at, grant.suspension_reason = now, reason
        grant.save(update_fields=["suspended_at", "suspension_reason"])
        event_record(actor=Actor.for_user(change.actor), action=EventType.GRANT_SUSPENDED, object_id=str(grant.pk),
                     grant_id=grant.pk, purpose=grant.purpose_code,
                     detail={"dataset": dataset.identifier, "version": change.version, "fields": lost,
                             "reason": reason})


def grant_reapprove(*, grant: Grant, approver: Any) -> Grant:
    """An approver of the providing department approves a suspended grant again, for the dataset's current
    version: it keeps the granted fields that still exist with their meaning (the removed and re-typed ones
    are dropped; if none is left, the consumer must file a new request)."""
    dataset = grant.dataset
    require(approver, Perm.REQUEST_DECIDE, grant,
            _("Only approvers of %(department)s may approve grants for %(dataset)s again.")
            % {"department": dataset.owner, "dataset": dataset.identifier})
    with transaction.atomic():
        grant = Grant.objects.select_for_update().select_related("dataset").get(pk=grant.pk)
        if grant.suspended_at is None or grant.revoked_at is not None:
            raise PlatformError(ErrorCode.NOT_SUSPENDED)
        current = grant.dataset
        if current.status != DatasetStatus.PUBLISHED or current.tier == Tier.NOT_SHARED:
            raise PlatformError(ErrorCode.NO_LONGER_PUBLISHED, _("%(dataset)s is not shared now.") % {
                "dataset": current.identifier})
        granted = current.versions.filter(number=grant.dataset_version).first()
        old_types = {spec[0]: spec[1] for spec in (granted.schema if granted else [])}
        types = {f.name: f.type for f in current.fields.all()}
        kept = [name for name in grant.allowed_fields
                if name in types and old_types.get(name, types[name]) == types[name]]
        if not kept:
            raise PlatformError(ErrorCode.NO_FIELDS, _("None of the granted fields exists any more in version "
                                                       "%(version)d; the consumer must file a new request.")
                                % {"version": current.version})
        grant.allowed_fields, grant.dataset_version = kept, current.version
        grant.suspended_at, grant.suspension_reason = None, ""
        grant.save(update_fields=["allowed_fields", "dataset_version", "suspended_at", "suspension_reason"])
        event_record(actor=Actor.for_user(approver), action=EventType.GRANT_REAPPROVED, object_id=str(grant.pk),
                     grant_id=grant.pk, purpose=grant.purpose_code,
                     detail={"dataset": current.identifier, "version": current.version, "fields": kept})
    return grant
