from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from registry.policy import Perm, allows

from .events import event_type_of
from .models import AuditEvent, Checkpoint


class AuditorOnlyAdmin(admin.ModelAdmin):
    """The log is read by auditors (and superusers) and written by nobody through the admin."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return allows(request.user, Perm.AUDIT_READ)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return allows(request.user, Perm.AUDIT_READ)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(AuditorOnlyAdmin):
    list_display = ["created_at", "leaf_index", "action", "outcome", "reason", "actor_type", "actor_id",
                    "object_type", "object_id", "grant_id"]
    readonly_fields = ["meaning"]  # on the event's page: in the list it squeezes the columns auditors scan
    list_filter = ["action", "outcome", "actor_type"]
    search_fields = ["uid", "actor_id", "object_id", "leaf_hash"]
    list_select_related = ["leaf"]
    date_hierarchy = "created_at"

    @admin.display(description=_("Leaf"))
    def leaf_index(self, obj: AuditEvent) -> Any:
        leaf = getattr(obj, "leaf", None)
        return leaf.index if leaf is not None else _("pending")

    @admin.display(description=_("Meaning"))
    def meaning(self, obj: AuditEvent) -> Any:
        event_type = event_type_of(obj.action)
        return event_type.meaning if event_type is not None else ""


@admin.register(Checkpoint)
class CheckpointAdmin(AuditorOnlyAdmin):
    list_display = ["tree_size", "root_hash", "key_id", "created_at"]
