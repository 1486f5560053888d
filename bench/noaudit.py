"""The benchmark-only switch of figure 2: the signed read without its audit append.

Replaces ``exchange.gateway.audit_or_fail_closed`` (the savepoint, the event's INSERT and the
after-commit wake-up of the sequencer) with a stub that builds the same event, leaf hash included,
and does not save it. Everything else about the read is unchanged. Never used outside ``bench/``.
"""

from typing import Any

from django.utils import timezone

from audit.events import EventType
from audit.merkle import leaf_hash
from audit.models import AuditEvent, Outcome


def _audit_skipped(*, action: EventType, actor: Any, object_id: str = "", outcome: str = Outcome.OK, reason: str = "",
                   grant_id: int | None = None, purpose: str = "", request_digest: str = "",
                   subjects: Any = (), detail: dict[str, Any] | None = None) -> AuditEvent:
    event = AuditEvent(
        created_at=timezone.now(), actor_type=actor.type, actor_id=actor.id, actor_department=actor.department,
        action=action.action, object_type=action.object_type, object_id=object_id[:128], outcome=outcome,
        reason=reason, grant_id=grant_id, purpose=purpose[:200], request_digest=request_digest,
        subjects=sorted(set(subjects)), detail=dict(detail or {}),
    )
    event.leaf_hash = leaf_hash(event.canonical_leaf()).hex()
    return event


def install() -> None:
    from exchange import gateway

    if not callable(getattr(gateway, "audit_or_fail_closed", None)):
        raise RuntimeError("exchange.gateway.audit_or_fail_closed is gone: update bench/noaudit.py to skip "
                           "the signed read's audit append where it now happens")
    gateway.audit_or_fail_closed = _audit_skipped  # type: ignore[assignment]
