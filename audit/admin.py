from typing import Any

import orjson
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _

from core.errors import PlatformError
from registry.policy import Perm, allows

from .bundles import bundle_make
from .events import event_type_of
from .models import AuditEvent, Checkpoint, Witness
from .services import Actor, events_csv, subject_lookup, verification_latest
from .tasks import log_verify_task


class ValuesFilter(admin.SimpleListFilter):
    """A filter on one column, offering the values the log holds (departments, systems, datasets)."""

    field = ""
    only: dict[str, str] = {}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        values = (AuditEvent.objects.filter(**self.only).exclude(**{self.field: ""})
                  .values_list(self.field, flat=True).distinct().order_by(self.field)[:200])
        return [(value, value) for value in values]

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        if self.value():
            return queryset.filter(**self.only, **{self.field: self.value()})
        return queryset


class DepartmentFilter(ValuesFilter):
    title, parameter_name, field = _("actor's department"), "department", "actor_department"


class SystemFilter(ValuesFilter):
    title, parameter_name, field, only = _("system"), "system", "actor_id", {"actor_type": "system"}


class DatasetFilter(ValuesFilter):
    title, parameter_name, field, only = _("dataset"), "dataset", "object_id", {"object_type": "dataset"}


class SubjectLookupForm(forms.Form):
    identifier = forms.CharField(label=_("Citizen or company identifier"), max_length=64, strip=True, help_text=_(
        "e.g. a resident identity card number or a unified social credit code. It is hashed with the log's key "
        "and never stored; your lookup is itself recorded in the log."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "size": 32, "autofocus": True}))


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
    # created_at's filter also takes any range: ?created_at__gte=2026-12-01&created_at__lt=2026-12-08
    list_filter = ["created_at", DepartmentFilter, SystemFilter, DatasetFilter, "action", "outcome", "actor_type"]
    search_fields = ["uid", "actor_id", "object_id", "leaf_hash"]
    list_select_related = ["leaf"]
    date_hierarchy = "created_at"

    def get_urls(self) -> list[URLPattern]:
        return [path("subject/", self.admin_site.admin_view(self.subject_view), name="audit_auditevent_subject"),
                path("csv/", self.admin_site.admin_view(self.csv_view), name="audit_auditevent_csv"),
                path("bundle/", self.admin_site.admin_view(self.bundle_view), name="audit_auditevent_bundle"),
                *super().get_urls()]

    def csv_view(self, request: HttpRequest) -> StreamingHttpResponse:
        """The events the list shows, with the same filters and search, as CSV (the export is audited)."""
        events, filters = self._chosen(request)
        lines = events_csv(actor=Actor.for_user(request.user), events=events, filters=filters)
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="audit-events.csv"'
        return response

    def _chosen(self, request: HttpRequest) -> tuple[QuerySet[AuditEvent], dict[str, str]]:
        """The events the list shows for these filters and search (an auditor's export), and the filters."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        events = self.get_changelist_instance(request).get_queryset(request)
        return events, {name: str(value) for name, value in request.GET.items()}

    def subject_view(self, request: HttpRequest) -> HttpResponse:
        """Every access to one citizen's or company's data: the auditor types the identifier, the log is
        searched by its keyed hash, and the lookup is recorded."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = SubjectLookupForm(request.POST or None)
        found = None
        if request.method == "POST" and form.is_valid():
            found = subject_lookup(actor=Actor.for_user(request.user), identifier=form.cleaned_data["identifier"])
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form, "found": found,
                   "title": _("Accesses to one citizen's or company's data")}
        return TemplateResponse(request, "admin/audit/auditevent/subject.html", context)

    def bundle_view(self, request: HttpRequest) -> HttpResponse:
        """The events the list shows as an evidence bundle, checked offline by ``python -m audit.verify_bundle``."""
        events, filters = self._chosen(request)
        try:
            bundle = bundle_make(actor=Actor.for_user(request.user), events=events, selection=filters)
        except PlatformError as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:audit_auditevent_changelist") + "?" + request.GET.urlencode())
        response = HttpResponse(orjson.dumps(bundle, option=orjson.OPT_INDENT_2), content_type="application/json")
        response["Content-Disposition"] = 'attachment; filename="audit-evidence.json"'
        return response

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
    """The signed checkpoints, the log's last verification, and "verify now" (run as a task, recorded)."""

    list_display = ["tree_size", "root_hash", "key_id", "created_at", "cosigned_by"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Checkpoint]:
        return super().get_queryset(request).prefetch_related("cosignatures__witness")

    @admin.display(description=_("cosigned by"))
    def cosigned_by(self, obj: Checkpoint) -> str:
        return ", ".join(sorted(c.witness.name for c in obj.cosignatures.all()))

    def get_urls(self) -> list[URLPattern]:
        return [path("verify/", self.admin_site.admin_view(self.verify_view), name="audit_checkpoint_verify"),
                *super().get_urls()]

    def verify_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:audit_checkpoint_changelist"))
        if not self.has_view_permission(request):
            raise PermissionDenied
        log_verify_task.delay(request.user.get_username())
        self.message_user(request, _("The log is being verified; the result appears here and in the log "
                                     "(audit.verified) when it is done."), messages.INFO)
        return HttpResponseRedirect(reverse("admin:audit_checkpoint_changelist"))

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return super().changelist_view(request, {**(extra_context or {}), "verification": verification_latest()})


@admin.register(Witness)
class WitnessAdmin(AuditorOnlyAdmin):
    """The registered witnesses (python manage.py audit_witness_add registers one)."""

    list_display = ["name", "department", "created_at"]
    readonly_fields = ["name", "department", "public_key_pem", "created_at"]
