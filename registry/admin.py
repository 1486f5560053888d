from typing import Any

from django.contrib import admin, messages
from django.db.models import ForeignKey, QuerySet
from django.http import HttpRequest

from core.errors import PlatformError

from .admin_base import ReadOnlyInline, RoleScopedAdmin, limit_to_departments
from .models import Department, Membership, Role, System, SystemKey
from .policy import CLERK_ROLES, is_superuser
from .services import system_key_register, system_key_revoke


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


@admin.register(SystemKey)
class SystemKeyAdmin(RoleScopedAdmin):
    """Keys are registered (public PEM pasted) and revoked, never edited; both are audited."""

    department_path = "system__department"
    add_roles = CLERK_ROLES
    list_display = ["key_id", "system", "not_before", "expires_at", "revoked_at", "created_by"]
    list_filter = [("system", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["key_id", "system__code"]
    readonly_fields = ["algorithm", "created_by", "created_at", "revoked_at", "revoked_by", "revocation_reason"]
    actions = ["revoke"]

    def formfield_for_foreignkey(self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return limit_to_departments(request, field, CLERK_ROLES, "department") if db_field.name == "system" else field

    def save_model(self, request: HttpRequest, obj: SystemKey, form: Any, change: bool) -> None:
        data = form.cleaned_data
        created = system_key_register(system=data["system"], key_id=data["key_id"], public_key=data["public_key"],
                                      not_before=data["not_before"], expires_at=data["expires_at"],
                                      actor=request.user)
        obj.pk = created.pk

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request, CLERK_ROLES, None)

    @admin.action(description="Revoke the selected keys now", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[SystemKey]) -> None:
        for key in queryset.select_related("system__department"):
            try:
                system_key_revoke(key=key, actor=request.user, reason="revoked in the admin")
            except PlatformError as exc:
                self.message_user(request, f"{key.key_id}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{key.key_id} is revoked.", messages.SUCCESS)
