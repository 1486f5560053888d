"""The systems' API reads: my grants, one record, a page of records, a bulk lookup; open data to anyone.

Every call comes through the gateway (``gateway.caller_verify``). A read of shared data is served
under exactly one grant, never a merge of several: its purpose, its fields, its masking
(``terms.masks_for``), its row filter and its daily quota, all checked on this call against the
grant as the database has it now. An open dataset's records are served to anyone, signed or not,
and audited as open reads. Each call is one audit event, refusals included, that lists every
subject it touched as a keyed hash.
"""

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.events import EventType
from audit.models import AuditEvent
from audit.services import subject_hash
from catalog.models import Dataset, Field, FieldType, Record, Tier
from catalog.selectors import dataset_get_published, record_get
from core.db import one_statement
from core.errors import ErrorCode, PlatformError
from core.workdays import today as local_today

from .gateway import Caller, caller_verify, json_object, seconds_to_midnight
from .models import Grant, GrantDailyUsage, GrantState
from .selectors import grant_revoked_latest, grants_active, grants_of_consumer
from .terms import masks_for, record_present, row_filter_q, row_visible, terms_describe

LIST_LIMIT_DEFAULT = 100
LIST_LIMIT_MAX = 1000
LOOKUP_MAX_KEYS = 1000
#: Query parameters of the list that are not filters.
LIST_PARAMETERS = ("grant", "fields", "limit", "after")


@dataclass(frozen=True)
class ApiResult:
    body: dict[str, Any]
    event: AuditEvent


@dataclass
class Terms:
    """What one call is served under: the dataset, the fields, and the grant (None for open data)."""

    dataset: Dataset
    schema: dict[str, Field]
    grant: Grant | None
    names: list[str]
    masks: dict[str, str]

    @property
    def key_field(self) -> Field:
        return next(f for f in self.schema.values() if f.is_lookup_key)

    def present(self, record: Record) -> dict[str, Any]:
        if self.grant is None:
            return {name: record.data.get(name) for name in self.names}
        return record_present(self.grant, self.schema, record.data, self.names, self.masks)

    def visible(self, record: Record) -> bool:
        return self.grant is None or row_visible(self.grant, record.data)

    def header(self) -> dict[str, Any]:
        """What every answer says about the terms it was served under."""
        grant = self.grant
        return {"dataset": self.dataset.identifier, "grant": grant.pk if grant else None,
                "purpose": grant.purpose_code if grant else None,
                "masking": {name: rule for name, rule in self.masks.items() if name in self.names and rule != "none"}}


def subjects_of(terms: Terms, records: Iterable[Record], keys: Iterable[str] = ()) -> list[str]:
    """Keyed hashes of every subject a call touched: the keys asked for (when the key identifies a person or
    a company) and the subject identifiers among the fields served."""
    key_field = terms.key_field
    hashes = {subject_hash(key) for key in keys} if key_field.is_subject_identifier else set()
    subject_fields = [name for name in terms.names if terms.schema[name].is_subject_identifier]
    for record in records:
        if key_field.is_subject_identifier:
            hashes.add(subject_hash(record.key))
        hashes.update(subject_hash(str(record.data[name])) for name in subject_fields
                      if record.data.get(name) is not None)
    return sorted(hashes)


def _single(caller: Caller, request: HttpRequest, name: str) -> str | None:
    values = request.GET.getlist(name)
    if len(values) > 1:
        raise caller.refuse(ErrorCode.INVALID_INPUT, _("Give %(name)s once.") % {"name": name})
    return values[0] if values else None


def _fields_param(raw: str | None) -> list[str] | None:
    return list(dict.fromkeys(name.strip() for name in raw.split(",") if name.strip())) if raw else None


def _grant_param(caller: Caller, raw: Any) -> int | None:
    if raw is None:
        return None
    text = str(raw)
    if isinstance(raw, bool) or not (text.isascii() and text.isdigit() and len(text) < 19):
        raise caller.refuse(ErrorCode.BAD_GRANT)
    return int(text)


def _dataset(caller: Caller, identifier: str) -> Dataset:
    dataset = dataset_get_published(identifier=identifier, version=caller.version)
    if dataset is None:
        raise caller.refuse(ErrorCode.DATASET_NOT_FOUND, _("No published dataset is called '%(dataset)s'.") % {
            "dataset": identifier[:100]})
    return dataset


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


def terms_for(caller: Caller, dataset_identifier: str, *, grant: Any, fields: list[str] | None,
              keys: Sequence[str] = ()) -> Terms:
    """The dataset and the one grant this call is served under, or a refusal (audited). Once the dataset
    is known, the ``keys`` asked for are subjects of every event of the call, refusals included."""
    if not all(value.isprintable() for value in [dataset_identifier, *(fields or [])]):
        raise caller.refuse(ErrorCode.INVALID_CHARACTERS)
    grant_id = _grant_param(caller, grant)
    dataset = _dataset(caller, dataset_identifier)
    schema = {f.name: f for f in dataset.fields.all()}
    if next(f for f in schema.values() if f.is_lookup_key).is_subject_identifier:
        caller.note(subjects=sorted({subject_hash(key) for key in keys}))
    if unknown := [name for name in fields or [] if name not in schema]:
        raise caller.refuse(ErrorCode.UNKNOWN_FIELD, _("%(dataset)s has no field(s) %(unknown)s.") % {
            "dataset": dataset.identifier, "unknown": ", ".join(unknown)})
    if dataset.tier == Tier.OPEN:  # open data: every field, to anyone, audited as an open read
        caller.note(detail={"operation": caller.action.action})
        caller.action = EventType.OPEN_DATA_READ
        return Terms(dataset, schema, None, fields or list(schema), {})
    if caller.system is None:
        raise caller.refuse(ErrorCode.SIGNATURE_MISSING)
    now = timezone.now()
    in_force = grants_active(consumer=caller.system, dataset=dataset, at=now, version=caller.version)
    usable = [g for g in in_force if g.suspended_at is None]
    if in_force and not usable:
        raise caller.refuse(ErrorCode.GRANT_SUSPENDED, in_force[0].suspension_reason)
    if not usable:
        revoked = grant_revoked_latest(consumer=caller.system, dataset=dataset, at=now)
        if revoked is not None:  # told why, so the consumer's operators do not hunt for a fault
            raise caller.refuse(ErrorCode.GRANT_REVOKED, _("Grant %(grant)s was revoked: %(reason)s") % {
                "grant": revoked.pk, "reason": revoked.revocation_reason}, grant_id=revoked.pk,
                purpose=revoked.purpose_code)
        raise caller.refuse(ErrorCode.NO_GRANT, _("%(system)s holds no grant in force for %(dataset)s; file an "
                                                  "access request in the admin.") % {
            "system": caller.system.code, "dataset": dataset.identifier})
    chosen = _grant_choose(usable, grant_id=grant_id, fields=fields)
    if isinstance(chosen, PlatformError):
        raise caller.refuse_error(chosen)
    caller.note(grant_id=chosen.pk, purpose=chosen.purpose_code)
    names = fields if fields is not None else list(chosen.allowed_fields)
    if not_granted := [name for name in names if name not in chosen.allowed_fields]:
        raise caller.refuse(ErrorCode.FIELD_NOT_GRANTED, _("Grant %(grant)s does not cover %(fields)s; it allows "
                                                           "%(allowed)s.") % {
            "grant": chosen.pk, "fields": ", ".join(not_granted), "allowed": ", ".join(chosen.allowed_fields)})
    return Terms(dataset, schema, chosen, names, masks_for(chosen, schema))


def quota_take(caller: Caller, grant: Grant | None, count: int) -> None:
    """Count ``count`` records against the grant's daily quota, or refuse (429, Retry-After: midnight).

    One conditional UPDATE (or the day's first INSERT, and the UPDATE again when another call's INSERT came
    first), so two processes can never both take the last records of the quota, and the day's first calls
    arriving together are all counted, none refused.
    """
    if grant is None or grant.daily_quota is None or count == 0:
        return
    day = local_today()
    quota = grant.daily_quota
    if count <= quota:
        room = GrantDailyUsage.objects.filter(grant_id=grant.pk, day=day, records__lte=quota - count)
        if room.update(records=F("records") + count):
            return
        try:
            with one_statement():
                GrantDailyUsage.objects.create(grant_id=grant.pk, day=day, records=count)
            return
        except IntegrityError:  # another call made the day's row between the two: count in it, if there is room
            if room.update(records=F("records") + count):
                return
    used = GrantDailyUsage.objects.filter(grant_id=grant.pk, day=day).values_list("records", flat=True).first() or 0
    raise caller.refuse(ErrorCode.QUOTA_EXCEEDED, _(
        "Grant %(grant)s allows %(quota)d records a day; %(left)d are left today and this call needs %(count)d.") % {
        "grant": grant.pk, "quota": quota, "left": max(0, quota - used), "count": count},
        headers={"Retry-After": str(seconds_to_midnight())})


def _record_body(terms: Terms, record: Record, key: str | None) -> dict[str, Any]:
    return {"key": key, "version": record.version, "updated_at": record.updated_at.isoformat(),
            "fields": terms.present(record)}


def record_read(*, request: HttpRequest, dataset_identifier: str, key: str) -> ApiResult:
    """One record's fields under one grant (or open data): masked, inside the row filter, within quota."""
    caller = caller_verify(request, action=EventType.RECORD_READ, object_id=dataset_identifier, unsigned_allowed=True)
    fields = _fields_param(_single(caller, request, "fields"))
    grant = _single(caller, request, "grant")
    if not key.isprintable():
        raise caller.refuse(ErrorCode.INVALID_CHARACTERS)
    terms = terms_for(caller, dataset_identifier, grant=grant, fields=fields, keys=[key])
    record = record_get(dataset=terms.dataset, key=key)
    if record is None:
        raise caller.refuse(ErrorCode.RECORD_NOT_FOUND)
    if not terms.visible(record):  # outside the grant's rows: as if it did not exist
        raise caller.refuse(ErrorCode.RECORD_NOT_FOUND, detail=None)
    quota_take(caller, terms.grant, 1)
    header = terms.header()
    event = caller.record(subjects=subjects_of(terms, [record], [key]), detail={
        "fields": terms.names, "record_version": record.version, "masking": header["masking"]})
    return ApiResult(body={**header, **_record_body(terms, record, key)}, event=event)


def _cursor_encode(generation: int, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{generation}:{pk}".encode()).decode().rstrip("=")


def _cursor_decode(caller: Caller, raw: str, generation: int) -> int:
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
        cursor_generation, pk = (int(part) for part in text.split(":"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise caller.refuse(ErrorCode.BAD_CURSOR) from None
    if cursor_generation != generation:
        raise caller.refuse(ErrorCode.BAD_CURSOR, _("The dataset's records were reloaded since this cursor was "
                                                    "given; list again from the first page."))
    return pk


def _limit(caller: Caller, raw: str | None) -> int:
    if raw is None:
        return LIST_LIMIT_DEFAULT
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw[:6]) <= LIST_LIMIT_MAX):
        raise caller.refuse(ErrorCode.BAD_LIMIT, _("limit is a whole number from 1 to %(max)d.") % {
            "max": LIST_LIMIT_MAX})
    return int(raw)


def _filters(caller: Caller, request: HttpRequest, terms: Terms) -> dict[str, Any]:
    """``?field=value`` filters: only on fields the grant serves unmasked (a filter on a masked field would
    let a caller test values it may not see)."""
    filters: dict[str, Any] = {}
    for name in request.GET:
        if name in LIST_PARAMETERS:
            continue
        if name not in terms.schema:
            raise caller.refuse(ErrorCode.UNKNOWN_FIELD, _("%(dataset)s has no field %(field)s to filter on.") % {
                "dataset": terms.dataset.identifier, "field": name[:100]})
        value = _single(caller, request, name)
        assert value is not None
        filterable = terms.grant is None or (name in terms.grant.allowed_fields and terms.masks.get(name) == "none")
        if not filterable or not value.isprintable():
            allowed = [n for n in terms.schema if terms.grant is None or (
                n in terms.grant.allowed_fields and terms.masks.get(n) == "none")]
            raise caller.refuse(ErrorCode.FILTER_NOT_ALLOWED, _(
                "You can filter on %(allowed)s, not on %(field)s.") % {
                "allowed": ", ".join(allowed) or "-", "field": name[:100]})
        filters[name] = _typed(caller, terms.schema[name], value)
    return filters


def _typed(caller: Caller, field: Field, value: str) -> Any:
    """A filter's text as the value the record holds (records keep numbers and yes/no as JSON values)."""
    try:
        if field.type == FieldType.INTEGER:
            return int(value)
        if field.type == FieldType.NUMBER:
            number = float(value)
            return int(number) if number.is_integer() else number
        if field.type == FieldType.BOOLEAN:
            return {"true": True, "false": False}[value.lower()]
    except (ValueError, KeyError, OverflowError):
        raise caller.refuse(ErrorCode.INVALID_INPUT, _("%(field)s holds %(type)s values; %(value)s is not one.") % {
            "field": field.name, "type": field.get_type_display(), "value": value[:50]}) from None
    return value


def records_list(*, request: HttpRequest, dataset_identifier: str) -> ApiResult:
    """A page of records under one grant, in a stable order, with filters; ``next_cursor`` for the next page."""
    caller = caller_verify(request, action=EventType.RECORDS_LISTED, object_id=dataset_identifier,
                           unsigned_allowed=True)
    fields = _fields_param(_single(caller, request, "fields"))
    terms = terms_for(caller, dataset_identifier, grant=_single(caller, request, "grant"), fields=fields)
    limit = _limit(caller, _single(caller, request, "limit"))
    filters = _filters(caller, request, terms)
    generation = Dataset.objects.filter(pk=terms.dataset.pk).values_list("records_generation", flat=True).get()
    rows = Record.objects.filter(dataset=terms.dataset, generation=generation, deleted_at__isnull=True)
    if (after := _single(caller, request, "after")) is not None:
        rows = rows.filter(pk__gt=_cursor_decode(caller, after, generation))
    if terms.grant is not None:
        rows = rows.filter(row_filter_q(terms.grant))
    for name, value in filters.items():
        rows = rows.filter(**{f"data__{name}": value})
    page = list(rows.order_by("pk")[:limit + 1])
    more, page = len(page) > limit, page[:limit]
    quota_take(caller, terms.grant, len(page))
    header = terms.header()
    event = caller.record(subjects=subjects_of(terms, page), detail={
        "fields": terms.names, "filters": sorted(filters), "count": len(page), "masking": header["masking"]})
    # A listed record's key is served only when the grant serves the key field unmasked: a list must not
    # reveal the identifiers a grant withholds (the cursor is the record's position, never its key).
    key_name = terms.key_field.name
    key_served = terms.grant is None or (key_name in terms.grant.allowed_fields and terms.masks[key_name] == "none")
    records = [_record_body(terms, record, record.key if key_served else None) for record in page]
    return ApiResult(body={**header, "records": records,
                           "next_cursor": _cursor_encode(generation, page[-1].pk) if more else None}, event=event)


def _lookup_body(caller: Caller, request: HttpRequest) -> tuple[list[str], list[str] | None, Any]:
    """The lookup's JSON body: {"keys": [...], "fields": [...]?, "grant": n?}."""
    body = json_object(caller, request, {"keys", "fields", "grant"},
                       _('The body is a JSON object with "keys" and optionally "fields" and "grant".'))
    keys, fields = body.get("keys"), body.get("fields")
    if not isinstance(keys, list) or not all(isinstance(key, str) and key for key in keys):
        raise caller.refuse(ErrorCode.INVALID_JSON, _('"keys" is a list of non-empty texts.'))
    if fields is not None and not (isinstance(fields, list) and all(isinstance(f, str) for f in fields)):
        raise caller.refuse(ErrorCode.INVALID_JSON, _('"fields" is a list of field names.'))
    keys = list(dict.fromkeys(keys))
    if not 1 <= len(keys) <= LOOKUP_MAX_KEYS:
        raise caller.refuse(ErrorCode.TOO_MANY_KEYS, _("A lookup takes from 1 to %(max)d distinct keys; this one "
                                                       "has %(count)d.") % {"max": LOOKUP_MAX_KEYS,
                                                                             "count": len(keys)})
    if not all(key.isprintable() for key in keys):
        raise caller.refuse(ErrorCode.INVALID_CHARACTERS)
    return keys, (list(dict.fromkeys(fields)) if fields else None), body.get("grant")


def records_lookup(*, request: HttpRequest, dataset_identifier: str) -> ApiResult:
    """Up to 1,000 records by key in one call, one audit event listing every subject touched."""
    caller = caller_verify(request, action=EventType.RECORDS_LOOKED_UP, object_id=dataset_identifier,
                           unsigned_allowed=True)
    keys, fields, grant = _lookup_body(caller, request)
    terms = terms_for(caller, dataset_identifier, grant=grant, fields=fields, keys=keys)
    found = {record.key: record for record in Record.objects.filter(
        dataset=terms.dataset, generation=F("dataset__records_generation"), key__in=keys, deleted_at__isnull=True)
        if terms.visible(record)}
    quota_take(caller, terms.grant, len(found))
    header = terms.header()
    event = caller.record(subjects=subjects_of(terms, found.values(), keys), detail={
        "fields": terms.names, "asked": len(keys), "count": len(found), "masking": header["masking"]})
    return ApiResult(body={**header, "records": [_record_body(terms, found[key], key) for key in keys
                                                         if key in found],
                           "not_found": [key for key in keys if key not in found]}, event=event)


def _grant_body(grant: Grant, used: int) -> dict[str, Any]:
    schema = {f.name: f for f in grant.dataset.fields.all()}
    state = grant.state
    return {
        "id": grant.pk, "dataset": grant.dataset.identifier, "dataset_title": grant.dataset.title,
        "provider": grant.dataset.owner.code, "purpose": grant.purpose_code, "purpose_text": grant.purpose,
        "fields": list(grant.allowed_fields), **terms_describe(grant, schema),
        "valid_from": grant.valid_from.isoformat(), "valid_until": grant.valid_until.isoformat(),
        "state": str(state), "suspension_reason": grant.suspension_reason if state == GrantState.SUSPENDED else "",
        "daily_quota": grant.daily_quota, "used_today": used,
        "left_today": None if grant.daily_quota is None else max(0, grant.daily_quota - used),
    }


def grants_mine(*, request: HttpRequest) -> ApiResult:
    """What the calling system may read: its grants in force, not yet in force, or suspended."""
    caller = caller_verify(request, action=EventType.GRANTS_LISTED, object_id="")
    assert caller.system is not None
    caller.note(object_id=caller.system.code)
    grants = grants_of_consumer(consumer=caller.system, at=timezone.now())
    used = dict(GrantDailyUsage.objects.filter(grant__in=grants, day=local_today())
                .values_list("grant_id", "records"))
    event = caller.record(detail={"count": len(grants)})
    return ApiResult(body={"system": caller.system.code,
                           "grants": [_grant_body(grant, used.get(grant.pk, 0)) for grant in grants]}, event=event)

