"""Bulk export: a granted dataset to CSV or JSON Lines, made by a Celery job, downloaded once by a signed link.

``exports_create`` (a signed call) chooses the one grant and the fields exactly as a read does
(``reads.terms_for``), counts the records the export will hold (the row filter applied) and takes them
from the grant's daily quota, then queues ``exchange.export_run``. The job streams the records in key
order with bounded memory, masks each exactly as the read API does, writes a file only the platform can
read, hashes it as it goes and reports its progress; the file's SHA-256 is in the ``export.completed``
audit event. ``export_status`` gives the system that asked (and nobody else) the progress and, once
done, a link signed by the platform that expires after ``EXPORT_LINK_SECONDS``; the link downloads the
file once (the download is an audit event with the digest), after which the file is deleted. Files
never downloaded are deleted when their link expires (``exports_expire``, on beat).

CSV cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or
a carriage return) get a leading apostrophe.
"""

import csv
import datetime as dt
import hashlib
import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.events import EventType
from audit.services import Actor, event_record, subject_hash
from catalog.imports.values import value_text
from catalog.models import Dataset, Record
from core.csvcells import spreadsheet_safe
from core.errors import ErrorCode, PlatformError

from .gateway import Caller, audit_or_fail_closed, caller_verify, json_object, request_digest
from .models import ExportJob, ExportState, Grant, GrantState
from .reads import ApiResult, Terms, quota_take, terms_for
from .terms import masks_for, row_filter_q

FORMATS = ("csv", "jsonl")
CHUNK = 2000
#: An export's audit event lists its subjects up to this many; beyond, it says how many there were.
SUBJECTS_LISTED_MAX = 10_000
_SIGNER = signing.Signer(salt="exchange.export-link")


def exports_dir() -> Path:
    path = Path(settings.DATA_DIR) / "exports"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _file(job: ExportJob) -> Path:
    return exports_dir() / f"{job.uid}.{job.format}"


def _body(caller: Caller, request: HttpRequest) -> tuple[str, list[str] | None, Any]:
    shape = _('The body is a JSON object with "format" ("csv" or "jsonl") and optionally "fields" and "grant".')
    body = json_object(caller, request, {"format", "fields", "grant"}, shape)
    if body.get("format") not in FORMATS:
        raise caller.refuse(ErrorCode.INVALID_JSON, shape)
    fields = body.get("fields")
    if fields is not None and not (isinstance(fields, list) and fields and all(isinstance(f, str) for f in fields)):
        raise caller.refuse(ErrorCode.INVALID_JSON, _('"fields" is a list of field names.'))
    return body["format"], (list(dict.fromkeys(fields)) if fields else None), body.get("grant")


def _rows(dataset: Dataset, grant: Grant | None) -> Any:
    generation = Dataset.objects.filter(pk=dataset.pk).values_list("records_generation", flat=True).get()
    rows = Record.objects.filter(dataset=dataset, generation=generation, deleted_at__isnull=True)
    return rows.filter(row_filter_q(grant)) if grant is not None else rows


def exports_create(*, request: HttpRequest, dataset_identifier: str) -> ApiResult:
    """Queue an export of the dataset under one grant; its records count against the grant's quota now."""
    caller = caller_verify(request, action=EventType.EXPORT_REQUESTED, object_id=dataset_identifier)
    assert caller.system is not None
    fmt, fields, grant = _body(caller, request)
    terms = terms_for(caller, dataset_identifier, grant=grant, fields=fields)
    total = _rows(terms.dataset, terms.grant).count()
    quota_take(caller, terms.grant, total)
    with transaction.atomic():
        job = ExportJob.objects.create(system=caller.system, dataset=terms.dataset, grant=terms.grant, format=fmt,
                                       fields=terms.names, rows_total=total)
        event = caller.record(detail={"export": str(job.uid), "format": fmt, "fields": terms.names, "rows": total,
                                      "masking": terms.header()["masking"]})
        transaction.on_commit(lambda: _enqueue(job.pk))
    return ApiResult(body=_status_body(job), event=event)


def _enqueue(job_id: int) -> None:
    from .tasks import export_run_task

    export_run_task.delay(job_id)


def _cell(value: Any) -> str:
    return spreadsheet_safe(value_text(value))


def _lines(job: ExportJob, terms: Terms, key_served: bool) -> Iterator[tuple[bytes, int]]:
    """The file's bytes a chunk of records at a time, each with how many records it holds."""
    if job.format == "csv":
        buffer = io.StringIO()
        csv.writer(buffer).writerow((["key"] if key_served else []) + terms.names)
        yield buffer.getvalue().encode(), 0
    rows = _rows(job.dataset, job.grant).order_by("pk").only("pk", "key", "data")
    buffer, count = io.StringIO(), 0
    writer = csv.writer(buffer)
    for record in rows.iterator(chunk_size=CHUNK):
        values = terms.present(record)
        if job.format == "csv":
            writer.writerow(([_cell(record.key)] if key_served else []) + [_cell(values[n]) for n in terms.names])
        else:
            line = {"key": record.key, "fields": values} if key_served else {"fields": values}
            buffer.write(orjson.dumps(line).decode() + "\n")
        count += 1
        if count == CHUNK:
            yield buffer.getvalue().encode(), count
            buffer.seek(0)
            buffer.truncate()
            count = 0
    if count:
        yield buffer.getvalue().encode(), count


def export_run(*, job_id: int) -> ExportJob:
    """Make the export's file (the Celery task's body). Runs once: a job already claimed is left alone."""
    if not ExportJob.objects.filter(pk=job_id, state=ExportState.QUEUED).update(state=ExportState.RUNNING,
                                                                               started_at=timezone.now()):
        return ExportJob.objects.get(pk=job_id)
    job = ExportJob.objects.select_related("dataset", "grant", "system__department").get(pk=job_id)
    path, part = _file(job), _file(job).with_suffix(".part")
    try:
        schema = {f.name: f for f in job.dataset.fields.all()}
        grant = job.grant
        if grant is not None and grant.state_at(timezone.now()) != GrantState.ACTIVE:
            raise PlatformError(ErrorCode.NO_GRANT, _("The grant is no longer in force."))
        masks = masks_for(grant, schema) if grant is not None else {}
        terms = Terms(job.dataset, schema, grant, list(job.fields), masks)
        key_name = terms.key_field.name
        key_served = grant is None or (key_name in grant.allowed_fields and masks.get(key_name) == "none")
        digest, size, done, subjects = hashlib.sha256(), 0, 0, set()
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            for chunk, records in _lines(job, terms, key_served):
                handle.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                if records:
                    done += records
                    ExportJob.objects.filter(pk=job.pk).update(rows_done=min(done, job.rows_total))
        if terms.key_field.is_subject_identifier:
            subjects = set(_rows(job.dataset, grant).values_list("key", flat=True)[:SUBJECTS_LISTED_MAX + 1])
        part.rename(path)
        now = timezone.now()
        listed = len(subjects) <= SUBJECTS_LISTED_MAX
        with transaction.atomic():
            ExportJob.objects.filter(pk=job.pk).update(
                state=ExportState.DONE, rows_done=F("rows_total"), file_digest=digest.hexdigest(), file_size=size,
                finished_at=now, link_expires_at=now + dt.timedelta(seconds=settings.EXPORT_LINK_SECONDS))
            event_record(actor=Actor.for_system(job.system), action=EventType.EXPORT_COMPLETED,
                         object_id=job.dataset.identifier, grant_id=grant.pk if grant else None,
                         purpose=grant.purpose_code if grant else "",
                         subjects=[subject_hash(key) for key in subjects] if listed else [],
                         detail={"export": str(job.uid), "format": job.format, "fields": list(job.fields),
                                 "rows": job.rows_total, "file_digest": digest.hexdigest(), "file_size": size,
                                 "subjects_listed": listed,
                                 "masking": {n: r for n, r in masks.items() if r != "none" and n in job.fields}})
    except Exception as exc:
        part.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        reason = exc.message if isinstance(exc, PlatformError) else type(exc).__name__
        ExportJob.objects.filter(pk=job.pk).update(state=ExportState.FAILED, error=reason[:500],
                                                   finished_at=timezone.now())
        if not isinstance(exc, PlatformError):
            raise
    job.refresh_from_db()
    return job


def download_link(job: ExportJob) -> str | None:
    if job.state != ExportState.DONE or job.link_expires_at is None:
        return None
    expires = int(job.link_expires_at.timestamp())
    signature = _SIGNER.signature(f"{job.uid}:{expires}")
    return f"{reverse('export-download', args=[job.uid])}?expires={expires}&signature={signature}"


def _status_body(job: ExportJob) -> dict[str, Any]:
    return {"id": str(job.uid), "dataset": job.dataset.identifier, "grant": job.grant_id, "format": job.format,
            "fields": list(job.fields), "state": str(job.state), "rows_total": job.rows_total,
            "rows_done": job.rows_done, "file_digest": job.file_digest or None, "file_size": job.file_size,
            "error": job.error or None,
            "link_expires_at": job.link_expires_at.isoformat() if job.link_expires_at else None,
            "status_url": reverse("export-status", args=[job.uid]), "download_url": download_link(job)}


def export_status(*, request: HttpRequest, export_id: str) -> ApiResult:
    """The export's progress, to the system that asked for it; to anyone else it does not exist."""
    caller = caller_verify(request, action=EventType.EXPORT_STATUS, object_id=export_id)
    job = (ExportJob.objects.select_related("dataset").filter(uid=export_id, system=caller.system).first()
           if _is_uuid(export_id) else None)
    if job is None:
        raise caller.refuse(ErrorCode.EXPORT_NOT_FOUND)
    event = caller.record(detail={"export": str(job.uid), "state": str(job.state)})
    return ApiResult(body=_status_body(job), event=event)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class Download:
    """An open export file, already unlinked, with what its answer needs."""

    def __init__(self, job: ExportJob, handle: Any, event: Any) -> None:
        self.job, self.handle, self.event = job, handle, event


def export_download(*, request: HttpRequest, export_id: str, expires: str | None, signature: str | None) -> Download:
    """The file, once, to whoever holds the unexpired link (the link is the credential, not a request signature).

    Refusals are PlatformErrors (a link holder is not a verified system: nothing is logged one by one for
    them); the download itself is an audit event carrying the file's digest.
    """
    if not (_is_uuid(export_id) and expires and expires.isdigit() and signature):
        raise PlatformError(ErrorCode.EXPORT_LINK_INVALID)
    try:
        _SIGNER.unsign(f"{export_id}:{expires}:{signature}")
    except signing.BadSignature:
        raise PlatformError(ErrorCode.EXPORT_LINK_INVALID) from None
    if int(expires) < timezone.now().timestamp():
        raise PlatformError(ErrorCode.EXPORT_GONE, _("This link expired; ask for the export's status again or "
                                                     "create a new export."))
    job = ExportJob.objects.select_related("dataset", "system__department").filter(uid=export_id).first()
    now = timezone.now()
    if job is None or not ExportJob.objects.filter(pk=job.pk, state=ExportState.DONE).update(
            state=ExportState.DOWNLOADED, downloaded_at=now):
        raise PlatformError(ErrorCode.EXPORT_GONE)
    path = _file(job)
    handle = path.open("rb")
    path.unlink()  # the open handle keeps the bytes until the answer is sent; nobody can fetch them again
    event = audit_or_fail_closed(
        action=EventType.EXPORT_DOWNLOADED, actor=Actor.anonymous(), object_id=job.dataset.identifier,
        grant_id=job.grant_id, request_digest=request_digest(request),
        detail={"export": str(job.uid), "system": job.system.code, "file_digest": job.file_digest,
                "source": str(request.META.get("REMOTE_ADDR") or "")[:64]})
    return Download(job, handle, event)


def exports_expire(*, now: dt.datetime | None = None) -> int:
    """Delete the files of exports whose link expired before they were downloaded; return how many."""
    now = now or timezone.now()
    expired = 0
    for job in ExportJob.objects.filter(state=ExportState.DONE, link_expires_at__lt=now):
        if ExportJob.objects.filter(pk=job.pk, state=ExportState.DONE).update(state=ExportState.EXPIRED):
            _file(job).unlink(missing_ok=True)
            expired += 1
    return expired
