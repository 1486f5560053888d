"""Writes to the registry: departments, memberships, systems and their keys. Each is audited."""

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.events import EventType
from audit.services import Actor, event_record
from core.crypto import key_fingerprint
from core.errors import ErrorCode, PlatformError

from .models import System, SystemKey
from .policy import CLERK_ROLES, has_role


def system_key_register(*, system: System, key_id: str, public_key: str, actor: Any,
                        not_before: dt.datetime | None = None, expires_at: dt.datetime | None = None) -> SystemKey:
    """A clerk registers the public half of a key that one of their department's systems generated."""
    if not has_role(actor, CLERK_ROLES, system.department_id):
        raise PlatformError(ErrorCode.FORBIDDEN,
                            f"Only clerks of {system.department} may register keys of {system.code}.")
    key = SystemKey(system=system, key_id=key_id, public_key=public_key.strip() + "\n", created_by=actor)
    if not_before is not None:
        key.not_before = not_before
    if expires_at is not None:
        key.expires_at = expires_at
    try:
        key.full_clean()
    except ValidationError as exc:
        raise PlatformError(ErrorCode.INVALID_KEY, "; ".join(exc.messages), detail=exc.message_dict) from exc
    with transaction.atomic():
        try:
            with transaction.atomic():
                key.save(force_insert=True)
        except IntegrityError as exc:  # registered by someone else meanwhile
            raise PlatformError(ErrorCode.CONFLICT,
                                f"The key id {key_id} was registered meanwhile; choose another.") from exc
        event_record(actor=Actor.for_user(actor), action=EventType.SYSTEM_KEY_REGISTERED,
                     object_id=key.key_id,
                     detail={"system": system.code, "fingerprint": key_fingerprint(key.public_key),
                             "not_before": key.not_before.isoformat(), "expires_at": key.expires_at.isoformat()})
    return key


def system_key_revoke(*, key: SystemKey, actor: Any, reason: str) -> SystemKey:
    """Revoke a system's key at once; signatures made with it are refused from now on. Idempotent."""
    if not has_role(actor, CLERK_ROLES, key.system.department_id):
        raise PlatformError(ErrorCode.FORBIDDEN, f"Only clerks of {key.system.department} may revoke its keys.")
    with transaction.atomic():
        key = SystemKey.objects.select_for_update().select_related("system").get(pk=key.pk)
        if key.revoked_at is None:
            key.revoked_at, key.revoked_by, key.revocation_reason = timezone.now(), actor, reason[:200]
            key.save(update_fields=["revoked_at", "revoked_by", "revocation_reason"])
            event_record(actor=Actor.for_user(actor), action=EventType.SYSTEM_KEY_REVOKED,
                         object_id=key.key_id, detail={"system": key.system.code, "reason": key.revocation_reason})
    return key
