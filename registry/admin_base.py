"""The base of every admin page: deny unless a role grants it, scoped to the user's departments.

Django's model permissions are not used; roles (``Membership``) are. Auditors and superusers read
everything; only superusers delete, and only where a subclass allows deleting at all.
"""

from collections.abc import Iterable
from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from .models import Role
from .policy import can_read_everything, departments_where, has_any_role, is_superuser


def limit_to_departments(request: HttpRequest, field: Any, roles: Iterable[str], path: str) -> Any:
    """Offer in a form's choice ``field`` only objects of the departments where the user holds ``roles``."""
    if field is not None and not is_superuser(request.user):
        field.queryset = field.queryset.filter(**{f"{path}__in": departments_where(request.user, roles)})
    return field


class RoleScopedAdmin(admin.ModelAdmin):
    #: ORM path from the model to the Department that owns an object ("" for a Department itself).
    department_path: str = "department"
    #: Roles that may see objects of their departments, add them, and change them.
    view_roles: Iterable[str] = tuple(Role.values)
    add_roles: Iterable[str] = ()
    change_roles: Iterable[str] = ()
    #: Whether even a superuser may delete (audit rows and records: never).
    deletable: bool = False

    def _department_id(self, obj: Model) -> int | None:
        value: Any = obj
        for part in filter(None, self.department_path.split("__")):
            value = getattr(value, part, None)
            if value is None:
                return None
        return value.pk

    def _allowed(self, request: HttpRequest, roles: Iterable[str], obj: Model | None) -> bool:
        if is_superuser(request.user):
            return True
        depts = departments_where(request.user, roles)
        if obj is None:
            return bool(depts)
        return self._department_id(obj) in depts

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)
        if can_read_everything(request.user):
            return qs
        lookup = f"{self.department_path}__in" if self.department_path else "pk__in"
        return qs.filter(**{lookup: departments_where(request.user, self.view_roles)})

    def has_module_permission(self, request: HttpRequest) -> bool:
        return has_any_role(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return can_read_everything(request.user) or self._allowed(request, self.view_roles, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request, self.add_roles, None)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, self.change_roles, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.deletable and is_superuser(request.user)


class ReadOnlyInline(admin.TabularInline):
    """Rows shown on their parent's page, to whoever may see the parent (roles, not model permissions)."""

    extra = 0
    can_delete = False

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return True

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
