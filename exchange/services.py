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

from audit.models import AuditEvent, Outcome
from audit.services import Actor, event_record, subject_hash
from catalog.models import Dataset, DatasetStatus, Tier
from catalog.selectors import dataset_get_published, record_get
from core.errors import PlatformError
from core.keys import platform_key
from registry.httpsig import SignatureRefused, request_verify, signature_digest
from registry.models import Role, System
from registry.policy import CLERK_ROLES, has_role

from .models import MAX_GRANT_DAYS, AccessRequest, Grant, RequestState, purpose_code_validator
from .selectors import grants_active

_AUDIT_UNAVAILABLE = ("audit_unavailable", "The audit log cannot be written, so nothing was served. Retry later.")


def _field_names_check(dataset: Dataset, names: list[str]) -> None:
    known = {f.name for f in dataset.fields.all()}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise PlatformError("unknown_field", f"{dataset.identifier} has no field(s) {', '.join(unknown)}; "
                                             f"its fields are {', '.join(sorted(known))}.", status=400)


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
    if not has_role(actor, CLERK_ROLES, consumer.department_id):
        raise PlatformError("forbidden", f"Only clerks of {consumer.department} may file requests for "
                                         f"{consumer.code}.", status=403)
    if not consumer.active:
        raise PlatformError("system_inactive", f"{consumer.code} is deactivated.", status=400)
    if dataset.status != DatasetStatus.PUBLISHED:
        raise PlatformError("not_published", f"{dataset.identifier} is not published.", status=400)
    if dataset.tier == Tier.NOT_SHARED:
        raise PlatformError("not_shared", f"{dataset.identifier} is not shared ({dataset.legal_basis}).", status=400)
    if dataset.tier == Tier.OPEN:
        raise PlatformError("open_dataset", f"{dataset.identifier} is open data; it needs no request.", status=400)
    names = list(dict.fromkeys(fields))
    if not names:
        raise PlatformError("no_fields", "Choose at least one field.", status=400)
    _field_names_check(dataset, names)
    try:
        purpose_code_validator(purpose_code)
    except ValidationError as exc:
        raise PlatformError("bad_purpose_code", exc.messages[0], status=400) from exc
    if not purpose.strip() or not legal_basis.strip():
        raise PlatformError("purpose_required", "State the purpose and the legal basis.", status=400)
    if not 1 <= duration_days <= MAX_GRANT_DAYS:
        raise PlatformError("bad_duration", f"The duration is 1 to {MAX_GRANT_DAYS} days.", status=400)
    with transaction.atomic():
        request = AccessRequest.objects.create(
            consumer=consumer, dataset=dataset, fields=names, purpose_code=purpose_code, purpose=purpose,
            legal_basis=legal_basis, case_reference=case_reference, duration_days=duration_days, filed_by=actor,
        )
        event_record(actor=Actor.for_user(actor), action="access_request.filed", object_type="access_request",
                     object_id=str(request.pk), purpose=purpose_code,
                     detail={"consumer": consumer.code, "dataset": dataset.identifier, "fields": names,
                             "duration_days": duration_days})
    return request


def access_request_decide(*, access_request: AccessRequest, approver: Any, approve: bool, reason: str) -> AccessRequest:
    """An approver of the dataset's department approves (creating a grant) or rejects, with a reason."""
    dataset = access_request.dataset
    if not has_role(approver, [Role.APPROVER], dataset.owner_id):
        raise PlatformError("forbidden", f"Only approvers of {dataset.owner} may decide requests for "
                                         f"{dataset.identifier}.", status=403)
    if access_request.filed_by_id == approver.pk:
        raise PlatformError("own_request", "Separation of duties: nobody decides a request they filed.", status=403)
    if not approve and not reason.strip():
        raise PlatformError("reason_required", "A rejection must state its reason.", status=400)
    with transaction.atomic():
        request = AccessRequest.objects.select_for_update().get(pk=access_request.pk)
        if request.state != RequestState.SUBMITTED:
            raise PlatformError("already_decided", f"This request is already {request.state}.", status=409)
        now = timezone.now()
        grant = None
        if approve:
            if dataset.status != DatasetStatus.PUBLISHED:
                raise PlatformError("not_published", f"{dataset.identifier} is no longer published.", status=409)
            _field_names_check(dataset, request.fields)
            grant = Grant.objects.create(
                access_request=request, consumer=request.consumer, dataset=dataset,
                allowed_fields=request.fields, purpose_code=request.purpose_code, purpose=request.purpose,
                valid_from=now, valid_until=now + dt.timedelta(days=request.duration_days),
            )
        request.state = RequestState.APPROVED if approve else RequestState.REJECTED
        request.decided_by, request.decided_at, request.decision_reason = approver, now, reason.strip()
        request.save(update_fields=["state", "decided_by", "decided_at", "decision_reason"])
        event_record(actor=Actor.for_user(approver), action=f"access_request.{request.state}",
                     object_type="access_request", object_id=str(request.pk),
                     grant_id=grant.pk if grant else None, purpose=request.purpose_code,
                     detail={"reason": request.decision_reason, "consumer": request.consumer.code,
                             "dataset": dataset.identifier, "fields": request.fields})
    return request


class ExchangeRefused(PlatformError):
    """A refusal of the record API, already audited: carries its event for the response's receipt."""

    def __init__(self, error: PlatformError, *, event: AuditEvent) -> None:
        super().__init__(error.code, error.message, status=error.status, detail=error.detail)
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
        with transaction.atomic():
            return event_record(action="record.read", object_type="dataset", **kwargs)
    except DatabaseError as exc:
        raise PlatformError(*_AUDIT_UNAVAILABLE, status=503) from exc


def _grant_choose(grants: list[Grant], *, grant_id: int | None, fields: list[str] | None) -> Grant | PlatformError:
    """The one grant a read is served under; grants (and their purposes) are never merged.

    Named by ``grant_id``; else the newest that covers ``fields``; else the only one.
    """
    if grant_id is not None:
        named = [g for g in grants if g.pk == grant_id]
        return named[0] if named else PlatformError(
            "no_grant", f"Grant {grant_id} is not one of yours in force for this dataset.", status=403)
    if fields is not None:
        covering = [g for g in grants if set(fields) <= set(g.allowed_fields)]
        if covering:
            return covering[0]
        allowed = sorted({name for g in grants for name in g.allowed_fields})
        missing = [name for name in fields if name not in allowed]
        return PlatformError("field_not_granted",
                             f"No grant covers {', '.join(missing or fields)}"
                             f"{' together' if not missing else ''}; your grants allow {', '.join(allowed)}.",
                             status=403)
    if len(grants) > 1:
        options = "; ".join(f"grant={g.pk} ({g.purpose_code}: {', '.join(g.allowed_fields)})" for g in grants)
        return PlatformError("several_grants", f"You hold several grants for this dataset, each for its own "
                                               f"purpose; name one with ?grant= or the fields with ?fields=. "
                                               f"{options}", status=400)
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
        verified = request_verify(request)
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

    def refuse(code: str, message: str, status: int, **extra: Any) -> ExchangeRefused:
        event = _audit_or_fail_closed(outcome=Outcome.REFUSED, reason=code, **audit_context, **extra)
        return ExchangeRefused(PlatformError(code, message, status=status), event=event)

    if not all(value.isprintable() for value in [dataset_identifier, key, *(fields or [])]):
        raise refuse("invalid_characters", "The dataset id, the key and the field names may not contain "
                                           "control characters.", 400)
    if grant is not None and not (grant.isascii() and grant.isdigit() and len(grant) < 19):
        raise refuse("bad_grant", "grant is the id of one of your grants (a whole number).", 400)
    grant_id = int(grant) if grant is not None else None
    dataset = dataset_get_published(identifier=dataset_identifier)
    if dataset is None:
        raise refuse("dataset_not_found", f"No published dataset is called '{dataset_identifier[:100]}'.", 404)
    schema = {f.name: f for f in dataset.fields.all()}
    key_field = next(f for f in schema.values() if f.is_lookup_key)
    subjects = [subject_hash(key)] if key_field.is_subject_identifier else []
    audit_context["subjects"] = subjects
    grants = grants_active(consumer=system, dataset=dataset, at=timezone.now())
    if not grants:
        raise refuse("no_grant", f"{system.code} holds no grant in force for {dataset.identifier}; file an access "
                                 "request in the admin.", 403)
    requested = list(dict.fromkeys(fields)) if fields is not None else None
    unknown = [name for name in requested or [] if name not in schema]
    if unknown:
        raise refuse("unknown_field", f"{dataset.identifier} has no field(s) {', '.join(unknown)}.", 400)
    chosen = _grant_choose(grants, grant_id=grant_id, fields=requested)
    if isinstance(chosen, PlatformError):
        raise refuse(chosen.code, chosen.message, chosen.status)
    audit_context.update(grant_id=chosen.pk, purpose=chosen.purpose_code)
    if requested is None:
        requested = list(chosen.allowed_fields)
    elif not_granted := [name for name in requested if name not in chosen.allowed_fields]:
        raise refuse("field_not_granted", f"Grant {chosen.pk} does not cover {', '.join(not_granted)}; it allows "
                                          f"{', '.join(chosen.allowed_fields)}.", 403)
    record = record_get(dataset=dataset, key=key)
    if record is None:
        raise refuse("record_not_found", "No record has this key.", 404)
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
