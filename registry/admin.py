"""The registry in the admin. Every save and delete goes through an audited service in registry/services.py."""

from typing import Any

from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.db.models import ForeignKey, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.errors import PlatformError

from .admin_base import PolicyAdmin, ReadOnlyInline, limit_to_departments
from .models import Department, Membership, PlatformRole, Role, SecondFactor, System, SystemKey
from .policy import Perm, allows
from .second_factor import second_factor_reset
from .services import (
    department_change,
    department_register,
    login_unlock,
    membership_change,
    membership_grant,
    membership_revoke,
    platform_role_grant,
    platform_role_revoke,
    system_change,
    system_key_register,
    system_key_revoke,
    system_register,
    users_enrollable,
)


@admin.register(Department)
class DepartmentAdmin(PolicyAdmin):
    view_permission = Perm.DEPARTMENT_VIEW
    add_permission = change_permission = Perm.DEPARTMENT_MANAGE
    list_display = ["name", "code", "parent", "active"]
    search_fields = ["name", "code"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["code"] if obj is not None else []  # the code names the department in the audit log

    def save_model(self, request: HttpRequest, obj: Department, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if change:
            saved = department_change(actor=request.user, department=obj, name=data["name"], parent=data["parent"],
                                      active=data["active"])
        else:
            saved = department_register(actor=request.user, code=data["code"], name=data["name"],
                                        parent=data["parent"])
        obj.pk = saved.pk


@admin.register(Membership)
class MembershipAdmin(PolicyAdmin):
    view_permission = Perm.MEMBERSHIP_VIEW
    add_permission = change_permission = delete_permission = Perm.MEMBERSHIP_MANAGE
    list_display = ["user", "department", "role"]
    list_filter = ["role", ("department", admin.RelatedOnlyFieldListFilter)]

    def formfield_for_foreignkey(self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "user":
            kwargs["queryset"] = users_enrollable(actor=request.user)
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "department":
            field = limit_to_departments(request, field, Perm.MEMBERSHIP_MANAGE, "pk")
        return field

    def formfield_for_choice_field(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        """The auditor role reads every department's data: only the platform grants it."""
        if db_field.name == "role" and not allows(request.user, Perm.MEMBERSHIP_GRANT_AUDITOR):
            kwargs["choices"] = [(value, label) for value, label in Role.choices if value != Role.AUDITOR]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if change:
            saved = membership_change(actor=request.user, membership=obj, user=data["user"],
                                      department=data["department"], role=data["role"])
        else:
            saved = membership_grant(actor=request.user, user=data["user"], department=data["department"],
                                     role=data["role"])
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        membership_revoke(actor=request.user, membership=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset:
            membership_revoke(actor=request.user, membership=membership)


@admin.register(PlatformRole)
class PlatformRoleAdmin(PolicyAdmin):
    view_permission = Perm.PLATFORM_ROLE_VIEW
    add_permission = delete_permission = Perm.PLATFORM_ROLE_MANAGE
    list_display = ["user", "role"]
    list_filter = ["role"]

    def save_model(self, request: HttpRequest, obj: PlatformRole, form: Any, change: bool) -> None:
        saved = platform_role_grant(actor=request.user, user=form.cleaned_data["user"], role=form.cleaned_data["role"])
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: PlatformRole) -> None:
        platform_role_revoke(actor=request.user, platform_role=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[PlatformRole]) -> None:
        for platform_role in queryset:
            platform_role_revoke(actor=request.user, platform_role=platform_role)


class SystemKeyInline(ReadOnlyInline):
    model = SystemKey
    fields = readonly_fields = ("key_id", "not_before", "expires_at", "revoked_at", "revocation_reason")


@admin.register(System)
class SystemAdmin(PolicyAdmin):
    view_permission = Perm.SYSTEM_VIEW
    add_permission = change_permission = Perm.SYSTEM_MANAGE
    list_display = ["code", "name", "department", "active"]
    list_filter = [("department", admin.RelatedOnlyFieldListFilter), "active"]
    inlines = [SystemKeyInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """A system's code names it in the audit log and its grants were made to its department: both fixed."""
        return ["code", "department"] if obj is not None else []

    def formfield_for_foreignkey(self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return limit_to_departments(request, field, Perm.SYSTEM_MANAGE, "pk") if db_field.name == "department" \
            else field

    def save_model(self, request: HttpRequest, obj: System, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if change:
            saved = system_change(actor=request.user, system=obj, name=data["name"], active=data["active"])
        else:
            saved = system_register(actor=request.user, department=data["department"], code=data["code"],
                                    name=data["name"])
        obj.pk = saved.pk


@admin.register(SystemKey)
class SystemKeyAdmin(PolicyAdmin):
    """Keys are registered (public PEM pasted) and revoked, never edited; both are audited."""

    view_permission = Perm.KEY_VIEW
    add_permission = Perm.KEY_MANAGE
    list_display = ["key_id", "system", "not_before", "expires_at", "revoked_at", "created_by"]
    list_filter = [("system", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["key_id", "system__code"]
    readonly_fields = ["algorithm", "created_by", "created_at", "revoked_at", "revoked_by", "revocation_reason"]
    actions = ["revoke"]

    def formfield_for_foreignkey(self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return limit_to_departments(request, field, Perm.KEY_MANAGE, "department") if db_field.name == "system" \
            else field

    def save_model(self, request: HttpRequest, obj: SystemKey, form: Any, change: bool) -> None:
        data = form.cleaned_data
        created = system_key_register(system=data["system"], key_id=data["key_id"], public_key=data["public_key"],
                                      not_before=data["not_before"], expires_at=data["expires_at"],
                                      actor=request.user)
        obj.pk = created.pk

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return allows(request.user, Perm.KEY_MANAGE)

    @admin.action(description=gettext_lazy("Revoke the selected keys now"), permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[SystemKey]) -> None:
        for key in queryset.select_related("system__department"):
            try:
                system_key_revoke(key=key, actor=request.user, reason=_("revoked in the admin"))
            except PlatformError as exc:
                self.message_user(request, f"{key.key_id}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, _("%(key)s is revoked.") % {"key": key.key_id}, messages.SUCCESS)


@admin.register(AccessAttempt)
class LockedSignInAdmin(PolicyAdmin):
    """Sign-ins that failed, by account and address (django-axes): the platform operator unlocks them, audited."""

    view_permission = Perm.LOGIN_UNLOCK
    list_display = ["username", "ip_address", "failures_since_start", "attempt_time"]
    search_fields = ["username", "ip_address"]
    fields = readonly_fields = ("username", "ip_address", "failures_since_start", "attempt_time", "path_info")
    actions = ["unlock"]

    def has_unlock_permission(self, request: HttpRequest) -> bool:
        return allows(request.user, Perm.LOGIN_UNLOCK)

    @admin.action(description=gettext_lazy("Unlock the selected accounts and addresses now"), permissions=["unlock"])
    def unlock(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        for attempt in queryset:
            for kind, value in (("username", attempt.username), ("ip_address", attempt.ip_address)):
                if value:
                    login_unlock(actor=request.user, **{kind: value})
            self.message_user(request, _("%(who)s may sign in again.") % {
                "who": attempt.username or attempt.ip_address}, messages.SUCCESS)


# django-otp's own admin pages would show the authenticators' secrets and the recovery codes: not offered.
for _device in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_device):
        admin.site.unregister(_device)


@admin.register(SecondFactor)
class SecondFactorAdmin(PolicyAdmin):
    """People's authenticators, without their secrets: the platform operator resets one (a lost phone, no
    recovery codes left), audited; the person enrols again at their next sign-in."""

    view_permission = Perm.SECOND_FACTOR_RESET
    list_display = ["person", "set_up", "enrolled_at", "last_used", "wrong_codes"]
    list_display_links = ["person"]
    search_fields = ["user__username"]
    fields = readonly_fields = ("person", "set_up", "enrolled_at", "last_used", "wrong_codes")
    actions = ["reset"]

    # django-otp names its fields in English only: the columns are named here, in the platform's languages.
    @admin.display(description=gettext_lazy("person"), ordering="user__username")
    def person(self, obj: SecondFactor) -> str:
        return str(obj.user)

    @admin.display(description=gettext_lazy("set up"), boolean=True)
    def set_up(self, obj: SecondFactor) -> bool:
        return obj.confirmed

    @admin.display(description=gettext_lazy("enrolled at"), ordering="created_at")
    def enrolled_at(self, obj: SecondFactor) -> Any:
        return obj.created_at

    @admin.display(description=gettext_lazy("last used at"), ordering="last_used_at")
    def last_used(self, obj: SecondFactor) -> Any:
        return obj.last_used_at

    @admin.display(description=gettext_lazy("wrong codes in a row"))
    def wrong_codes(self, obj: SecondFactor) -> int:
        return obj.throttling_failure_count

    def get_queryset(self, request: HttpRequest) -> QuerySet[SecondFactor]:
        return super().get_queryset(request).select_related("user")

    def has_reset_permission(self, request: HttpRequest) -> bool:
        return allows(request.user, Perm.SECOND_FACTOR_RESET)

    @admin.action(description=gettext_lazy("Reset the selected people's second factor"), permissions=["reset"])
    def reset(self, request: HttpRequest, queryset: QuerySet[SecondFactor]) -> None:
        for device in queryset:
            second_factor_reset(actor=request.user, user=device.user)
            self.message_user(request, _("%(who)s enrols a new authenticator at the next sign-in.") % {
                "who": device.user}, messages.SUCCESS)
