"""The event recorder: append an event inside the transaction of the action it records.

The sequencer (``sequencer.py``) later gives it a leaf index; this module only wakes it after commit.
"""

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core.db import one_statement

from .events import EventType
from .merkle import leaf_hash
from .models import AuditEvent, Outcome
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
