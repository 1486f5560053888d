"""Reads of the registry: who holds which role."""

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from .models import Department


def people_holding(*, department: Department | None = None, roles: Iterable[str] = (),
                   platform_roles: Iterable[str] = ()) -> QuerySet[Any]:
    """Active people holding one of ``roles`` in ``department`` (an active one), or one of the platform-wide
    ``platform_roles``: whom a notification about that department's work goes to."""
    users = get_user_model().objects.filter(is_active=True)
    roles, platform_roles = list(roles), list(platform_roles)
    if department is not None and roles and department.active:
        by_department = users.filter(memberships__department=department, memberships__role__in=roles)
    else:
        by_department = users.none()
    by_platform = users.filter(platform_roles__role__in=platform_roles) if platform_roles else users.none()
    return (by_department | by_platform).distinct().order_by("pk")
