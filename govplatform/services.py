"""Writes to the registry."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from .errors import PlatformError
from .models import Role, SystemKey
from .permissions import has_role


def system_key_revoke(*, key: SystemKey, actor: Any, reason: str) -> SystemKey:
    """Revoke a system's key at once; signatures made with it are refused from now on."""
    if not has_role(actor, [Role.CLERK, Role.ADMIN], key.system.department_id):
        raise PlatformError("forbidden", f"Only clerks of {key.system.department} may revoke its keys.", status=403)
    with transaction.atomic():
        key = SystemKey.objects.select_for_update().get(pk=key.pk)
        if key.revoked_at is None:
            key.revoked_at, key.revoked_by, key.revocation_reason = timezone.now(), actor, reason[:200]
            key.save(update_fields=["revoked_at", "revoked_by", "revocation_reason"])
    return key
