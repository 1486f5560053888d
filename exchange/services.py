"""Writes for the exchange: filing and deciding access requests, the signed record read.

Each checks its actor and records its audit event inside its own transaction. Refusals on the
record API are audited too, in a transaction of their own, before the refusal leaves.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.events import EventType
from audit.models import AuditEvent, Outcome
from audit.services import Actor, event_append, event_record, subject_hash
from catalog.models import Dataset, DatasetStatus, Tier
from catalog.selectors import dataset_get_published, record_get
from catalog.signals import VersionChange
from core.errors import ErrorCode, PlatformError, validation_error
from core.keys import platform_key
from registry.httpsig import SignatureRefused, request_verify, signature_digest
from registry.models import System
from registry.policy import Perm, require
from registry.versions import access_version

from .models import MAX_GRANT_DAYS, AccessRequest, Grant, RequestState, purpose_code_validator
from .selectors import grants_active


def _field_names_check(dataset: Dataset, names: list[str]) -> None:
    known = {f.name for f in dataset.fields.all()}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise PlatformError(ErrorCode.UNKNOWN_FIELD, _("%(dataset)s has no field(s) %(unknown)s; its fields are "
                                                       "%(known)s.") % {
            "dataset": dataset.identifier, "unknown": ", ".join(unknown), "known": ", ".join(sorted(known))})


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
) -> AccessRequest:
    """A clerk asks, for one of their department's systems, to read some fields of a dataset."""
    require(actor, Perm.REQUEST_FILE, AccessRequest(consumer=consumer, dataset=dataset),
            _("Only clerks of %(department)s may file requests for %(system)s.")
            % {"department": consumer.department, "system": consumer.code})
    if not consumer.active:
        raise PlatformError(ErrorCode.CONSUMER_INACTIVE, _("%(system)s is deactivated.") % {"system": consumer.code})
    if dataset.status != DatasetStatus.PUBLISHED:
        raise PlatformError(ErrorCode.NOT_PUBLISHED, _("%(dataset)s is not published.") % {
            "dataset": dataset.identifier})
    if dataset.tier == Tier.NOT_SHARED:
        raise PlatformError(ErrorCode.NOT_SHARED, _("%(dataset)s is not shared (%(legal_basis)s).") % {
            "dataset": dataset.identifier, "legal_basis": dataset.legal_basis})
    if dataset.tier == Tier.OPEN:
        raise PlatformError(ErrorCode.OPEN_DATASET, _("%(dataset)s is open data; it needs no request.") % {
            "dataset": dataset.identifier})
    names = list(dict.fromkeys(fields))
    if not names:
        raise PlatformError(ErrorCode.NO_FIELDS)
    _field_names_check(dataset, names)
    try:
        purpose_code_validator(purpose_code)
    except ValidationError as exc:
        raise validation_error(exc, code=ErrorCode.BAD_PURPOSE_CODE) from exc
    if not purpose.strip() or not legal_basis.strip():
        raise PlatformError(ErrorCode.PURPOSE_REQUIRED)
    if not 1 <= duration_days <= MAX_GRANT_DAYS:
        raise PlatformError(ErrorCode.BAD_DURATION, _("The duration is 1 to %(max)d days.") % {
            "max": MAX_GRANT_DAYS})
    with transaction.atomic():
        request = AccessRequest.objects.create(
            consumer=consumer, dataset=dataset, fields=names, purpose_code=purpose_code, purpose=purpose,
            legal_basis=legal_basis, case_reference=case_reference, duration_days=duration_days, filed_by=actor,
        )
        event_record(actor=Actor.for_user(actor), action=EventType.ACCESS_REQUEST_FILED,
                     object_id=str(request.pk), purpose=purpose_code,
                     detail={"consumer": consumer.code, "dataset": dataset.identifier, "fields": names,
                             "duration_days": duration_days})
    return request


_ALREADY_DECIDED: dict[str, Promise] = {
    RequestState.APPROVED: gettext_lazy("This request is already approved."),
    RequestState.REJECTED: gettext_lazy("This request is already rejected."),
}


def access_request_decide(*, access_request: AccessRequest, approver: Any, approve: bool, reason: str) -> AccessRequest:
    """An approver of the dataset's department approves (creating a grant) or rejects, with a reason."""
    dataset = access_request.dataset
    require(approver, Perm.REQUEST_DECIDE, access_request,
            _("Only approvers of %(department)s may decide requests for %(dataset)s.")
            % {"department": dataset.owner, "dataset": dataset.identifier})
    if access_request.filed_by_id == approver.pk:
        raise PlatformError(ErrorCode.OWN_REQUEST)
    if not approve and not reason.strip():
        raise PlatformError(ErrorCode.REASON_REQUIRED)
    with transaction.atomic():
        request = AccessRequest.objects.select_for_update().get(pk=access_request.pk)
        if request.state != RequestState.SUBMITTED:
            raise PlatformError(ErrorCode.ALREADY_DECIDED, _ALREADY_DECIDED.get(request.state))
        now = timezone.now()
        grant = None
        if approve:
            if dataset.status != DatasetStatus.PUBLISHED:
                raise PlatformError(ErrorCode.NO_LONGER_PUBLISHED, _("%(dataset)s is no longer published.") % {
                    "dataset": dataset.identifier})
            _field_names_check(dataset, request.fields)
            grant = Grant.objects.create(
                access_request=request, consumer=request.consumer, dataset=dataset, dataset_version=dataset.version,
                allowed_fields=request.fields, purpose_code=request.purpose_code, purpose=request.purpose,
                valid_from=now, valid_until=now + dt.timedelta(days=request.duration_days),
            )
        request.state = RequestState.APPROVED if approve else RequestState.REJECTED
        request.decided_by, request.decided_at, request.decision_reason = approver, now, reason.strip()
        request.save(update_fields=["state", "decided_by", "decided_at", "decision_reason"])
        event_record(actor=Actor.for_user(approver),
                     action=EventType.ACCESS_REQUEST_APPROVED if approve else EventType.ACCESS_REQUEST_REJECTED,
                     object_id=str(request.pk),
                     grant_id=grant.pk if grant else None, purpose=request.purpose_code,
                     detail={"reason": request.decision_reason, "consumer": request.consumer.code,
                             "dataset": dataset.identifier, "fields": request.fields})
    return request


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


class ExchangeRefused(PlatformError):
    """A refusal of the record API, already audited: carries its event for the response's receipt."""

    def __init__(self, error: PlatformError, *, event: AuditEvent) -> None:
        super().__init__(error.code, error.message, detail=error.detail)
        self.event = event


@dataclass(frozen=True)
class RecordRead:
    body: dict[str, Any]
    event: AuditEvent


def _printable(value: str) -> str:
    """Caller-chosen text as the log keeps it: control characters (NUL breaks PostgreSQL) replaced."""
    return "".join(char if char.isprintable() else "\ufffd" for char in value)


def _audit_or_fail_closed(**kwargs: Any) -> AuditEvent:
    try:
        return event_append(action=EventType.RECORD_READ, **kwargs)
    except DatabaseError as exc:
        raise PlatformError(ErrorCode.AUDIT_UNAVAILABLE) from exc


def _grant_choose(grants: list[Grant], *, grant_id: int | None, fields: list[str] | None) -> Grant | PlatformError:
    """The one grant a read is served under; grants (and their purposes) are never merged.

    Named by ``grant_id``; else the newest that covers ``fields``; else the only one.
    """
    if grant_id is not None:
        named = [g for g in grants if g.pk == grant_id]
        return named[0] if named else PlatformError(
            ErrorCode.NO_GRANT, _("Grant %(grant)s is not one of yours in force for this dataset.") % {
                "grant": grant_id})
    if fields is not None:
        covering = [g for g in grants if set(fields) <= set(g.allowed_fields)]
        if covering:
            return covering[0]
        allowed = sorted({name for g in grants for name in g.allowed_fields})
        missing = [name for name in fields if name not in allowed]
        message = (_("No grant covers %(fields)s; your grants allow %(allowed)s.") if missing else
                   _("No grant covers %(fields)s together; your grants allow %(allowed)s."))
        return PlatformError(ErrorCode.FIELD_NOT_GRANTED, message % {
            "fields": ", ".join(missing or fields), "allowed": ", ".join(allowed)})
    if len(grants) > 1:
        options = "; ".join(f"grant={g.pk} ({g.purpose_code}: {', '.join(g.allowed_fields)})" for g in grants)
        return PlatformError(ErrorCode.SEVERAL_GRANTS, _(
            "You hold several grants for this dataset, each for its own purpose; name one with ?grant= or the "
            "fields with ?fields=. %(grants)s") % {"grants": options})
    return grants[0]


def record_read(*, request: HttpRequest, dataset_identifier: str, key: str, fields: list[str] | None,
                grant: str | None = None) -> RecordRead:
    """The signed record read: verify, find the grant, project the granted fields, audit, return.

    Every refusal is audited and raised as ExchangeRefused. If the audit log cannot be written,
    PlatformError 503 and no data leaves.
    """
    platform_key()  # nothing is served, or audited as served, when responses cannot be signed
    target = _printable(dataset_identifier)
    try:
        # Read once, before anything is looked up: the key, the dataset and the grants then come
        # from memory unless something changed since (registry.versions).
        version = access_version()
    except DatabaseError as exc:  # the database is down: nothing can be checked, nor audited
        raise PlatformError(ErrorCode.UNAVAILABLE) from exc
    try:
        verified = request_verify(request, version=version)
    except SignatureRefused as exc:
        # Not proven to come from the key's system (anyone can name a keyid): logged as anonymous,
        # with the claim kept in the detail.
        claim = {"keyid": exc.claimed_key_id}
        if exc.key is not None:
            claim["claimed_system"] = exc.key.system.code
        event = _audit_or_fail_closed(actor=Actor.anonymous(exc.claimed_key_id), object_id=target,
                                      outcome=Outcome.REFUSED, reason=exc.code,
                                      request_digest=exc.signature_digest, detail=claim)
        raise ExchangeRefused(exc, event=event) from exc
    except PlatformError as exc:  # the nonce store or key registry is down: refused, and audited if possible
        event = _audit_or_fail_closed(actor=Actor.anonymous(), object_id=target, outcome=Outcome.REFUSED,
                                      reason=exc.code, request_digest=signature_digest(request))
        raise ExchangeRefused(exc, event=event) from exc

    system = verified.key.system
    audit_context: dict[str, Any] = {
        "actor": Actor.for_system(system), "object_id": target,
        "request_digest": verified.signature_digest, "detail": {"keyid": verified.key.key_id},
    }

    def refuse(code: ErrorCode, message: str | None = None, **extra: Any) -> ExchangeRefused:
        event = _audit_or_fail_closed(outcome=Outcome.REFUSED, reason=code, **audit_context, **extra)
        return ExchangeRefused(PlatformError(code, message), event=event)

    if not all(value.isprintable() for value in [dataset_identifier, key, *(fields or [])]):
        raise refuse(ErrorCode.INVALID_CHARACTERS)
    if grant is not None and not (grant.isascii() and grant.isdigit() and len(grant) < 19):
        raise refuse(ErrorCode.BAD_GRANT)
    grant_id = int(grant) if grant is not None else None
    dataset = dataset_get_published(identifier=dataset_identifier, version=version)
    if dataset is None:
        raise refuse(ErrorCode.DATASET_NOT_FOUND, _("No published dataset is called '%(dataset)s'.") % {
            "dataset": dataset_identifier[:100]})
    schema = {f.name: f for f in dataset.fields.all()}
    key_field = next(f for f in schema.values() if f.is_lookup_key)
    subjects = [subject_hash(key)] if key_field.is_subject_identifier else []
    audit_context["subjects"] = subjects
    in_force = grants_active(consumer=system, dataset=dataset, at=timezone.now(), version=version)
    grants = [g for g in in_force if g.suspended_at is None]
    if in_force and not grants:
        raise refuse(ErrorCode.GRANT_SUSPENDED, in_force[0].suspension_reason)
    if not grants:
        raise refuse(ErrorCode.NO_GRANT, _("%(system)s holds no grant in force for %(dataset)s; file an access "
                                           "request in the admin.") % {
            "system": system.code, "dataset": dataset.identifier})
    requested = list(dict.fromkeys(fields)) if fields is not None else None
    unknown = [name for name in requested or [] if name not in schema]
    if unknown:
        raise refuse(ErrorCode.UNKNOWN_FIELD, _("%(dataset)s has no field(s) %(unknown)s.") % {
            "dataset": dataset.identifier, "unknown": ", ".join(unknown)})
    chosen = _grant_choose(grants, grant_id=grant_id, fields=requested)
    if isinstance(chosen, PlatformError):
        raise refuse(chosen.code, chosen.message)
    audit_context.update(grant_id=chosen.pk, purpose=chosen.purpose_code)
    if requested is None:
        requested = list(chosen.allowed_fields)
    elif not_granted := [name for name in requested if name not in chosen.allowed_fields]:
        raise refuse(ErrorCode.FIELD_NOT_GRANTED, _("Grant %(grant)s does not cover %(fields)s; it allows "
                                                    "%(allowed)s.") % {
            "grant": chosen.pk, "fields": ", ".join(not_granted), "allowed": ", ".join(chosen.allowed_fields)})
    record = record_get(dataset=dataset, key=key)
    if record is None:
        raise refuse(ErrorCode.RECORD_NOT_FOUND)
    values = {name: record.data.get(name) for name in requested}
    for name, value in values.items():
        if schema[name].is_subject_identifier and value is not None and name != key_field.name:
            audit_context["subjects"] = [*audit_context["subjects"], subject_hash(str(value))]
    event = _audit_or_fail_closed(outcome=Outcome.OK, **{**audit_context, "detail": {
        **audit_context["detail"], "fields": requested, "record_version": record.version}})
    body = {"dataset": dataset.identifier, "key": key, "version": record.version,
            "updated_at": record.updated_at.isoformat(), "grant": chosen.pk, "purpose": chosen.purpose_code,
            "fields": values}
    return RecordRead(body=body, event=event)
