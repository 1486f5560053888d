"""The permission policy: named permissions, each granted by a rule, in one place.

Everything is denied unless a rule grants it; a role that no rule names sees nothing. A rule grants
its permission to:

- people holding one of its ``roles`` in a department the object belongs to (``paths`` are the ORM
  paths from the object to its departments: a request belongs to the consumer's department and to
  the dataset owner's);
- people holding one of its ``everywhere`` roles, department roles (an auditor of any department
  reads every department's metadata) or platform-wide roles (the data authority, the operator),
  for every object of the kind;
- platform superusers, where the rule says ``superuser=True`` (never for citizens' records).

The policy answers both questions the admin, services, selectors and APIs ask:
``allows(user, perm, obj)``: may this person do this to this object (or, without an object, to any
object of the kind)? and ``scope(user, perm, queryset)``: which objects may they do it to?
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db.models import Model, Q, QuerySet

from core.errors import ErrorCode, PlatformError

from .models import Department, Membership, PlatformRole, PlatformRoleName, Role


class Perm(StrEnum):
    DEPARTMENT_VIEW = "department.view"
    DEPARTMENT_MANAGE = "department.manage"
    MEMBERSHIP_VIEW = "membership.view"
    MEMBERSHIP_MANAGE = "membership.manage"
    #: Auditors read every department's metadata: only the platform grants that role.
    MEMBERSHIP_GRANT_AUDITOR = "membership.grant_auditor"
    PLATFORM_ROLE_VIEW = "platform_role.view"
    PLATFORM_ROLE_MANAGE = "platform_role.manage"
    SYSTEM_VIEW = "system.view"
    SYSTEM_MANAGE = "system.manage"
    KEY_VIEW = "system_key.view"
    KEY_MANAGE = "system_key.manage"
    #: The published catalogue of every department (its metadata is public; in the admin, for every role).
    CATALOGUE_VIEW = "catalogue.view"
    DATASET_VIEW = "dataset.view"
    DATASET_MANAGE = "dataset.manage"
    #: A record's contents (citizens' data): its owning department's clerks only, and audited.
    RECORD_VIEW = "record.view"
    REQUEST_VIEW = "access_request.view"
    REQUEST_FILE = "access_request.file"
    REQUEST_DECIDE = "access_request.decide"
    #: Deciding a request that ran over its deadline and was escalated: the data authority, for every department.
    REQUEST_DECIDE_ESCALATED = "access_request.decide_escalated"
    #: Handing an escalated request to another approver of the providing department.
    REQUEST_HAND_OVER = "access_request.hand_over"
    #: The controlled vocabulary of purposes: kept by the data authority, read by everyone who files requests.
    PURPOSE_VIEW = "purpose.view"
    PURPOSE_MANAGE = "purpose.manage"
    GRANT_VIEW = "grant.view"
    #: Revoking a grant, effective on the next call: approvers of the providing department.
    GRANT_REVOKE = "grant.revoke"
    AUDIT_READ = "audit.read"
    #: Sign-ins locked after repeated failures (django-axes): the platform operator sees and unlocks them.
    LOGIN_UNLOCK = "login.unlock"
    #: A person's second factor removed (a lost phone, no recovery codes left): the platform operator.
    SECOND_FACTOR_RESET = "second_factor.reset"


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str] = frozenset()
    paths: tuple[str, ...] = ()
    everywhere: frozenset[str] = frozenset()
    superuser: bool = False


def _rule(roles: Iterable[str] = (), paths: Iterable[str] = (), everywhere: Iterable[str] = (),
          superuser: bool = False) -> Rule:
    return Rule(frozenset(roles), tuple(paths), frozenset(everywhere), superuser)


CLERKS = (Role.CLERK, Role.ADMIN)  # who acts for a department's datasets, systems, keys and requests
_STAFF = (Role.CLERK, Role.APPROVER, Role.ADMIN)
_READERS = (Role.AUDITOR, PlatformRoleName.OPERATOR, PlatformRoleName.DATA_AUTHORITY)

RULES: dict[Perm, Rule] = {
    Perm.DEPARTMENT_VIEW: _rule(_STAFF, [""], _READERS, superuser=True),
    Perm.DEPARTMENT_MANAGE: _rule(everywhere=[PlatformRoleName.OPERATOR], superuser=True),
    Perm.MEMBERSHIP_VIEW: _rule([Role.ADMIN], ["department"], [Role.AUDITOR, PlatformRoleName.OPERATOR],
                                superuser=True),
    Perm.MEMBERSHIP_MANAGE: _rule([Role.ADMIN], ["department"], [PlatformRoleName.OPERATOR], superuser=True),
    Perm.MEMBERSHIP_GRANT_AUDITOR: _rule(everywhere=[PlatformRoleName.OPERATOR], superuser=True),
    Perm.PLATFORM_ROLE_VIEW: _rule(everywhere=[Role.AUDITOR, PlatformRoleName.OPERATOR], superuser=True),
    Perm.PLATFORM_ROLE_MANAGE: _rule(superuser=True),
    Perm.SYSTEM_VIEW: _rule(_STAFF, ["department"], [Role.AUDITOR, PlatformRoleName.OPERATOR], superuser=True),
    Perm.SYSTEM_MANAGE: _rule(CLERKS, ["department"], superuser=True),
    Perm.KEY_VIEW: _rule(_STAFF, ["system__department"], [Role.AUDITOR, PlatformRoleName.OPERATOR],
                         superuser=True),
    Perm.KEY_MANAGE: _rule(CLERKS, ["system__department"], superuser=True),
    Perm.CATALOGUE_VIEW: _rule(everywhere=[*_STAFF, *_READERS], superuser=True),
    Perm.DATASET_VIEW: _rule(_STAFF, ["owner"], _READERS, superuser=True),
    Perm.DATASET_MANAGE: _rule(CLERKS, ["owner"], superuser=True),
    Perm.RECORD_VIEW: _rule(CLERKS, ["dataset__owner"]),
    Perm.REQUEST_VIEW: _rule(_STAFF, ["consumer__department", "dataset__owner"], _READERS, superuser=True),
    Perm.REQUEST_FILE: _rule(CLERKS, ["consumer__department"], superuser=True),
    Perm.REQUEST_DECIDE: _rule([Role.APPROVER], ["dataset__owner"]),
    Perm.REQUEST_DECIDE_ESCALATED: _rule(everywhere=[PlatformRoleName.DATA_AUTHORITY]),
    Perm.REQUEST_HAND_OVER: _rule(everywhere=[PlatformRoleName.DATA_AUTHORITY]),
    Perm.PURPOSE_VIEW: _rule(everywhere=[*_STAFF, *_READERS], superuser=True),
    Perm.PURPOSE_MANAGE: _rule(everywhere=[PlatformRoleName.DATA_AUTHORITY], superuser=True),
    Perm.GRANT_VIEW: _rule(_STAFF, ["consumer__department", "dataset__owner"], _READERS, superuser=True),
    Perm.GRANT_REVOKE: _rule([Role.APPROVER], ["dataset__owner"]),
    Perm.LOGIN_UNLOCK: _rule(everywhere=[PlatformRoleName.OPERATOR], superuser=True),
    Perm.SECOND_FACTOR_RESET: _rule(everywhere=[PlatformRoleName.OPERATOR], superuser=True),
    Perm.AUDIT_READ: _rule(everywhere=[Role.AUDITOR], superuser=True),
}

_CACHE_ATTR = "_registry_roles"


@dataclass(frozen=True)
class HeldRoles:
    by_department: dict[int, frozenset[str]]
    platform: frozenset[str]

    def everywhere(self) -> frozenset[str]:
        """Roles that reach every department: platform roles, and department roles held anywhere."""
        anywhere = frozenset(role for roles in self.by_department.values() for role in roles)
        return self.platform | anywhere


_NOBODY = HeldRoles({}, frozenset())


def held_roles(user: Any) -> HeldRoles:
    """The roles an active user holds (in active departments), cached on the user object per request."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return _NOBODY
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        by_department: dict[int, set[str]] = {}
        for department_id, role in (Membership.objects.filter(user=user, department__active=True)
                                    .values_list("department_id", "role")):
            by_department.setdefault(department_id, set()).add(role)
        platform = frozenset(PlatformRole.objects.filter(user=user).values_list("role", flat=True))
        cached = HeldRoles({d: frozenset(r) for d, r in by_department.items()}, platform)
        setattr(user, _CACHE_ATTR, cached)
    return cached


def forget_roles(user: Any) -> None:
    """Drop the per-request cache after the user's roles changed."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def is_superuser(user: Any) -> bool:
    return bool(getattr(user, "is_active", False) and getattr(user, "is_superuser", False))


def _everywhere(user: Any, rule: Rule) -> bool:
    return (rule.superuser and is_superuser(user)) or bool(rule.everywhere & held_roles(user).everywhere())


def allows_everywhere(user: Any, perm: Perm) -> bool:
    """Whether the user may ``perm`` across every department (a platform role, an auditor, a superuser)."""
    return _everywhere(user, RULES[perm])


def departments_granting(user: Any, perm: Perm) -> set[int]:
    """Ids of the departments in which the user's own roles grant ``perm`` (not counting ``everywhere``)."""
    rule = RULES[perm]
    return {dept for dept, roles in held_roles(user).by_department.items() if roles & rule.roles}


def _department_ids(obj: Model, path: str) -> set[int]:
    value: Any = obj
    for part in filter(None, path.split("__")):
        value = getattr(value, part, None)
        if value is None:
            return set()
    return {value.pk} if isinstance(value, Department) else set()


def allows(user: Any, perm: Perm, obj: Model | None = None) -> bool:
    """May ``user`` do ``perm`` to ``obj`` (or, with no object, to at least some objects of the kind)?"""
    rule = RULES[perm]
    if _everywhere(user, rule):
        return True
    departments = departments_granting(user, perm)
    if obj is None:
        return bool(departments)
    return any(departments & _department_ids(obj, path) for path in rule.paths)


def scope(user: Any, perm: Perm, queryset: QuerySet[Any]) -> QuerySet[Any]:
    """The objects of ``queryset`` that ``user`` may do ``perm`` to (none unless a rule grants it)."""
    rule = RULES[perm]
    if _everywhere(user, rule):
        return queryset
    departments = departments_granting(user, perm)
    if not departments or not rule.paths:
        return queryset.none()
    condition = Q()
    for path in rule.paths:
        condition |= Q(**{f"{path}__in" if path else "pk__in": departments})
    return queryset.filter(condition).distinct() if len(rule.paths) > 1 else queryset.filter(condition)


def require(user: Any, perm: Perm, obj: Model | None = None, message: str | None = None) -> None:
    """Raise PlatformError(forbidden) unless the policy allows it."""
    if not allows(user, perm, obj):
        raise PlatformError(ErrorCode.FORBIDDEN, message)


def has_any_role(user: Any) -> bool:
    """Whether the user holds a role some rule names (a role no rule names counts as none)."""
    roles = held_roles(user)
    named = {role for rule in RULES.values() for role in (*rule.roles, *rule.everywhere)}
    return is_superuser(user) or bool(roles.everywhere() & named)
