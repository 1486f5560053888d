"""The event recorder: append an event inside the transaction of the action it records.

The sequencer (``sequencer.py``) later gives it a leaf index; this module only wakes it after commit.
"""

import csv
import datetime as dt
import hashlib
import hmac
import io
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.csvcells import spreadsheet_safe
from core.db import one_statement

from .events import EventType
from .merkle import leaf_hash
from .models import AuditEvent, Outcome, RefusalTally
from .tasks import log_sequence_task

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """Who did it, as the log records it: plain codes, never foreign keys."""

    type: str
    id: str
    department: str = ""

    @classmethod
    def for_user(cls, user: Any) -> "Actor":
        return cls("user", str(user.get_username()))

    @classmethod
    def for_system(cls, system: Any) -> "Actor":
        """A registry System (the audit log sits below the registry, so it is not imported here)."""
        return cls("system", system.code, system.department.code)

    @classmethod
    def anonymous(cls, claimed_key_id: str = "") -> "Actor":
        return cls("anonymous", claimed_key_id[:150])

    @classmethod
    def platform(cls, job: str) -> "Actor":
        """The platform itself, acting on a schedule or by a rule (the request clock, an automatic answer)."""
        return cls("platform", job)


def subject_hash(identifier: str) -> str:
    """Keyed hash of a subject identifier (citizen/company id): the log never holds the raw value."""
    key = settings.AUDIT_SUBJECT_HASH_KEY.encode()
    return hmac.new(key, identifier.encode(), hashlib.sha256).hexdigest()


def change_detail(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The detail of a change event: which values changed, their old and their new values."""
    changed = sorted(name for name in new if old.get(name) != new[name])
    return {"changed": changed, "old": {n: old.get(n) for n in changed}, "new": {n: new[n] for n in changed}}


def _check_plain(value: Any, where: str = "detail") -> None:
    """Event details are plain JSON (str, int, bool, None, lists, str-keyed dicts): they hash stably."""
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_plain(item, where)
        return
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        for item in value.values():
            _check_plain(item, where)
        return
    raise TypeError(f"audit {where} may hold only str, int, bool, None, lists and dicts, not {type(value)}")


def event_record(*, actor: Actor, action: EventType, **fields: Any) -> AuditEvent:
    """Append an event of a declared type. Must run inside the transaction of the action it records: both
    commit or neither. (The fields are those of ``_event_build``.)"""
    if not connection.in_atomic_block:
        raise RuntimeError("audit events are recorded inside the action's transaction (transaction.atomic)")
    event = _event_build(actor=actor, action=action, **fields)
    event.save(force_insert=True)
    transaction.on_commit(_wake_sequencer, robust=True)
    return event


def event_append(*, actor: Actor, action: EventType, **fields: Any) -> AuditEvent:
    """Append an event that is an action of its own (a read, a refusal), committed before this returns.

    In autocommit, one INSERT and no transaction around it (BEGIN and COMMIT would cost two round
    trips on every signed read); inside a transaction, a savepoint, so a failed append leaves the
    caller's transaction usable. Either way a DatabaseError reaches the caller, which fails closed.
    """
    with one_statement():
        event = _event_build(actor=actor, action=action, **fields)
        event.save(force_insert=True)
    if connection.in_atomic_block:
        transaction.on_commit(_wake_sequencer, robust=True)
    else:
        _wake_sequencer_robustly()
    return event


def _event_build(
    *,
    actor: Actor,
    action: EventType,
    object_id: str = "",
    outcome: str = Outcome.OK,
    reason: str = "",
    grant_id: int | None = None,
    purpose: str = "",
    request_digest: str = "",
    subjects: Iterable[str] = (),
    detail: dict[str, Any] | None = None,
    uid: Any = None,
) -> AuditEvent:
    if not isinstance(action, EventType):
        raise TypeError(f"{action!r} is not a declared audit event type; declare it in audit/events.py")
    detail = dict(detail or {})
    if undeclared := sorted(set(detail) - set(action.detail_keys)):
        raise ValueError(f"{action.action} declares no detail {', '.join(undeclared)}; declare it in audit/events.py")
    _check_plain(detail)
    event = AuditEvent(
        created_at=timezone.now(), actor_type=actor.type, actor_id=actor.id, actor_department=actor.department,
        action=action.action, object_type=action.object_type, object_id=object_id[:128], outcome=outcome, reason=reason,
        grant_id=grant_id, purpose=purpose[:200], request_digest=request_digest,
        subjects=sorted(set(subjects)), detail=detail,
    )
    if uid is not None:  # an event announced before it was written (a refusal tally's)
        event.uid = uid
    event.leaf_hash = leaf_hash(event.canonical_leaf()).hex()
    return event


class _WakeUps:
    """At most one sequencer wake-up per window per process: a trailing-edge debounce.

    The first event of a window enqueues the sequencer to run when the window ends; it appends every
    event committed by then, so the events of a busy second cost a handful of broker messages, not
    one each. An event missed by a run that started just before it committed is picked up by the
    next wake-up or by beat's periodic run (``AUDIT_SEQUENCE_INTERVAL``): events are in the database
    first, the broker only wakes the sequencer. In the embedded default (eager Celery, no beat) the
    sequencer runs inline after every commit, as before.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.next_allowed = 0.0

    def due(self, window: float) -> bool:
        now = time.monotonic()
        with self.lock:
            if now < self.next_allowed:
                return False
            self.next_allowed = now + window
            return True


_WAKE_UPS = _WakeUps()


def _wake_sequencer() -> None:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        log_sequence_task.delay()
        return
    window = settings.AUDIT_SEQUENCE_DEBOUNCE_SECONDS
    if _WAKE_UPS.due(window):
        log_sequence_task.apply_async(countdown=window)


def _wake_sequencer_robustly() -> None:
    """Like on_commit(robust=True): a broker that is down loses only a wake-up, never the event."""
    try:
        _wake_sequencer()
    except Exception:
        logger.exception("could not wake the audit sequencer; beat's periodic run will pick the event up")


# --- Refusals counted per source and window, one event each (models.RefusalTally) ---


def _window_start(now: dt.datetime) -> dt.datetime:
    window = settings.AUDIT_REFUSAL_WINDOW_SECONDS
    return dt.datetime.fromtimestamp(int(now.timestamp()) // window * window, tz=dt.UTC)


def refusal_count(*, actor: Actor, source: str, reason: str, request_digest: str) -> str:
    """Count one refusal in its caller's current window; return the id its window's event will carry.

    Raises DatabaseError when the tally cannot be written: the caller fails closed.
    """
    now = timezone.now()
    key = {"source": source[:64], "actor_type": actor.type, "actor_id": actor.id[:150],
           "window_start": _window_start(now)}
    for attempt in range(2):
        try:
            with transaction.atomic():
                tally = RefusalTally.objects.select_for_update().filter(**key).first()
                if tally is None:
                    tally = RefusalTally.objects.create(
                        **key, actor_department=actor.department, count=1, reasons={reason: 1},
                        first_digest=request_digest, last_digest=request_digest, first_at=now, last_at=now)
                else:
                    tally.count += 1
                    tally.reasons = {**tally.reasons, reason: tally.reasons.get(reason, 0) + 1}
                    tally.last_digest, tally.last_at = request_digest, now
                    tally.save(update_fields=["count", "reasons", "last_digest", "last_at"])
            return str(tally.uid)
        except IntegrityError:  # another process opened the same window at the same moment: count in its row
            if attempt:
                raise
    raise AssertionError("unreachable")


def refusal_tallies_flush(*, now: dt.datetime | None = None) -> int:
    """Write one ``exchange.refusals`` event for every window that has closed; return how many.

    Idempotent and safe to run in several processes: each tally is locked, written and deleted in one
    transaction, so it becomes exactly one event.
    """
    closed_before = _window_start(now or timezone.now())
    written = 0
    for pk in RefusalTally.objects.filter(window_start__lt=closed_before).values_list("pk", flat=True):
        with transaction.atomic():
            tally = RefusalTally.objects.select_for_update().filter(pk=pk).first()
            if tally is None:  # another run wrote it
                continue
            reasons = dict(sorted(tally.reasons.items()))
            event_record(
                actor=Actor(tally.actor_type, tally.actor_id, tally.actor_department),
                action=EventType.EXCHANGE_REFUSALS, object_id=tally.source, outcome=Outcome.REFUSED,
                reason=max(reasons, key=lambda code: reasons[code]), request_digest=tally.first_digest,
                uid=tally.uid, detail={
                    "source": tally.source, "count": tally.count, "reasons": reasons,
                    "window_start": tally.window_start.isoformat(),
                    "window_seconds": settings.AUDIT_REFUSAL_WINDOW_SECONDS,
                    "first_at": tally.first_at.isoformat(), "last_at": tally.last_at.isoformat(),
                    "first_digest": tally.first_digest, "last_digest": tally.last_digest})
            tally.delete()
            written += 1
    return written


def subject_lookup(*, actor: Actor, identifier: str) -> list[AuditEvent]:
    """Every event that touched this citizen's or company's identifier, newest first: the identifier is hashed
    here with the log's key, as the events hold it. The lookup is itself an audit event, with the hash and
    never the identifier. (The caller checks that ``actor`` may read the log.)"""
    hashed = subject_hash(identifier.strip())
    found = list(AuditEvent.objects.filter(subjects__icontains=hashed).exclude(
        action=EventType.AUDIT_SUBJECT_LOOKUP.action).select_related("leaf").order_by("-created_at", "-id")[:1000])
    with transaction.atomic():
        event_record(actor=actor, action=EventType.AUDIT_SUBJECT_LOOKUP, subjects=[hashed],
                     detail={"found": len(found)})
    return found


EXPORT_COLUMNS = ("uid", "created_at", "leaf_index", "action", "outcome", "reason", "actor_type", "actor_id",
                  "actor_department", "object_type", "object_id", "grant_id", "purpose", "request_digest",
                  "subjects", "leaf_hash")


def events_csv(*, actor: Actor, events: Any, filters: dict[str, str]) -> Iterable[str]:
    """The chosen events as CSV lines (subjects as their keyed hashes, never identifiers), for an auditor.
    The export is recorded first, with its filters and row count. (The caller checks ``actor`` may read.)"""
    rows = events.count()
    with transaction.atomic():
        event_record(actor=actor, action=EventType.AUDIT_EXPORTED, detail={"filters": filters, "rows": rows})

    def lines() -> Iterable[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_COLUMNS)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        for event in events.select_related("leaf").order_by("id").iterator(chunk_size=2000):
            leaf = getattr(event, "leaf", None)
            writer.writerow([spreadsheet_safe(str(value)) for value in (
                event.uid, event.created_at.isoformat(), leaf.index if leaf is not None else "", event.action,
                event.outcome, event.reason, event.actor_type, event.actor_id, event.actor_department,
                event.object_type, event.object_id, "" if event.grant_id is None else event.grant_id, event.purpose,
                event.request_digest, " ".join(event.subjects), event.leaf_hash)])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    return lines()


def log_verify_recorded(*, actor_id: str) -> bool:
    """Verify the whole log with the platform's key, as ``audit_verify`` does, and record the result (who asked,
    whether it held, at what size, the first problems). Returns whether it held."""
    from core.keys import platform_key

    from .verify import log_verify

    report = log_verify(public_key=platform_key().public_key)
    with transaction.atomic():
        event_record(actor=Actor("user", actor_id), action=EventType.AUDIT_VERIFIED,
                     outcome=Outcome.OK if report.ok else Outcome.REFUSED, reason="" if report.ok else "verify_failed",
                     detail={"ok": report.ok, "tree_size": report.tree_size,
                             "checkpoints_checked": report.checkpoints_checked, "problems": report.problems[:5]})
    return report.ok


def verification_latest() -> AuditEvent | None:
    """The newest recorded verification of the whole log."""
    return AuditEvent.objects.filter(action=EventType.AUDIT_VERIFIED.action).order_by("-id").first()
