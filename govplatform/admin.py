from typing import Any

from django.contrib import admin
from django.db.models import ForeignKey
from django.http import HttpRequest

from .admin_base import ReadOnlyInline, RoleScopedAdmin, limit_to_departments
from .models import Department, Membership, Role, System, SystemKey
from .permissions import CLERK_ROLES, is_superuser


@admin.register(Department)
class DepartmentAdmin(RoleScopedAdmin):
    department_path = ""
    list_display = ["name", "code", "parent", "active"]
    search_fields = ["name", "code"]


@admin.register(Membership)
class MembershipAdmin(RoleScopedAdmin):
    add_roles = change_roles = (Role.ADMIN,)
    deletable = True
    list_display = ["user", "department", "role"]
    list_filter = ["role", ("department", admin.RelatedOnlyFieldListFilter)]

    def formfield_for_foreignkey(self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return limit_to_departments(request, field, (Role.ADMIN,), "pk") if db_field.name == "department" else field

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, (Role.ADMIN,), obj)

    def formfield_for_choice_field(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        """The auditor role reads every department's data: only a platform superuser grants it."""
        if db_field.name == "role" and not is_superuser(request.user):
            kwargs["choices"] = [(value, label) for value, label in Role.choices if value != Role.AUDITOR]
        return super().formfield_for_choice_field(db_field, request, **kwargs)


class SystemKeyInline(ReadOnlyInline):
    model = SystemKey
    fields = readonly_fields = ("key_id", "not_before", "expires_at", "revoked_at", "revocation_reason")


@admin.register(System)
class SystemAdmin(RoleScopedAdmin):
    add_roles = change_roles = CLERK_ROLES
    list_display = ["code", "name", "department", "active"]
    list_filter = [("department", admin.RelatedOnlyFieldListFilter), "active"]
    inlines = [SystemKeyInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """A system's code names it in the audit log and its grants were made to its department: both fixed."""
        return ["code", "department"] if obj is not None else []

    def formfield_for_foreignkey(self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return limit_to_departments(request, field, CLERK_ROLES, "pk") if db_field.name == "department" else field
