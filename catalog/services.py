"""Writes to the catalogue. Each checks the actor's role and records its audit event in its transaction."""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.events import EventType
from audit.services import Actor, change_detail, event_record, subject_hash
from core.errors import ErrorCode, PlatformError, validation_error
from registry.models import Department
from registry.policy import Perm, require

from .models import Dataset, DatasetStatus, DatasetVersion, Field, FieldType, MaskRule, Record, Sensitivity
from .search import open_records_count, search_document
from .signals import VersionChange, version_published


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
    masking: str = MaskRule.NONE
    mask_keep: int = 2
    mask_band: int = 10

    def as_list(self) -> list[Any]:
        return [self.name, self.type, self.sensitivity, self.is_lookup_key, self.is_subject_identifier,
                self.description, self.masking, self.mask_keep, self.mask_band]


#: The metadata a clerk edits freely, published or not (DCAT-AP 3 and the 政务信息资源目录; see
#: docs/catalogue-crosswalk.md). The identifier, owner, tier and schema follow their own rules.
METADATA_FIELDS = (
    "title", "description", "keywords", "themes", "legal_basis", "sharing_conditions", "sharing_method",
    "open_conditions", "licence", "grade", "personal_data", "resource_category", "resource_code",
    "resource_format", "related_resources", "update_frequency", "temporal_start", "temporal_end", "spatial",
    "language", "conforms_to", "contact_name", "contact_email", "contact_phone",
)


def _schema(dataset: Dataset) -> list[list[Any]]:
    return [FieldSpec(f.name, f.type, f.sensitivity, f.is_lookup_key, f.is_subject_identifier,
                      f.description, f.masking, f.mask_keep, f.mask_band).as_list() for f in dataset.fields.all()]


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def _dataset_values(dataset: Dataset) -> dict[str, Any]:
    return {"identifier": dataset.identifier, "owner": dataset.owner.code, "tier": dataset.tier,
            "status": dataset.status, "version": dataset.version,
            **{name: _json_value(getattr(dataset, name)) for name in METADATA_FIELDS},
            "fields": _schema(dataset)}


def _metadata_set(dataset: Dataset, metadata: dict[str, Any]) -> None:
    if unknown := sorted(set(metadata) - set(METADATA_FIELDS)):
        raise PlatformError(ErrorCode.INVALID_INPUT, _("Unknown dataset properties: %(names)s.")
                            % {"names": ", ".join(unknown)})
    for name, value in metadata.items():
        setattr(dataset, name, value.strip() if isinstance(value, str) else value)


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
        field.masking, field.mask_keep, field.mask_band = spec.masking, spec.mask_keep, spec.mask_band
        try:
            field.full_clean(exclude=["dataset"], validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            raise validation_error(exc) from exc
        fields.append(field)
    # The lookup key last: moving the key from one field to another never holds two keys at once.
    for field in sorted(fields, key=lambda f: f.is_lookup_key):
        field.save()


def _search_text_refresh(dataset: Dataset) -> None:
    dataset.search_text = search_document(dataset)
    Dataset.objects.filter(pk=dataset.pk).update(search_text=dataset.search_text)


def _dataset_validate(dataset: Dataset) -> None:
    try:
        dataset.full_clean(exclude=["owner"] if dataset.owner_id is None else None)
    except ValidationError as exc:
        raise validation_error(exc) from exc


def _schema_problems(dataset: Dataset, fields: list[Field]) -> list[str]:
    """Why this schema cannot be published, in words the clerk can act on (empty: it can)."""
    problems = []
    if not fields:
        problems.append(_("add at least one field"))
    if sum(f.is_lookup_key for f in fields) != 1:
        problems.append(_("mark exactly one field as the lookup key"))
    # A subject identifier may be a company's credit code: the sensitivity says whether it is personal.
    personal = [f.name for f in fields if f.sensitivity in (Sensitivity.PERSONAL, Sensitivity.SENSITIVE)]
    if personal and not dataset.personal_data:
        problems.append(_("tick 'holds personal information': %(fields)s are personal")
                        % {"fields": ", ".join(personal)})
    return problems


def dataset_register(*, actor: Any, owner: Department, identifier: str, title: str, tier: str,
                     fields: list[FieldSpec] | None = None, **metadata: Any) -> Dataset:
    """A clerk registers a draft dataset with its schema and metadata (``METADATA_FIELDS``); the event
    holds the whole registration."""
    dataset = Dataset(owner=owner, identifier=identifier, tier=tier)
    _metadata_set(dataset, {"title": title, **metadata})
    _require_clerk(actor, dataset)
    _dataset_validate(dataset)
    with transaction.atomic():
        try:
            with transaction.atomic():
                dataset.save(force_insert=True)
        except IntegrityError as exc:
            raise PlatformError(ErrorCode.CONFLICT, _("The identifier %(identifier)s or the resource code was "
                                                      "taken meanwhile; choose another.")
                                % {"identifier": identifier}) from exc
        _fields_replace(dataset, fields or [])
        _search_text_refresh(dataset)
        event_record(actor=Actor.for_user(actor), action=EventType.DATASET_REGISTERED,
                     object_id=dataset.identifier, detail={"new": _dataset_values(dataset)})
    return dataset


def dataset_update(*, actor: Any, dataset: Dataset, tier: str | None = None, owner: Department | None = None,
                   identifier: str | None = None, fields: list[FieldSpec] | None = None, note: str = "",
                   **metadata: Any) -> Dataset:
    """Edit a dataset's metadata (``METADATA_FIELDS``, given ones only). While it is a draft, its tier,
    owner, identifier and schema too. Once published, its identifier and owner are fixed (grants and
    URIs name them), and a changed tier or schema publishes a new version (``note`` says why); grants
    that lose a field are suspended by the exchange (``version_published``). The event holds the old
    and new values."""
    _require_clerk(actor, dataset)
    with transaction.atomic():
        current = Dataset.objects.select_for_update().select_related("owner").get(pk=dataset.pk)
        old = _dataset_values(current)
        published = current.status != DatasetStatus.DRAFT
        if published and any(value is not None and value != getattr(current, name)
                             for name, value in [("owner", owner), ("identifier", identifier)]):
            raise PlatformError(ErrorCode.INVALID_INPUT, _("A published dataset's identifier and owner are fixed: "
                                                           "grants and its address name them."))
        _metadata_set(current, metadata)
        if tier is not None and not published:
            current.tier = tier
        if not published:
            current.identifier = identifier if identifier is not None else current.identifier
            if owner is not None and owner.pk != current.owner_id:
                current.owner = owner
                _require_clerk(actor, current)  # moving it needs the clerk role in the new owner too
        new_version = published and (
            (tier is not None and tier != current.tier) or (fields is not None and
                                                             [s.as_list() for s in fields] != old["fields"]))
        if new_version:
            if tier is not None:
                current.tier = tier
            _dataset_validate(current)
            current.save()
            _version_publish(actor=actor, dataset=current, old=old, fields=fields, note=note)
        else:
            _dataset_validate(current)
            current.save()
            if fields is not None and not published:
                _fields_replace(current, fields)
        diff = change_detail(old, _dataset_values(current))
        if diff["changed"]:
            _search_text_refresh(current)
            event_record(actor=Actor.for_user(actor), action=EventType.DATASET_UPDATED,
                         object_id=current.identifier, detail=diff)
    return current


def _version_snapshot(dataset: Dataset, actor: Any, note: str = "") -> DatasetVersion:
    return DatasetVersion.objects.create(dataset=dataset, number=dataset.version, tier=dataset.tier,
                                         schema=_schema(dataset), note=note, published_at=timezone.now(),
                                         published_by=actor if getattr(actor, "pk", None) else None)


def _version_publish(*, actor: Any, dataset: Dataset, old: dict[str, Any], fields: list[FieldSpec] | None,
                     note: str) -> None:
    """Publish the next version of a published dataset (its tier or schema changed); the caller holds the
    transaction and the row lock."""
    old_fields = {spec[0]: FieldSpec(*spec) for spec in old["fields"]}
    if fields is not None:
        old_key = next((s.name for s in old_fields.values() if s.is_lookup_key), None)
        new_key = next((s.name for s in fields if s.is_lookup_key), None)
        if old_key != new_key:
            raise PlatformError(ErrorCode.INVALID_INPUT, _(
                "A published dataset keeps its lookup key (%(key)s): records and grants are found by it. "
                "Register a new dataset for another key.") % {"key": old_key})
        _fields_replace(dataset, fields)
    new_fields = {f.name: f for f in dataset.fields.all()}
    if problems := _schema_problems(dataset, list(new_fields.values())):
        raise PlatformError(ErrorCode.NOT_PUBLISHABLE, _("%(dataset)s cannot be published yet: %(problems)s.")
                            % {"dataset": dataset.identifier, "problems": "; ".join(problems)})
    if not note.strip():
        raise PlatformError(ErrorCode.INVALID_INPUT, _("Say what changed in this version and why: departments "
                                                       "that use the dataset are told."))
    change = VersionChange(
        dataset=dataset, old_version=dataset.version, version=dataset.version + 1,
        old_tier=old["tier"], tier=dataset.tier,
        added=[name for name in new_fields if name not in old_fields],
        removed=[name for name in old_fields if name not in new_fields],
        retyped=[name for name, f in new_fields.items() if name in old_fields and old_fields[name].type != f.type],
        note=note.strip(), actor=actor)
    dataset.version = change.version
    dataset.save(update_fields=["version", "updated_at"])
    _version_snapshot(dataset, actor, change.note)
    event_record(actor=Actor.for_user(actor), action=EventType.DATASET_VERSION_PUBLISHED,
                 object_id=dataset.identifier,
                 detail={"version": change.version, "note": change.note, "tier": [change.old_tier, change.tier],
                         "added": change.added, "removed": change.removed, "retyped": change.retyped})
    version_published.send(sender=Dataset, change=change)


def dataset_publish(*, dataset: Dataset, actor: Any) -> Dataset:
    """Publish a draft as version 1: it needs fields, exactly one lookup key, the personal-information
    flag if any field is personal, and the tier's rules (``Dataset.clean``)."""
    _require_clerk(actor, dataset)
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
        if dataset.status != DatasetStatus.DRAFT:
            raise PlatformError(ErrorCode.NOT_DRAFT, _("Only a draft can be published; the dataset's status is: "
                                                       "%(status)s.") % {"status": dataset.get_status_display()})
        fields = list(dataset.fields.all())
        problems = _schema_problems(dataset, fields)
        if not dataset.description.strip():
            problems.append(_("write a description (摘要): both catalogue standards require one"))
        try:
            dataset.full_clean()
        except ValidationError as exc:
            problems += [str(message).rstrip(".") for messages in exc.message_dict.values() for message in messages]
        if problems:
            raise PlatformError(ErrorCode.NOT_PUBLISHABLE, _("%(dataset)s cannot be published yet: %(problems)s.")
                                % {"dataset": dataset.identifier, "problems": "; ".join(problems)})
        dataset.status = DatasetStatus.PUBLISHED
        dataset.published_at = timezone.now()
        dataset.save(update_fields=["status", "published_at", "updated_at"])
        _version_snapshot(dataset, actor)
        event_record(actor=Actor.for_user(actor), action=EventType.DATASET_PUBLISHED,
                     object_id=dataset.identifier, detail={"tier": dataset.tier, "version": dataset.version,
                                                           "fields": [f.name for f in fields]})
    return dataset


def dataset_download_record(*, dataset: Dataset, generation: int, user: Any, fmt: str) -> int:
    """Record that someone (signed in or not) downloads an open dataset's records of ``generation``, before
    the first byte leaves: if the audit log cannot be written, PlatformError 503 and nothing is served.
    Returns how many records the file holds."""
    if not dataset.is_open:
        raise PlatformError(ErrorCode.FORBIDDEN, _("Only open data can be downloaded."))
    actor = Actor.for_user(user) if getattr(user, "is_authenticated", False) else Actor.anonymous()
    try:
        with transaction.atomic():
            rows = open_records_count(dataset, generation)
            event_record(actor=actor, action=EventType.DATASET_DOWNLOADED, object_id=dataset.identifier,
                         detail={"format": fmt, "rows": rows, "version": dataset.version})
    except DatabaseError as exc:
        raise PlatformError(ErrorCode.AUDIT_UNAVAILABLE) from exc
    return rows


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
