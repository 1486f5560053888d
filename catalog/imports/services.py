"""Import jobs: upload a file, check it (the dry run), then apply it, all or nothing.

The check streams the file (``readers``), types each cell (``values``) and stages every row with a
usable key in ``ImportRow``, a batch per short transaction; duplicate keys are then found by SQL. Its
report is the job's ``ImportProblem`` rows. A checked file without problems can be applied:

- the next records generation is staged in short transactions: the file's rows (version one more than
  the key's record, 1 for a new key) and, for "upsert by key", copies of the records the file does not
  name; for "replace all", the file's rows only;
- ONE short transaction switches ``Dataset.records_generation`` to it and records the event, so readers
  see the old records or the new ones, never a mixture; it switches only while the dataset still has
  the version the file was checked against (``ImportJob.dataset_version``);
- the old generation is then deleted in batches. A failure before the switch deletes the staged
  generation: the served records are untouched.

One import at a time per dataset: a unique constraint on the jobs being applied refuses a second one.
"""

import datetime as dt
import hashlib
import logging
import os
import secrets
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.events import EventType
from audit.services import Actor, event_record
from core.errors import ErrorCode, PlatformError
from registry.policy import Perm, require
from registry.versions import access_version_bump

from ..models import (
    Dataset,
    Field,
    ImportJob,
    ImportMode,
    ImportProblem,
    ImportProblemKind,
    ImportState,
    Record,
    Sensitivity,
)
from . import staging
from .readers import ENCODING_LABELS, CellProblem, SourceRow, Table, format_detect, open_table
from .values import parser_for, value_shown, value_text

logger = logging.getLogger(__name__)

MAX_STORED_PROBLEMS = 1000  # a report lists this many; the job counts them all
CHECK_BATCH = 2000
STALE_AFTER = dt.timedelta(minutes=10)
MAX_KEY_LENGTH = Record._meta.get_field("key").max_length or 255
_PERSONAL = (Sensitivity.PERSONAL, Sensitivity.SENSITIVE)


def imports_dir() -> Path:
    """Where uploads wait to be checked (the setting ``IMPORTS_DIR``). With Celery workers on other
    machines it must be storage they share."""
    return Path(settings.IMPORTS_DIR)


def max_upload_bytes() -> int:
    """The largest file accepted (the setting ``IMPORT_MAX_UPLOAD_BYTES``)."""
    return int(settings.IMPORT_MAX_UPLOAD_BYTES)


def _require_clerk(actor: Any, dataset: Dataset) -> None:
    require(actor, Perm.DATASET_MANAGE, dataset,
            _("Only clerks of %(department)s may load records into %(dataset)s.")
            % {"department": dataset.owner, "dataset": dataset.identifier})


def _actor(user: Any) -> Actor:
    return Actor.for_user(user) if user is not None else Actor("system", "catalog.imports")


# --- Files ---

@dataclass(frozen=True)
class StoredFile:
    """An upload saved in the imports folder."""

    stored_name: str
    file_name: str
    size: int
    digest: str
    format: str

    @property
    def path(self) -> Path:
        return imports_dir() / self.stored_name


def _chunks(source: Path | bytes | Iterable[bytes]) -> Iterable[bytes]:
    if isinstance(source, bytes):
        yield source
    elif isinstance(source, Path):
        with source.open("rb") as handle:
            while chunk := handle.read(1024 * 1024):
                yield chunk
    else:
        yield from source


def file_store(*, source: Path | bytes | Iterable[bytes], file_name: str) -> StoredFile:
    """Save an upload to the imports folder (mode 0600) a chunk at a time, with its SHA-256; refuse one
    larger than ``max_upload_bytes()`` or of a format the platform does not read."""
    limit = max_upload_bytes()
    folder = imports_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    _uploads_purge(folder)
    stored_name = secrets.token_hex(16)
    path = folder / stored_name
    digest, size, head = hashlib.sha256(), 0, b""
    try:
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
            for chunk in _chunks(source):
                size += len(chunk)
                if size > limit:
                    raise PlatformError(ErrorCode.INVALID_INPUT, _(
                        "The file is larger than %(mb)d MB; split it into several files.")
                        % {"mb": limit // (1024 * 1024)})
                if len(head) < 8:
                    head += chunk[:8]
                digest.update(chunk)
                handle.write(chunk)
        fmt = format_detect(file_name, head)
        if fmt is None:
            raise PlatformError(ErrorCode.INVALID_INPUT, _(
                "Upload a CSV (.csv), Excel workbook (.xlsx) or JSON Lines (.jsonl) file; an old Excel file "
                "(.xls) must be saved as .xlsx first."))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return StoredFile(stored_name, Path(file_name).name[:255] or "upload", size, digest.hexdigest(), fmt)


def _uploads_purge(folder: Path, max_age: dt.timedelta = dt.timedelta(days=1)) -> None:
    """Delete uploads left behind (a schema proposal never confirmed, a job that died) after a day."""
    waiting = set(ImportJob.objects.filter(state__in=[ImportState.UPLOADED, ImportState.CHECKING])
                  .values_list("stored_name", flat=True))
    cutoff = time.time() - max_age.total_seconds()
    for entry in os.scandir(folder):
        if entry.name not in waiting and entry.is_file() and entry.stat().st_mtime < cutoff:
            Path(entry.path).unlink(missing_ok=True)


def _file_drop(job: ImportJob) -> None:
    if job.stored_name:
        (imports_dir() / job.stored_name).unlink(missing_ok=True)


# --- Upload ---

def import_upload(*, dataset: Dataset, actor: Any, source: Path | bytes | Iterable[bytes] | StoredFile,
                  file_name: str = "", mode: str = ImportMode.UPSERT, columns: list[str] | None = None) -> ImportJob:
    """A clerk uploads a file of records for the dataset: it is saved and waits to be checked."""
    _require_clerk(actor, dataset)
    if sum(f.is_lookup_key for f in dataset.fields.all()) != 1:
        raise PlatformError(ErrorCode.NO_LOOKUP_KEY, _("Define the dataset's fields and mark one as the lookup "
                                                       "key before loading records."))
    if mode not in ImportMode.values:
        raise PlatformError(ErrorCode.INVALID_INPUT, _("Choose replace all or upsert by key."))
    if not isinstance(source, StoredFile):
        name = file_name or (source.name if isinstance(source, Path) else "records.csv")
        source = file_store(source=source, file_name=name)
    return ImportJob.objects.create(
        dataset=dataset, created_by=actor if getattr(actor, "pk", None) else None, file_name=source.file_name,
        stored_name=source.stored_name, file_size=source.size, file_digest=source.digest, format=source.format,
        mode=mode, columns=columns or [])


# --- Check (the dry run) ---

def _personal(field: Field | None) -> bool:
    return field is None or field.is_subject_identifier or field.sensitivity in _PERSONAL


class _Problems:
    """A check's problems: all counted, the first MAX_STORED_PROBLEMS kept (saved with each batch), each
    value shortened and masked where the field is personal (or unknown)."""

    def __init__(self, job: ImportJob, fields_by_column: dict[str, Field]) -> None:
        self.job, self.fields = job, fields_by_column
        self.count = 0
        self.pending: list[ImportProblem] = []

    def add(self, line: int, problem: CellProblem, other_line: int | None = None) -> None:
        self.count += 1
        if self.count > MAX_STORED_PROBLEMS:
            return
        shown = value_shown(problem.value, personal=_personal(self.fields.get(problem.column)))
        self.pending.append(ImportProblem(job=self.job, line=line, column=problem.column[:255], kind=problem.kind,
                                          value=shown[:100], message=problem.message[:500], other_line=other_line))

    def flush(self) -> None:
        ImportProblem.objects.bulk_create(self.pending)
        self.pending = []


def header_map(header: list[str], fields: list[Field], columns: list[str]) -> tuple[dict[str, Field], list[str]]:
    """Which field each header column holds, and what is wrong with the header (empty: nothing).

    With ``columns`` (the field of each column, by position, as the clerk mapped them when a schema was
    proposed from the file) the position decides. Otherwise a column is matched by a field's name, else
    by its description: a proposed schema keeps the file's original headers, Chinese ones included, as
    the fields' descriptions, so next month's file with the same headers loads as it is."""
    by_name = {f.name: f for f in fields}
    problems = []
    if repeated := sorted({h for h in header if header.count(h) > 1 and h}):
        problems.append(_("columns named twice: %(columns)s") % {"columns": ", ".join(repeated)})
    if columns:
        if len(columns) != len(header):
            return {}, [_("the file has %(found)d columns; %(expected)d were mapped")
                        % {"found": len(header), "expected": len(columns)}]
        mapping = {column: by_name[name] for column, name in zip(header, columns, strict=True) if name in by_name}
        unmatched: list[str] = []
    else:
        mapping = {column: by_name[column] for column in header if column in by_name}
        unmatched = [column for column in header if column not in by_name]
        for column in list(unmatched):
            spare = [f for f in fields if f not in mapping.values() and f.description.strip() == column]
            if column and len(spare) == 1:
                mapping[column] = spare[0]
                unmatched.remove(column)
    if missing := [f.name for f in fields if f not in mapping.values()]:
        problems.insert(0, _("missing columns: %(columns)s") % {"columns": ", ".join(missing)})
    if unknown := [column for column in unmatched if column]:
        problems.insert(1 if missing else 0, _("columns not in the schema: %(columns)s")
                        % {"columns": ", ".join(unknown)})
    if "" in unmatched:
        problems.append(_("column %(number)d has no name") % {"number": header.index("") + 1})
    return mapping, problems


class _RowCheck:
    """Checks rows against the schema: each row's key (None if unusable), typed values and problems. Built
    once per file (its plan: each column's field and parser), called for every row."""

    def __init__(self, mapping: dict[str, Field], key_field: Field, jsonl: bool) -> None:
        self.mapping, self.key_field, self.jsonl = mapping, key_field, jsonl
        self.plan = [(column, field.name, parser_for(field.type)) for column, field in mapping.items()]
        self.key_column = next((c for c, f in mapping.items() if f is key_field), key_field.name)

    def __call__(self, row: SourceRow) -> tuple[str | None, dict[str, Any], list[CellProblem]]:
        problems = row.problems
        if not row.values and problems:
            return None, {}, problems  # the reader could not split the row into cells
        if self.jsonl and any(column not in self.mapping for column in row.values):
            problems += [CellProblem(column, ImportProblemKind.WRONG_HEADER,
                                     _("The dataset has no field %(name)s.") % {"name": column[:100]}, value)
                         for column, value in row.values.items() if column not in self.mapping]
        flagged = {p.column for p in problems} if problems else ()
        values, data = row.values, {}
        for column, name, parse in self.plan:
            raw = values.get(column)
            if column in flagged:
                continue  # undecodable, a formula or merged: its value is not the one meant
            if raw.__class__ is str and "\x00" in raw:
                problems.append(CellProblem(column, ImportProblemKind.MALFORMED,
                                            _("The cell contains a NUL character; remove it.")))
                continue
            try:
                data[name] = parse(raw)
            except ValueError as exc:
                problems.append(CellProblem(column, ImportProblemKind.WRONG_TYPE, str(exc), raw))
        if self.key_field.name not in data:
            return None, data, problems  # its cell has a problem already
        key = value_text(data[self.key_field.name])  # as it appears in the API's URL
        if problem := self._key_problem(key):
            problems.append(problem)
            return None, data, problems
        return key, data, problems

    def _key_problem(self, key: str) -> CellProblem | None:
        if not key:
            return CellProblem(self.key_column, ImportProblemKind.MISSING_VALUE, _("The lookup key may not be empty."))
        if len(key) > MAX_KEY_LENGTH:
            return CellProblem(self.key_column, ImportProblemKind.INVALID_KEY, _(
                "The lookup key is longer than %(max)d characters.") % {"max": MAX_KEY_LENGTH}, key)
        if "/" in key or not key.isprintable():
            return CellProblem(self.key_column, ImportProblemKind.INVALID_KEY, _(
                "The lookup key may not contain '/' or control characters: it is part of the record's API "
                "address."), key)
        return None


def _claim(job: ImportJob, **conditions: Any) -> bool:
    return bool(ImportJob.objects.filter(pk=job.pk, **conditions).update(
        state=ImportState.CHECKING, heartbeat_at=timezone.now(), progress_done=0, progress_total=job.file_size))


def import_check(*, job: ImportJob) -> ImportJob:
    """Check the uploaded file: every row typed, every problem reported, every row with a key staged.

    Nothing is loaded. Runs once per job (a task delivered twice finds it claimed). Returns the job,
    checked (with or without problems) or failed."""
    if not _claim(job, state=ImportState.UPLOADED):
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    try:
        _check_run(job)
    except Exception as exc:
        _failed(job, ImportState.CHECKING, exc)
        staging.staged_delete(job_id=job.pk)
        raise
    finally:
        _file_drop(job)
    job.refresh_from_db()
    return job


def _check_run(job: ImportJob) -> None:
    dataset = job.dataset
    job.dataset_version = dataset.version  # read before its fields: a version published meanwhile is caught
    fields = list(dataset.fields.all())
    key_field = next(f for f in fields if f.is_lookup_key)
    with open_table(imports_dir() / job.stored_name, job.format) as table:
        job.encoding = table.encoding
        jsonl = table.header is None
        mapping, header_problems = ({f.name: f for f in fields}, []) if jsonl else header_map(
            table.header or [], fields, job.columns)
        problems = _Problems(job, mapping)
        for problem in table.header_problems:
            problems.add(1, problem)
        if header_problems and (table.header or not table.header_problems):  # not when unreadable
            problems.add(1, CellProblem("", ImportProblemKind.WRONG_HEADER, _(
                "The header must name exactly the dataset's fields (%(problems)s).")
                % {"problems": "; ".join(header_problems)}))
        rows = 0
        if not problems.count:
            rows = _rows_stage(job, table, mapping, key_field, problems)
            staging.statistics_refresh(staged=True)
    key_column = next((c for c, f in mapping.items() if f is key_field), key_field.name)
    if not problems.count or rows:
        count, found = staging.duplicates(job_id=job.pk, limit=max(0, MAX_STORED_PROBLEMS - problems.count))
        for line, key, first in found:
            problems.add(line, CellProblem(key_column, ImportProblemKind.DUPLICATE_KEY, _(
                "Duplicate key: also on line %(line)d.") % {"line": first}, key), other_line=first)
        problems.count += count - len(found)
    existing = 0 if problems.count else staging.existing_count(
        job_id=job.pk, dataset_id=dataset.pk, generation=dataset.records_generation)
    with transaction.atomic():
        problems.flush()
        job.state, job.rows, job.problems, job.existing = ImportState.CHECKED, rows, problems.count, existing
        job.checked_at = job.heartbeat_at = timezone.now()
        job.progress_done = job.progress_total
        job.save()
        # No file name: clerks name files after people; the digest identifies the file.
        event_record(actor=_actor(job.created_by), action=EventType.RECORDS_CHECKED, object_id=dataset.identifier,
                     detail={"job": job.pk, "file_digest": job.file_digest, "format": job.format,
                             "encoding": job.encoding, "rows": rows, "problems": problems.count, "mode": job.mode})
    if problems.count:
        staging.staged_delete(job_id=job.pk)  # a file with problems is never applied


def _rows_stage(job: ImportJob, table: Table, mapping: dict[str, Field], key_field: Field,
                problems: _Problems) -> int:
    rows = 0
    batch: list[tuple[int, int, str, dict[str, Any]]] = []
    jsonl = table.header is None

    def flush() -> None:
        done, total = table.progress()
        with transaction.atomic():
            staging.rows_insert(batch)
            problems.flush()
            ImportJob.objects.filter(pk=job.pk).update(rows=rows, problems=problems.count, progress_done=done,
                                                       progress_total=total, heartbeat_at=timezone.now(),
                                                       encoding=table.encoding)
        batch.clear()

    check = _RowCheck(mapping, key_field, jsonl)
    for row in table.rows():
        rows += 1
        key, data, row_problems = check(row)
        for problem in row_problems:
            problems.add(row.line, problem)
        if key is not None:
            batch.append((job.pk, row.line, key, data))
        if len(batch) >= CHECK_BATCH or rows % CHECK_BATCH == 0:  # rows without a key report progress too
            flush()
    flush()
    job.encoding = table.encoding  # a GBK file is GB18030 once a line needs it
    return rows


def import_check_restart(*, job: ImportJob, actor: Any) -> ImportJob:
    """Check a job again whose check never started (the queue was down) or stopped (its worker died)."""
    _require_clerk(actor, job.dataset)
    stale = timezone.now() - STALE_AFTER
    if not (job.state == ImportState.UPLOADED or (job.state == ImportState.CHECKING and job.heartbeat_at < stale)):
        raise PlatformError(ErrorCode.CONFLICT, _("This file is being checked or was checked already."))
    staging.staged_delete(job_id=job.pk)
    job.problem_rows.all().delete()
    ImportJob.objects.filter(pk=job.pk).update(state=ImportState.UPLOADED, rows=0, problems=0)
    job.refresh_from_db()
    return job


# --- Apply ---

def import_apply_start(*, job: ImportJob, actor: Any, mode: str) -> ImportJob:
    """The clerk applies a checked file (replace all or upsert by key): the job is marked as being
    applied, which only one job of a dataset can be at a time. The work is ``import_apply``."""
    _require_clerk(actor, job.dataset)
    if mode not in ImportMode.values:
        raise PlatformError(ErrorCode.INVALID_INPUT, _("Choose replace all or upsert by key."))
    job.refresh_from_db()
    if job.state != ImportState.CHECKED:
        raise PlatformError(ErrorCode.CONFLICT, _("Only a checked file can be loaded; this one is: %(state)s.")
                            % {"state": job.get_state_display()})
    if job.problems:
        raise PlatformError(ErrorCode.INVALID_INPUT, _(
            "The file has %(count)d problem(s); fix them and upload it again. Nothing of it is loaded.")
            % {"count": job.problems})
    changed_at, version = Dataset.objects.filter(pk=job.dataset_id).values_list("updated_at", "version").get()
    if (job.checked_at is not None and changed_at > job.checked_at) or version != job.dataset_version:
        raise PlatformError(ErrorCode.CONFLICT, _(
            "The dataset was changed after this file was checked; upload the file again to check it against "
            "the dataset as it is now."))
    import_stale_release(job.dataset)
    try:
        with transaction.atomic():
            # The dataset's row lock, as a provider's push (exchange.push) takes it: a batch committed before
            # the claim is in the generation staged from; one after it sees the claim and waits.
            Dataset.objects.select_for_update().filter(pk=job.dataset_id).first()
            claimed = ImportJob.objects.filter(pk=job.pk, state=ImportState.CHECKED).update(
                state=ImportState.APPLYING, mode=mode, applied_by=actor if getattr(actor, "pk", None) else None,
                heartbeat_at=timezone.now(), progress_done=0, progress_total=job.rows, generation=None)
    except IntegrityError:
        raise PlatformError(ErrorCode.CONFLICT, _(
            "Another file is being loaded into %(dataset)s; wait until it has finished, then load this one.")
            % {"dataset": job.dataset.identifier}) from None
    if not claimed:
        raise PlatformError(ErrorCode.CONFLICT, _("This file was loaded or discarded meanwhile."))
    job.refresh_from_db()
    return job


def import_apply(*, job: ImportJob) -> ImportJob:
    """Stage the next generation, switch to it in one transaction, then delete the old one. Runs once per
    job (a task delivered twice finds it claimed); a failure before the switch leaves the served records
    as they were and deletes what was staged. Reads find the served generation in their own statement
    (``catalog.selectors.record_get``), so the old one can go at once."""
    dataset = Dataset.objects.get(pk=job.dataset_id)
    old = dataset.records_generation
    new = max(staging.generation_max(dataset_id=dataset.pk), old) + 1
    if not ImportJob.objects.filter(pk=job.pk, state=ImportState.APPLYING, generation__isnull=True).update(
            generation=new, heartbeat_at=timezone.now()):
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    try:
        _apply_run(job, dataset, old, new)
    except Exception as exc:
        if _failed(job, ImportState.APPLYING, exc):
            staging.generation_delete(dataset_id=dataset.pk, generation=new)
            staging.staged_delete(job_id=job.pk)
        raise
    try:  # applied: what is left is tidying up, and a failure here loses nothing
        for generation in staging.generations_below(dataset_id=dataset.pk, served=new):
            staging.generation_delete(dataset_id=dataset.pk, generation=generation)
        staging.staged_delete(job_id=job.pk)
    except DatabaseError as exc:
        logger.error("import %s: applied, but deleting the old records failed (%s); the next import retries",
                     job.pk, type(exc).__name__)
    job.refresh_from_db()
    return job


def _apply_run(job: ImportJob, dataset: Dataset, old: int, new: int) -> None:
    existing = staging.existing_count(job_id=job.pk, dataset_id=dataset.pk, generation=old)
    upsert = job.mode == ImportMode.UPSERT
    unnamed = Record.objects.filter(dataset=dataset, generation=old).count() - existing if upsert else 0
    ImportJob.objects.filter(pk=job.pk).update(progress_total=job.rows + unnamed)

    def progress(base: int) -> Any:
        def report(done: int) -> None:
            ImportJob.objects.filter(pk=job.pk).update(progress_done=base + done, heartbeat_at=timezone.now())
        return report

    staged = staging.file_rows_stage(job_id=job.pk, dataset_id=dataset.pk, old=old, new=new, progress=progress(0))
    staging.statistics_refresh(records=True)
    if upsert:
        staging.unnamed_rows_copy(job_id=job.pk, dataset_id=dataset.pk, old=old, new=new, progress=progress(staged))
    deleted = 0 if upsert else staging.unnamed_live_count(job_id=job.pk, dataset_id=dataset.pk, generation=old)
    with transaction.atomic():
        now = timezone.now()
        if not ImportJob.objects.filter(pk=job.pk, state=ImportState.APPLYING).update(
                state=ImportState.APPLIED, applied_at=now, heartbeat_at=now, created=staged - existing,
                updated=existing, deleted=deleted, progress_done=F("progress_total")):
            raise PlatformError(ErrorCode.CONFLICT, _("The import was stopped meanwhile."))
        # Only into the version the file was checked against: a new one may have been published meanwhile
        # (versions start at 1: a job checked before versions were recorded never matches).
        current = Dataset.objects.filter(pk=dataset.pk, version=job.dataset_version or 0)
        if not current.filter(records_generation=old).update(records_generation=new):
            if not current.exists():
                raise PlatformError(ErrorCode.CONFLICT, _(
                    "The dataset's schema changed while the file was being loaded (a new version was published); "
                    "nothing of it was loaded. Upload the file again to check it against the new schema."))
            raise PlatformError(ErrorCode.CONFLICT, _("The dataset's records were replaced meanwhile."))
        access_version_bump()  # update() sends no signal: the exchange remembers the dataset per access version
        event_record(actor=_actor(job.applied_by), action=EventType.RECORDS_IMPORTED, object_id=dataset.identifier,
                     detail={"rows": staged, "created": staged - existing, "updated": existing, "deleted": deleted,
                             "job": job.pk, "file_digest": job.file_digest, "format": job.format,
                             "mode": job.mode})


def _reason(exc: BaseException) -> str:
    """Why a job failed, in words safe to keep: a refusal's message, else the kind of error only (a
    database error's text can quote the values of a row)."""
    if isinstance(exc, PlatformError):
        return exc.message
    return _("An unexpected error stopped it (%(error)s); nothing of the file was loaded.") % {
        "error": type(exc).__name__}


def _failed(job: ImportJob, state: str, exc: BaseException) -> bool:
    """Mark the job failed (if it still is in ``state``) with its event; False if it was not. Never raises:
    if the audit log cannot be written either, the job is still marked failed."""
    reason = _reason(exc)
    logger.error("import %s failed while %s: %s\n%s", job.pk, state, type(exc).__name__,
                 "".join(traceback.format_tb(exc.__traceback__)))
    values = {"state": ImportState.FAILED, "error": reason, "heartbeat_at": timezone.now()}
    try:
        with transaction.atomic():
            if not ImportJob.objects.filter(pk=job.pk, state=state).update(**values):
                return False
            event_record(actor=_actor(job.applied_by or job.created_by), action=EventType.RECORDS_IMPORT_FAILED,
                         object_id=job.dataset.identifier,
                         detail={"job": job.pk, "reason": reason, "file_digest": job.file_digest})
    except DatabaseError:
        logger.error("import %s: the failure could not be recorded in the audit log", job.pk)
        try:
            return bool(ImportJob.objects.filter(pk=job.pk, state=state).update(**values))
        except DatabaseError:
            return False
    return True


def import_stale_release(dataset: Dataset) -> None:
    """Fail the dataset's jobs that have been applying without progress for STALE_AFTER (their worker
    died, or a task delivered again found the job claimed and left it), deleting what they staged but
    never the served generation, so the dataset can be loaded again. Called when an apply starts and
    when a job's page or progress is looked at."""
    cutoff = timezone.now() - STALE_AFTER
    for stale in ImportJob.objects.filter(dataset=dataset, state=ImportState.APPLYING, heartbeat_at__lt=cutoff):
        stopped = PlatformError(ErrorCode.CONFLICT, _("It made no progress for %(minutes)d minutes (its worker "
                                                      "stopped); nothing of it was loaded. Upload the file again "
                                                      "to load it.")
                                % {"minutes": STALE_AFTER.total_seconds() // 60})
        if _failed(stale, ImportState.APPLYING, stopped) and stale.generation is not None:
            if stale.generation != Dataset.objects.get(pk=dataset.pk).records_generation:
                staging.generation_delete(dataset_id=dataset.pk, generation=stale.generation)
            staging.staged_delete(job_id=stale.pk)


def import_discard(*, job: ImportJob, actor: Any) -> ImportJob:
    """The clerk drops a checked file instead of loading it: its staged rows are deleted."""
    _require_clerk(actor, job.dataset)
    if not ImportJob.objects.filter(pk=job.pk, state__in=[ImportState.CHECKED, ImportState.UPLOADED]).update(
            state=ImportState.DISCARDED):
        raise PlatformError(ErrorCode.CONFLICT, _("Only a file waiting to be loaded can be discarded."))
    staging.staged_delete(job_id=job.pk)
    _file_drop(job)
    job.refresh_from_db()
    return job


# --- The report, and the synchronous entry point ---

@dataclass(frozen=True)
class ImportReport:
    """What happened to a file: its job, the counts and the first problems."""

    job: ImportJob
    problems: list[ImportProblem]

    @property
    def ok(self) -> bool:
        return self.job.state == ImportState.APPLIED

    @property
    def rows(self) -> int:
        return self.job.rows

    @property
    def created(self) -> int:
        return self.job.created

    @property
    def updated(self) -> int:
        return self.job.updated

    @property
    def deleted(self) -> int:
        return self.job.deleted

    @property
    def problems_total(self) -> int:
        return self.job.problems

    @property
    def encoding_label(self) -> str:
        return ENCODING_LABELS.get(self.job.encoding, self.job.encoding)


def import_report(job: ImportJob, limit: int = MAX_STORED_PROBLEMS) -> ImportReport:
    return ImportReport(job, list(job.problem_rows.all()[:limit]))


def records_import(*, dataset: Dataset, source: Path | bytes, actor: Any, mode: str = ImportMode.UPSERT,
                   file_name: str = "") -> ImportReport:
    """Check and, if the file has no problem, apply it now, in this process: for the demo, the tests and
    scripts. All or nothing: the report says what was loaded or why nothing was; a refusal raises
    PlatformError, and an error while applying is raised after what was staged is deleted."""
    job = import_upload(dataset=dataset, actor=actor, source=source, file_name=file_name, mode=mode)
    job = import_check(job=job)
    if job.state == ImportState.CHECKED and not job.problems:
        job = import_apply_start(job=job, actor=actor, mode=mode)
        job = import_apply(job=job)
    return import_report(job)
