"""Named permissions, in one place: which roles a person holds, and where.

Everything is denied unless a role grants it. A platform superuser may do everything; an auditor
may read everything and change nothing; clerks, approvers and department admins act only for the
departments they belong to.
"""

from collections.abc import Iterable
from typing import Any

from .models import Department, Membership, Role

_CACHE_ATTR = "_registry_roles"

#: Who acts for a department's datasets, systems, keys and requests: its clerks and its admins.
CLERK_ROLES = (Role.CLERK, Role.ADMIN)


def roles_by_department(user: Any) -> dict[int, set[str]]:
    """{department id: roles} for an authenticated user, cached on the user object per request."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return {}
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        cached = {}
        rows = Membership.objects.filter(user=user, department__active=True).values_list("department_id", "role")
        for department_id, role in rows:
            cached.setdefault(department_id, set()).add(role)
        setattr(user, _CACHE_ATTR, cached)
    return cached


def is_superuser(user: Any) -> bool:
    return bool(getattr(user, "is_active", False) and getattr(user, "is_superuser", False))


def is_auditor(user: Any) -> bool:
    return any(Role.AUDITOR in roles for roles in roles_by_department(user).values())


def departments_where(user: Any, roles: Iterable[str]) -> set[int]:
    """Ids of the departments in which the user holds any of ``roles``."""
    wanted = set(roles)
    return {dept for dept, held in roles_by_department(user).items() if held & wanted}


def has_role(user: Any, roles: Iterable[str], department: Department | int | None = None) -> bool:
    """Whether the user holds one of ``roles`` (in ``department``, if given)."""
    if is_superuser(user):
        return True
    depts = departments_where(user, roles)
    if department is None:
        return bool(depts)
    department_id = department if isinstance(department, int) else department.pk
    return department_id in depts


def can_read_everything(user: Any) -> bool:
    return is_superuser(user) or is_auditor(user)


def has_any_role(user: Any) -> bool:
    return is_superuser(user) or bool(roles_by_department(user))
