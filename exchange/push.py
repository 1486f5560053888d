"""Provider push: the owning department's system upserts and deletes its own dataset's records in signed batches.

``POST /api/v1/datasets/{id}/batches``, signed with ``content-digest`` covered (``registry.httpsig``
requires it for any body and checks it against the body). A batch is all or nothing: every value is
checked against its field's type exactly as an import checks it (``catalog.imports.values``), and one
problem refuses the whole batch with every problem listed. The writes, the batch's record and its
audit event commit in one transaction, so a batch is applied if and only if its event is in the log.

A batch is idempotent by the client's ``batch_id``: the same id with the same body answers the stored
result again (``replayed``) and writes nothing; the same id with another body is refused (409). While
an import of the dataset is being loaded the push is refused (409, Retry-After): the import stages
the next generation from the served one, and a write in between would be lost at the switch. The
dataset row is locked for the batch, and an import's claim takes the same lock, so the two never
interleave.
"""

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.events import EventType
from audit.services import subject_hash
from catalog.imports.values import parser_for, value_text
from catalog.models import Dataset, Field, ImportJob, ImportState, Record
from catalog.selectors import dataset_get_published
from core.errors import ErrorCode

from .gateway import Caller, caller_verify, json_object
from .models import RecordBatch
from .reads import ApiResult

MAX_OPERATIONS = 1000
BATCH_ID = re.compile(r"^[\x21-\x7e]{1,64}$")  # printable ASCII, no spaces
IMPORT_RETRY_SECONDS = 30


@dataclass
class Batch:
    batch_id: str
    upsert: list[dict[str, Any]]
    delete: list[str]


def _batch_parse(caller: Caller, request: HttpRequest) -> Batch:
    body = json_object(caller, request, {"batch_id", "upsert", "delete"}, _(
        'The body is a JSON object with "batch_id" and "upsert" (a list of records) and/or "delete" (a list of '
        'keys).'))
    batch_id, upsert, delete = body.get("batch_id"), body.get("upsert", []), body.get("delete", [])
    if not isinstance(batch_id, str) or not BATCH_ID.match(batch_id):
        raise caller.refuse(ErrorCode.INVALID_JSON, _('"batch_id" is your id for the batch: 1 to 64 printable ASCII '
                                                      'characters without spaces.'))
    if not isinstance(upsert, list) or not all(isinstance(row, dict) for row in upsert):
        raise caller.refuse(ErrorCode.INVALID_JSON, _('"upsert" is a list of records, each an object of field '
                                                      'values.'))
    if not isinstance(delete, list) or not all(isinstance(key, str) and key for key in delete):
        raise caller.refuse(ErrorCode.INVALID_JSON, _('"delete" is a list of record keys.'))
    if not 1 <= len(upsert) + len(delete) <= MAX_OPERATIONS:
        raise caller.refuse(ErrorCode.BATCH_TOO_LARGE, _("A batch holds from 1 to %(max)d operations; this one has "
                                                         "%(count)d.") % {"max": MAX_OPERATIONS,
                                                                          "count": len(upsert) + len(delete)})
    caller.note(detail={"batch_id": batch_id})
    return Batch(batch_id, upsert, delete)


def _rows_check(batch: Batch, schema: dict[str, Field]) -> tuple[list[tuple[str, dict[str, Any]]], list[dict]]:
    """Each upserted record as (key, typed values), and every problem as {row, field, message}. Messages never
    repeat a value (it may be a citizen's)."""
    key_field = next(f for f in schema.values() if f.is_lookup_key)
    parsers = {name: parser_for(field.type) for name, field in schema.items()}
    rows: list[tuple[str, dict[str, Any]]] = []
    problems: list[dict[str, Any]] = []
    for index, row in enumerate(batch.upsert):
        values: dict[str, Any] = {}
        for name in row:
            if name not in schema:
                problems.append({"row": index, "field": str(name)[:63], "message": _("The dataset has no such field.")})
        for name in schema:
            try:
                values[name] = parsers[name](row.get(name))
            except ValueError as exc:
                problems.append({"row": index, "field": name, "message": str(exc)})
        key = value_text(values.get(key_field.name))
        if not key:
            problems.append({"row": index, "field": key_field.name, "message": _("The lookup key is required.")})
        elif not key.isprintable() or len(key) > 255:
            problems.append({"row": index, "field": key_field.name,
                             "message": _("A key is at most 255 printable characters.")})
        rows.append((key, values))
    keys = [key for key, _values in rows]
    for key in {k for k in keys if keys.count(k) > 1 and k}:
        problems.append({"row": keys.index(key), "field": key_field.name,
                         "message": _("The same key is upserted twice in the batch.")})
    both = set(keys) & set(batch.delete)
    for key in both:
        problems.append({"row": keys.index(key), "field": key_field.name,
                         "message": _("The same key is upserted and deleted in one batch.")})
    return rows, problems


def _replayed(caller: Caller, stored: RecordBatch, digest: str) -> ApiResult:
    if stored.body_digest != digest:
        raise caller.refuse(ErrorCode.BATCH_ID_REUSED, _(
            "Batch %(batch)s was already applied with another body; give every batch its own id.") % {
            "batch": stored.batch_id})
    event = caller.record(detail={"body_digest": digest, "replayed": True, **{
        name: stored.result.get(name) for name in ("upserted", "deleted")}, "not_found": len(
            stored.result.get("not_found", []))})
    return ApiResult(body={**stored.result, "replayed": True}, event=event)


def records_push(*, request: HttpRequest, dataset_identifier: str) -> ApiResult:
    caller = caller_verify(request, action=EventType.RECORDS_PUSHED, object_id=dataset_identifier)
    assert caller.system is not None
    system = caller.system
    dataset = dataset_get_published(identifier=dataset_identifier, version=caller.version)
    if dataset is None:
        raise caller.refuse(ErrorCode.DATASET_NOT_FOUND, _("No published dataset is called '%(dataset)s'.") % {
            "dataset": dataset_identifier[:100]})
    if dataset.owner_id != system.department_id:  # before the body is read: nothing of it is any of theirs
        raise caller.refuse(ErrorCode.NOT_THE_PROVIDER, _(
            "%(dataset)s is provided by %(owner)s: only its systems may write its records.") % {
            "dataset": dataset.identifier, "owner": dataset.owner.code})
    batch = _batch_parse(caller, request)
    digest = hashlib.sha256(request.body).hexdigest()
    stored = RecordBatch.objects.filter(system=system, batch_id=batch.batch_id).first()
    if stored is not None:
        return _replayed(caller, stored, digest)
    schema = {f.name: f for f in dataset.fields.all()}
    rows, problems = _rows_check(batch, schema)
    if problems:
        raise caller.refuse(ErrorCode.RECORDS_INVALID, _("The batch has %(count)d problem(s); nothing of it was "
                                                         "written. The detail lists them.") % {
            "count": len(problems)}, detail=problems[:200])
    key_field = next(f for f in schema.values() if f.is_lookup_key)
    keys = [key for key, _values in rows] + batch.delete
    if key_field.is_subject_identifier:
        caller.note(subjects=sorted({subject_hash(key) for key in keys}))
    try:
        return _apply(caller, dataset, batch, rows, digest)
    except _ImportRunning:
        raise caller.refuse(ErrorCode.IMPORT_IN_PROGRESS, headers={"Retry-After": str(IMPORT_RETRY_SECONDS)}) from None
    except IntegrityError:  # the same batch id committed by another process meanwhile
        stored = RecordBatch.objects.get(system=system, batch_id=batch.batch_id)
        return _replayed(caller, stored, digest)


class _ImportRunning(Exception):
    pass


def _apply(caller: Caller, dataset: Dataset, batch: Batch, rows: list[tuple[str, dict[str, Any]]],
           digest: str) -> ApiResult:
    assert caller.system is not None
    with transaction.atomic():
        locked = Dataset.objects.select_for_update().get(pk=dataset.pk)
        if ImportJob.objects.filter(dataset=locked, state=ImportState.APPLYING).exists():
            raise _ImportRunning
        record = RecordBatch.objects.create(system=caller.system, dataset=locked, batch_id=batch.batch_id,
                                            body_digest=digest, result={})
        generation, now = locked.records_generation, timezone.now()
        keys = [key for key, _values in rows] + batch.delete
        existing = {r.key: r for r in Record.objects.select_for_update().filter(
            dataset=locked, generation=generation, key__in=keys)}
        created, changed = [], []
        for key, values in rows:
            current = existing.get(key)
            if current is None:
                created.append(Record(dataset=locked, generation=generation, key=key, data=values, updated_at=now))
            else:
                current.data, current.version, current.updated_at, current.deleted_at = (
                    values, current.version + 1, now, None)
                changed.append(current)
        not_found = []
        for key in batch.delete:
            current = existing.get(key)
            if current is None or current.deleted_at is not None:
                not_found.append(key)
                continue
            current.version, current.updated_at, current.deleted_at = current.version + 1, now, now
            changed.append(current)
        Record.objects.bulk_create(created, batch_size=500)
        Record.objects.bulk_update(changed, ["data", "version", "updated_at", "deleted_at"], batch_size=500)
        result = {"dataset": locked.identifier, "batch_id": batch.batch_id, "upserted": len(rows),
                  "deleted": len(batch.delete) - len(not_found), "not_found": not_found, "body_digest": digest,
                  "replayed": False}
        record.result = result
        record.save(update_fields=["result"])
        event = caller.record(detail={"body_digest": digest, "upserted": len(rows), "replayed": False,
                                      "deleted": result["deleted"], "not_found": len(not_found)})
    return ApiResult(body=result, event=event)

