"""Writes to the catalogue. Each checks the actor's role and records its audit event in its transaction."""

import csv
import datetime as dt
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.events import EventType
from audit.services import Actor, change_detail, event_record, subject_hash
from core.errors import ErrorCode, PlatformError, validation_error
from registry.models import Department
from registry.policy import Perm, require

from .models import Dataset, DatasetStatus, Field, FieldType, Record, Sensitivity, Tier

MAX_REPORTED_ERRORS = 100
MAX_KEY_LENGTH = Record._meta.get_field("key").max_length or 255


def _require_clerk(user: Any, dataset: Dataset) -> None:
    require(user, Perm.DATASET_MANAGE, dataset,
            _("Only clerks of %(department)s may change this dataset.") % {"department": dataset.owner})


@dataclass(frozen=True)
class FieldSpec:
    """One field of a dataset's schema, as a clerk defines it."""

    name: str
    type: str = FieldType.STRING
    sensitivity: str = Sensitivity.INTERNAL
    is_lookup_key: bool = False
    is_subject_identifier: bool = False
    description: str = ""

    def as_list(self) -> list[Any]:
        return [self.name, self.type, self.sensitivity, self.is_lookup_key, self.is_subject_identifier,
                self.description]


def _schema(dataset: Dataset) -> list[list[Any]]:
    return [FieldSpec(f.name, f.type, f.sensitivity, f.is_lookup_key, f.is_subject_identifier,
                      f.description).as_list() for f in dataset.fields.all()]


def _dataset_values(dataset: Dataset) -> dict[str, Any]:
    return {"identifier": dataset.identifier, "owner": dataset.owner.code, "title": dataset.title,
            "description": dataset.description, "tier": dataset.tier, "legal_basis": dataset.legal_basis,
            "status": dataset.status, "fields": _schema(dataset)}


def _fields_replace(dataset: Dataset, specs: list[FieldSpec]) -> None:
    """Make the dataset's fields exactly ``specs``, in order (matched by name; a renamed field is new)."""
    names = [spec.name for spec in specs]
    if repeated := sorted({n for n in names if names.count(n) > 1}):
        raise PlatformError(ErrorCode.INVALID_INPUT, _("Each field name may be used once: %(names)s.")
                            % {"names": ", ".join(repeated)})
    if sum(spec.is_lookup_key for spec in specs) > 1:
        raise PlatformError(ErrorCode.INVALID_INPUT, _("Mark only one field as the lookup key."))
    existing = {f.name: f for f in dataset.fields.all()}
    dataset.fields.exclude(name__in=names).delete()
    fields = []
    for position, spec in enumerate(specs):
        field = existing.get(spec.name) or Field(dataset=dataset, name=spec.name)
        field.type, field.sensitivity, field.description = spec.type, spec.sensitivity, spec.description
        field.is_lookup_key, field.is_subject_identifier, field.position = (
            spec.is_lookup_key, spec.is_subject_identifier, position)
        try:
            field.full_clean(exclude=["dataset"], validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            raise validation_error(exc) from exc
        fields.append(field)
    # The lookup key last: moving the key from one field to another never holds two keys at once.
    for field in sorted(fields, key=lambda f: f.is_lookup_key):
        field.save()


def _dataset_validate(dataset: Dataset) -> None:
    try:
        dataset.full_clean(exclude=["owner"] if dataset.owner_id is None else None)
    except ValidationError as exc:
        raise validation_error(exc) from exc


def dataset_register(*, actor: Any, owner: Department, identifier: str, title: str, tier: str,
                     description: str = "", legal_basis: str = "", fields: list[FieldSpec] | None = None) -> Dataset:
    """A clerk registers a draft dataset with its schema; the event holds the whole registration."""
    dataset = Dataset(owner=owner, identifier=identifier, title=title, tier=tier, description=description,
                      legal_basis=legal_basis)
    _require_clerk(actor, dataset)
    _dataset_validate(dataset)
    with transaction.atomic():
        try:
            with transaction.atomic():
                dataset.save(force_insert=True)
        except IntegrityError as exc:
            raise PlatformError(ErrorCode.CONFLICT, _("The identifier %(identifier)s was taken meanwhile; choose "
                                                      "another.") % {"identifier": identifier}) from exc
        _fields_replace(dataset, fields or [])
        event_record(actor=Actor.for_user(actor), action=EventType.DATASET_REGISTERED,
                     object_id=dataset.identifier, detail={"new": _dataset_values(dataset)})
    return dataset


def dataset_update(*, actor: Any, dataset: Dataset, title: str, description: str, legal_basis: str,
                   tier: str | None = None, owner: Department | None = None, identifier: str | None = None,
                   fields: list[FieldSpec] | None = None) -> Dataset:
    """Edit a dataset. Once published, its identifier, owner, tier and schema are fixed (grants name
    them): only the title, description and legal basis change. The event holds the old and new values."""
    _require_clerk(actor, dataset)
    with transaction.atomic():
        current = Dataset.objects.select_for_update().select_related("owner").get(pk=dataset.pk)
        old = _dataset_values(current)
        fixed = current.status != DatasetStatus.DRAFT
        if fixed and (fields is not None or any(
                value is not None and value != getattr(current, name)
                for name, value in [("tier", tier), ("owner", owner), ("identifier", identifier)])):
            raise PlatformError(ErrorCode.INVALID_INPUT, _("A published dataset's identifier, owner, tier and "
                                                           "fields are fixed: grants name them."))
        current.title, current.description, current.legal_basis = title, description, legal_basis
        if not fixed:
            current.tier = tier if tier is not None else current.tier
            current.identifier = identifier if identifier is not None else current.identifier
            if owner is not None and owner.pk != current.owner_id:
                current.owner = owner
                _require_clerk(actor, current)  # moving it needs the clerk role in the new owner too
        _dataset_validate(current)
        current.save()
        if fields is not None:
            _fields_replace(current, fields)
        diff = change_detail(old, _dataset_values(current))
        if diff["changed"]:
            event_record(actor=Actor.for_user(actor), action=EventType.DATASET_UPDATED,
                         object_id=current.identifier, detail=diff)
    return current


def dataset_publish(*, dataset: Dataset, actor: Any) -> Dataset:
    """Publish a draft: it needs fields, exactly one lookup key, and (if not shared) a legal basis."""
    _require_clerk(actor, dataset)
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
        if dataset.status != DatasetStatus.DRAFT:
            raise PlatformError(ErrorCode.NOT_DRAFT, _("Only a draft can be published; the dataset's status is: "
                                                       "%(status)s.") % {"status": dataset.get_status_display()})
        fields = list(dataset.fields.all())
        problems = []
        if not fields:
            problems.append(_("add at least one field"))
        if sum(f.is_lookup_key for f in fields) != 1:
            problems.append(_("mark exactly one field as the lookup key"))
        if dataset.tier == Tier.NOT_SHARED and not dataset.legal_basis.strip():
            problems.append(_("cite the legal basis for not sharing"))
        if problems:
            raise PlatformError(ErrorCode.NOT_PUBLISHABLE, _("%(dataset)s cannot be published yet: %(problems)s.")
                                % {"dataset": dataset.identifier, "problems": "; ".join(problems)})
        dataset.status = DatasetStatus.PUBLISHED
        dataset.published_at = timezone.now()
        dataset.save(update_fields=["status", "published_at", "updated_at"])
        event_record(actor=Actor.for_user(actor), action=EventType.DATASET_PUBLISHED,
                     object_id=dataset.identifier, detail={"tier": dataset.tier, "version": dataset.version,
                                                           "fields": [f.name for f in fields]})
    return dataset


def record_view(*, viewer: Any, record: Record) -> Record:
    """A clerk of the owning department opens a record's contents in the admin: audited like an API read,
    with the keyed hashes of the subject identifiers it holds (never the identifiers themselves)."""
    require(viewer, Perm.RECORD_VIEW, record, _("Only clerks of the owning department see a record's contents."))
    subjects = [subject_hash(str(record.data.get(f.name))) for f in record.dataset.fields.all()
                if f.is_subject_identifier and record.data.get(f.name) is not None]
    with transaction.atomic():
        event_record(actor=Actor.for_user(viewer), action=EventType.RECORD_VIEWED, object_id=str(record.pk),
                     subjects=subjects, detail={"dataset": record.dataset.identifier,
                                                "record_version": record.version})
    return record


@dataclass
class RowError:
    row: int  # line in the file; 1 is the header
    column: str
    message: str


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    more_errors: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def add_error(self, row: int, column: str, message: str) -> None:
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RowError(row, column, message))
        else:
            self.more_errors += 1


def field_value_parse(field_type: str, raw: str) -> Any:
    """A CSV cell as the field's JSON value; raises ValueError with a message saying what to fix."""
    raw = raw.strip()
    if raw == "":
        return None
    if field_type == FieldType.STRING:
        return raw
    if field_type == FieldType.INTEGER:
        try:
            return int(raw)
        except ValueError:
            raise ValueError(_("'%(value)s' is not a whole number") % {"value": raw}) from None
    if field_type == FieldType.NUMBER:
        try:
            number = float(raw)
        except ValueError:
            raise ValueError(_("'%(value)s' is not a number") % {"value": raw}) from None
        if not math.isfinite(number):
            raise ValueError(_("'%(value)s' is not a finite number") % {"value": raw})
        return number
    if field_type == FieldType.BOOLEAN:
        lowered = raw.lower()
        if lowered in {"true", "yes", "1", "y"}:
            return True
        if lowered in {"false", "no", "0", "n"}:
            return False
        raise ValueError(_("'%(value)s' is not yes/no (use true/false, yes/no or 1/0)") % {"value": raw})
    if field_type == FieldType.DATE:
        try:
            return dt.date.fromisoformat(raw).isoformat()
        except ValueError:
            raise ValueError(_("'%(value)s' is not a date in the form YYYY-MM-DD") % {"value": raw}) from None
    raise ValueError(_("unknown field type %(type)s") % {"type": field_type})


def _record_key(value: Any) -> str:
    """The lookup key as it appears in the API's URL: text as is, other types as their JSON spelling."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _header_problems(header: list[str], names: list[str]) -> list[str]:
    problems = []
    if missing := [n for n in names if n not in header]:
        problems.append(_("missing columns: %(columns)s") % {"columns": ", ".join(missing)})
    if unknown := [h for h in header if h not in names]:
        problems.append(_("columns not in the schema: %(columns)s") % {"columns": ", ".join(unknown)})
    if repeated := sorted({h for h in header if header.count(h) > 1}):
        problems.append(_("columns named twice: %(columns)s") % {"columns": ", ".join(repeated)})
    return problems


def _parse_csv(content: bytes, fields: list[Field], report: ImportReport) -> dict[str, dict[str, Any]]:
    """Rows by key; every problem goes to the report with the line it starts on (1 is the header)."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        report.add_error(1, "", _("The file is not UTF-8 text; save it as CSV UTF-8 and upload it again."))
        return {}
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader, [])]
    except csv.Error as exc:
        report.add_error(1, "", _("The header is not valid CSV: %(error)s.") % {"error": exc})
        return {}
    names = [f.name for f in fields]
    if problems := _header_problems(header, names):
        report.add_error(1, "", _("The header must name exactly the dataset's fields (%(problems)s).")
                         % {"problems": "; ".join(problems)})
        return {}
    column = {name: header.index(name) for name in names}
    key_field = next(f for f in fields if f.is_lookup_key)
    records: dict[str, dict[str, Any]] = {}
    first_seen: dict[str, int] = {}
    while True:
        line = reader.line_num + 1  # where the next row starts; a quoted cell may span lines
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            report.add_error(line, "", _("The file is not valid CSV from here on: %(error)s.") % {"error": exc})
            break
        if not cells:
            continue  # a blank line
        report.rows += 1
        if len(cells) != len(header):
            report.add_error(line, "", _("The row has %(cells)d cells; the header has %(columns)d columns.")
                             % {"cells": len(cells), "columns": len(header)})
            continue
        data: dict[str, Any] = {}
        for f in fields:
            raw = cells[column[f.name]]
            if "\x00" in raw:
                report.add_error(line, f.name, _("The cell contains a NUL character; remove it."))
                continue
            try:
                data[f.name] = field_value_parse(f.type, raw)
            except ValueError as exc:
                report.add_error(line, f.name, str(exc))
        key = _record_key(data.get(key_field.name))
        if not key:
            if key_field.name in data:
                report.add_error(line, key_field.name, _("The lookup key may not be empty."))
        elif len(key) > MAX_KEY_LENGTH:
            report.add_error(line, key_field.name, _("The lookup key is longer than %(max)d characters.")
                             % {"max": MAX_KEY_LENGTH})
        elif "/" in key or not key.isprintable():
            report.add_error(line, key_field.name, _("The lookup key may not contain '/' or control characters: "
                                                     "it is part of the record's API address."))
        elif key in first_seen:
            report.add_error(line, key_field.name,
                             _("Duplicate key: also on line %(line)d.") % {"line": first_seen[key]})
        else:
            first_seen[key] = line
            records[key] = data
    return records


def records_import_csv(*, dataset: Dataset, content: bytes, actor: Any) -> ImportReport:
    """Load records from CSV, all or nothing: any bad row and nothing is written; the report says why.

    The header must name exactly the dataset's fields. Existing keys are updated (version + 1).
    """
    _require_clerk(actor, dataset)
    fields = list(dataset.fields.all())
    if sum(f.is_lookup_key for f in fields) != 1:
        raise PlatformError(ErrorCode.NO_LOOKUP_KEY, _("Define the dataset's fields and mark one as the lookup key "
                                                       "before loading records."))
    report = ImportReport()
    records = _parse_csv(content, fields, report)
    if not report.ok:
        return report
    with transaction.atomic():
        _records_write(dataset=dataset, records=records, report=report, now=timezone.now(), actor=actor)
    return report


def _records_write(*, dataset: Dataset, records: dict[str, dict[str, Any]], report: ImportReport,
                   now: dt.datetime, actor: Any) -> None:
    """Create or update the parsed records and record the import's event; the caller holds the transaction."""
    existing = {r.key: r for r in Record.objects.select_for_update().filter(dataset=dataset, key__in=records)}
    to_create, to_update = [], []
    for key, data in records.items():
        record = existing.get(key)
        if record is None:
            to_create.append(Record(dataset=dataset, key=key, data=data, updated_at=now))
        else:
            record.data, record.version, record.updated_at, record.deleted_at = data, record.version + 1, now, None
            to_update.append(record)
    try:
        Record.objects.bulk_create(to_create, batch_size=1000)
    except IntegrityError as exc:  # another import added one of these keys meanwhile; all is rolled back
        raise PlatformError(ErrorCode.CONFLICT, _("Another import changed these records at the same time; nothing "
                                                  "was loaded. Upload the file again.")) from exc
    Record.objects.bulk_update(to_update, ["data", "version", "updated_at", "deleted_at"], batch_size=1000)
    report.created, report.updated = len(to_create), len(to_update)
    event_record(actor=Actor.for_user(actor), action=EventType.RECORDS_IMPORTED,
                 object_id=dataset.identifier,
                 detail={"rows": report.rows, "created": report.created, "updated": report.updated})
