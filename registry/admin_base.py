"""The base of every admin page: the permission policy decides what each person sees and may do.

Django's model permissions are not used; the policy's named permissions are. Each admin names the
permission for seeing, adding and changing its objects; nobody deletes unless an admin says who may.
Writes go through the apps' services (each admin's ``save_model``), never around them; a refusal
from a service comes back as an error message on the same page, with nothing saved.
"""

from typing import Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from core.errors import PlatformError

from .policy import Perm, allows, allows_everywhere, departments_granting, scope


def limit_to_departments(request: HttpRequest, field: Any, perm: Perm, path: str) -> Any:
    """Offer in a form's choice ``field`` only objects of the departments where the user may ``perm``."""
    if field is not None and not allows_everywhere(request.user, perm):
        field.queryset = field.queryset.filter(**{f"{path}__in": departments_granting(request.user, perm)})
    return field


class PolicyAdmin(admin.ModelAdmin):
    view_permission: Perm
    add_permission: Perm | None = None
    change_permission: Perm | None = None
    delete_permission: Perm | None = None

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope(request.user, self.view_permission, super().get_queryset(request))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return allows(request.user, self.view_permission)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return allows(request.user, self.view_permission, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.add_permission is not None and allows(request.user, self.add_permission)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.change_permission is not None and allows(request.user, self.change_permission, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.delete_permission is not None and allows(request.user, self.delete_permission, obj)

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: Any = None) -> HttpResponse:
        """A service's refusal (PlatformError) is shown on the page; its transaction saved nothing."""
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except PlatformError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class ReadOnlyInline(admin.TabularInline):
    """Rows shown on their parent's page, to whoever may see the parent."""

    extra = 0
    can_delete = False

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return True

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
