"""Writes to the registry: departments, memberships, platform roles, systems and their keys, sign-ins.

Every change to who may do what is an audit event written in the same transaction, with the old and
the new values. The admin calls these services; nothing saves around them.
"""

import datetime as dt
from typing import Any

from axes.utils import reset
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.events import EventType
from audit.models import Outcome
from audit.services import Actor, change_detail, event_record
from core.crypto import key_fingerprint
from core.errors import ErrorCode, PlatformError, validation_error

from .models import Department, Membership, PlatformRole, Role, System, SystemKey
from .policy import Perm, allows_everywhere, departments_granting, forget_roles, require


def _saved(obj: Model, *, exclude: list[str] | None = None) -> None:
    """Validate (ValidationError as our 400) and save; a unique clash found meanwhile is a 409."""
    try:
        obj.full_clean(exclude=exclude)
    except ValidationError as exc:
        raise validation_error(exc) from exc
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise PlatformError(ErrorCode.CONFLICT) from exc


# --- Departments ---

def _department_values(department: Department) -> dict[str, Any]:
    return {"code": department.code, "name": department.name, "active": department.active,
            "parent": department.parent.code if department.parent else None}


def department_register(*, actor: Any, code: str, name: str, parent: Department | None = None) -> Department:
    require(actor, Perm.DEPARTMENT_MANAGE, message=_("Only the platform operator registers departments."))
    department = Department(code=code, name=name, parent=parent)
    with transaction.atomic():
        _saved(department)
        event_record(actor=Actor.for_user(actor), action=EventType.DEPARTMENT_REGISTERED,
                     object_id=department.code, detail={"new": _department_values(department)})
    return department


def department_change(*, actor: Any, department: Department, name: str, parent: Department | None,
                      active: bool) -> Department:
    """Rename, move or (de)activate a department. Its code names it in the log and stays fixed."""
    require(actor, Perm.DEPARTMENT_MANAGE, message=_("Only the platform operator changes departments."))
    with transaction.atomic():
        department = Department.objects.select_for_update().get(pk=department.pk)
        old = _department_values(department)
        department.name, department.parent, department.active = name, parent, active
        if parent is not None and (parent.pk == department.pk or _is_below(parent, department)):
            raise PlatformError(ErrorCode.INVALID_INPUT, _("A department cannot be placed under itself."))
        diff = change_detail(old, _department_values(department))
        if diff["changed"]:
            _saved(department)
            event_record(actor=Actor.for_user(actor), action=EventType.DEPARTMENT_CHANGED,
                         object_id=department.code, detail=diff)
    return department


def _is_below(candidate: Department, ancestor: Department) -> bool:
    seen: set[int] = set()
    node: Department | None = candidate
    while node is not None and node.pk not in seen:
        if node.parent_id == ancestor.pk:
            return True
        seen.add(node.pk)
        node = node.parent
    return False


# --- Memberships: roles in a department ---

def users_enrollable(*, actor: Any) -> Any:
    """Accounts a person may give roles to: anyone for the platform; for a department admin, only
    people already of the departments they administer."""
    users = get_user_model().objects.filter(is_active=True).order_by("username")
    if allows_everywhere(actor, Perm.MEMBERSHIP_MANAGE):
        return users
    departments = departments_granting(actor, Perm.MEMBERSHIP_MANAGE)
    return users.filter(memberships__department_id__in=departments).distinct()


def _membership_check(actor: Any, membership: Membership) -> None:
    require(actor, Perm.MEMBERSHIP_MANAGE, membership,
            _("Only admins of %(department)s manage its memberships.") % {"department": membership.department})
    if membership.role == Role.AUDITOR:
        require(actor, Perm.MEMBERSHIP_GRANT_AUDITOR, message=_(
            "The auditor role reads every department's data: only the platform operator grants it."))
    if not users_enrollable(actor=actor).filter(pk=membership.user_id).exists():
        raise PlatformError(ErrorCode.FORBIDDEN, _("You may enrol only people of your own department."))


def _membership_values(membership: Membership) -> dict[str, Any]:
    return {"user": membership.user.get_username(), "department": membership.department.code,
            "role": membership.role}


def sessions_end(*, user: Any) -> int:
    """End every signed-in session of this person (their roles changed: they sign in again under the new ones).

    Sessions live in the database; a person's are found by their decoded user id. Role changes are rare
    and the admin's sessions few, so reading the unexpired ones is cheap enough and needs no index.
    """
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get("_auth_user_id") == str(user.pk):
            session.delete()
            ended += 1
    return ended


def membership_grant(*, actor: Any, user: Any, department: Department, role: str) -> Membership:
    membership = Membership(user=user, department=department, role=role)
    _membership_check(actor, membership)
    with transaction.atomic():
        _saved(membership)
        event_record(actor=Actor.for_user(actor), action=EventType.MEMBERSHIP_GRANTED,
                     object_id=str(membership.pk), detail=_membership_values(membership))
        sessions_end(user=user)
    forget_roles(user)
    return membership


def membership_change(*, actor: Any, membership: Membership, user: Any, department: Department,
                      role: str) -> Membership:
    with transaction.atomic():
        current = Membership.objects.select_for_update().select_related("user", "department").get(pk=membership.pk)
        _membership_check(actor, current)  # may act on the membership as it is
        old = _membership_values(current)
        current.user, current.department, current.role = user, department, role
        _membership_check(actor, current)  # and as it will be
        diff = change_detail(old, _membership_values(current))
        if diff["changed"]:
            _saved(current)
            event_record(actor=Actor.for_user(actor), action=EventType.MEMBERSHIP_CHANGED,
                         object_id=str(current.pk), detail=diff)
            for person in {membership.user_id: membership.user, user.pk: user}.values():
                sessions_end(user=person)
    return current


def membership_revoke(*, actor: Any, membership: Membership) -> None:
    with transaction.atomic():
        current = Membership.objects.select_for_update().select_related("user", "department").get(pk=membership.pk)
        require(actor, Perm.MEMBERSHIP_MANAGE, current)
        if current.role == Role.AUDITOR:
            require(actor, Perm.MEMBERSHIP_GRANT_AUDITOR)
        values, pk = _membership_values(current), current.pk
        current.delete()
        event_record(actor=Actor.for_user(actor), action=EventType.MEMBERSHIP_REVOKED, object_id=str(pk),
                     detail=values)
        sessions_end(user=current.user)


# --- Platform-wide roles: the data authority, the operator ---

def platform_role_grant(*, actor: Any, user: Any, role: str) -> PlatformRole:
    require(actor, Perm.PLATFORM_ROLE_MANAGE, message=_("Only a platform superuser grants platform-wide roles."))
    platform_role = PlatformRole(user=user, role=role)
    with transaction.atomic():
        _saved(platform_role)
        event_record(actor=Actor.for_user(actor), action=EventType.PLATFORM_ROLE_GRANTED,
                     object_id=str(platform_role.pk), detail={"user": user.get_username(), "role": role})
        sessions_end(user=user)
    return platform_role


def platform_role_revoke(*, actor: Any, platform_role: PlatformRole) -> None:
    require(actor, Perm.PLATFORM_ROLE_MANAGE, message=_("Only a platform superuser takes platform-wide roles away."))
    with transaction.atomic():
        detail = {"user": platform_role.user.get_username(), "role": platform_role.role}
        pk = platform_role.pk
        platform_role.delete()
        event_record(actor=Actor.for_user(actor), action=EventType.PLATFORM_ROLE_REVOKED, object_id=str(pk),
                     detail=detail)
        sessions_end(user=platform_role.user)


# --- Systems and their keys ---

def _system_values(system: System) -> dict[str, Any]:
    return {"code": system.code, "name": system.name, "department": system.department.code,
            "active": system.active}


def system_register(*, actor: Any, department: Department, code: str, name: str) -> System:
    system = System(department=department, code=code, name=name)
    require(actor, Perm.SYSTEM_MANAGE, system,
            _("Only clerks of %(department)s register its systems.") % {"department": department})
    with transaction.atomic():
        _saved(system)
        event_record(actor=Actor.for_user(actor), action=EventType.SYSTEM_REGISTERED, object_id=system.code,
                     detail={"new": _system_values(system)})
    return system


def system_change(*, actor: Any, system: System, name: str, active: bool) -> System:
    """Rename, deactivate or reactivate a system. A deactivated system's keys are refused at once."""
    require(actor, Perm.SYSTEM_MANAGE, system,
            _("Only clerks of %(department)s change its systems.") % {"department": system.department})
    with transaction.atomic():
        current = System.objects.select_for_update().select_related("department").get(pk=system.pk)
        old = _system_values(current)
        current.name, current.active = name, active
        diff = change_detail(old, _system_values(current))
        if diff["changed"]:
            _saved(current)
            action = EventType.SYSTEM_CHANGED
            if "active" in diff["changed"]:
                action = EventType.SYSTEM_REACTIVATED if active else EventType.SYSTEM_DEACTIVATED
            event_record(actor=Actor.for_user(actor), action=action, object_id=current.code, detail=diff)
    return current


def system_key_register(*, system: System, key_id: str, public_key: str, actor: Any,
                        not_before: dt.datetime | None = None, expires_at: dt.datetime | None = None) -> SystemKey:
    """A clerk registers the public half of a key that one of their department's systems generated."""
    key = SystemKey(system=system, key_id=key_id, public_key=public_key.strip() + "\n", created_by=actor)
    require(actor, Perm.KEY_MANAGE, key, _("Only clerks of %(department)s may register keys of %(system)s.")
            % {"department": system.department, "system": system.code})
    if not_before is not None:
        key.not_before = not_before
    if expires_at is not None:
        key.expires_at = expires_at
    try:
        key.full_clean()
    except ValidationError as exc:
        raise validation_error(exc, code=ErrorCode.INVALID_KEY) from exc
    with transaction.atomic():
        try:
            with transaction.atomic():
                key.save(force_insert=True)
        except IntegrityError as exc:  # registered by someone else meanwhile
            raise PlatformError(ErrorCode.CONFLICT, _("The key id %(key_id)s was registered meanwhile; choose "
                                                      "another.") % {"key_id": key_id}) from exc
        event_record(actor=Actor.for_user(actor), action=EventType.SYSTEM_KEY_REGISTERED, object_id=key.key_id,
                     detail={"system": system.code, "fingerprint": key_fingerprint(key.public_key),
                             "not_before": key.not_before.isoformat(), "expires_at": key.expires_at.isoformat()})
    return key


def system_key_revoke(*, key: SystemKey, actor: Any, reason: str) -> SystemKey:
    """Revoke a system's key at once; signatures made with it are refused from now on. Idempotent."""
    require(actor, Perm.KEY_MANAGE, key,
            _("Only clerks of %(department)s may revoke its keys.") % {"department": key.system.department})
    with transaction.atomic():
        key = SystemKey.objects.select_for_update().select_related("system").get(pk=key.pk)
        if key.revoked_at is None:
            key.revoked_at, key.revoked_by, key.revocation_reason = timezone.now(), actor, reason[:200]
            key.save(update_fields=["revoked_at", "revoked_by", "revocation_reason"])
            event_record(actor=Actor.for_user(actor), action=EventType.SYSTEM_KEY_REVOKED, object_id=key.key_id,
                         detail={"system": key.system.code, "reason": key.revocation_reason})
    return key


# --- Signing in and out of the admin ---

def sign_in_record(*, action: EventType, username: str, request: HttpRequest | None) -> None:
    """A sign-in, a failed sign-in or a sign-out, as evidence. Never the password.

    A failed attempt names the account tried, which may not exist: it is logged as anonymous with the
    claimed name, like a refused API signature, so the log never blames an account for a stranger's try.
    """
    known = action != EventType.USER_LOGIN_FAILED
    actor = Actor("user", username[:150]) if known else Actor.anonymous(username)
    ip = (request.META.get("REMOTE_ADDR", "") if request is not None else "")[:45]
    with transaction.atomic():
        event_record(actor=actor, action=action, object_id=username[:128], detail={"ip": ip},
                     outcome=Outcome.OK if known else Outcome.REFUSED, reason="" if known else "login_failed")


def client_address(request: HttpRequest) -> str:
    """The address a sign-in came from, as the lockout counts it (django-axes) and the log records it."""
    return str(request.META.get("REMOTE_ADDR") or "")[:45]


def login_lockout_record(*, username: str, ip_address: str) -> None:
    """Sign-ins locked after repeated failures, as evidence (the account tried may not exist: anonymous)."""
    with transaction.atomic():
        event_record(actor=Actor.anonymous(username), action=EventType.USER_LOCKED_OUT, object_id=username[:128],
                     outcome=Outcome.REFUSED, reason="locked_out",
                     detail={"ip": ip_address[:45], "failures": settings.AXES_FAILURE_LIMIT})


def login_unlock(*, actor: Any, username: str = "", ip_address: str = "") -> int:
    """The platform operator unlocks an account or an address before its cool-off ends; audited. Returns how
    many recorded failures were cleared."""
    require(actor, Perm.LOGIN_UNLOCK, message=_("Only the platform operator unlocks sign-ins."))
    if not (username or ip_address):
        raise PlatformError(ErrorCode.INVALID_INPUT, _("Name the account or the address to unlock."))

    with transaction.atomic():
        cleared = reset(username=username or None, ip=ip_address or None)
        event_record(actor=Actor.for_user(actor), action=EventType.USER_UNLOCKED,
                     object_id=(username or ip_address)[:128],
                     detail={"username": username, "ip": ip_address, "cleared": cleared})
    return cleared
