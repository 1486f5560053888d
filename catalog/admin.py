from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import construct_change_message
from django.db.models import Exists, ForeignKey, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.errors import PlatformError
from registry.admin_base import PolicyAdmin, limit_to_departments
from registry.policy import Perm, allows, scope

from .admin_imports import import_urls
from .models import Dataset, DatasetStatus, Field, Record
from .selectors import datasets_visible_to, records_visible_to
from .services import FieldSpec, dataset_publish, dataset_register, dataset_update, record_view


class OneLookupKeyFormSet(forms.BaseInlineFormSet):
    """Exactly one lookup key is checked across the rows of one submission (the constraint only sees rows)."""

    def clean(self) -> None:
        super().clean()
        keys = [form.cleaned_data.get("name") for form in self.forms
                if form.cleaned_data.get("is_lookup_key") and not form.cleaned_data.get("DELETE")]
        if len(keys) > 1:
            raise forms.ValidationError(_("Mark only one field as the lookup key, not %(fields)s.")
                                        % {"fields": ", ".join(map(str, keys))})

    def specs(self) -> list[FieldSpec]:
        """The schema the clerk submitted: the filled-in rows not marked for deletion, in order."""
        rows = [form for form in self.forms
                if (form.instance.pk is not None or form.has_changed()) and not form.cleaned_data.get("DELETE")]
        rows.sort(key=lambda form: form.cleaned_data.get("position") or 0)
        return [FieldSpec(name=form.cleaned_data["name"], type=form.cleaned_data["type"],
                          sensitivity=form.cleaned_data["sensitivity"],
                          is_lookup_key=form.cleaned_data["is_lookup_key"],
                          is_subject_identifier=form.cleaned_data["is_subject_identifier"],
                          description=form.cleaned_data["description"]) for form in rows]


class FieldInline(admin.TabularInline):
    model = Field
    formset = OneLookupKeyFormSet
    extra = 1
    fields = ["position", "name", "type", "sensitivity", "is_lookup_key", "is_subject_identifier", "description"]

    def _editable(self, request: HttpRequest, obj: Dataset | None) -> bool:
        """The schema is fixed once published: grants name its fields."""
        if obj is not None and obj.status != DatasetStatus.DRAFT:
            return False
        return allows(request.user, Perm.DATASET_MANAGE, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True  # the parent admin decided who sees the dataset (approvers see the schema)


@admin.register(Dataset)
class DatasetAdmin(PolicyAdmin):
    """Registered and edited through the catalogue's services, schema included, each an audit event."""

    view_permission = Perm.DATASET_VIEW
    add_permission = change_permission = Perm.DATASET_MANAGE
    list_display = ["identifier", "title", "owner", "tier", "status", "version", "records_link"]
    list_filter = ["status", "tier", ("owner", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["identifier", "title"]
    readonly_fields = ["status", "version", "published_at"]
    inlines = [FieldInline]
    actions = ["publish"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Dataset]:
        """With, per dataset, whether this person may open its records (so a link appears only then)."""
        viewable = scope(request.user, Perm.RECORD_VIEW, Record.objects.filter(dataset=OuterRef("pk")))
        return datasets_visible_to(user=request.user).annotate(records_viewable=Exists(viewable))

    def get_readonly_fields(self, request: HttpRequest, obj: Dataset | None = None) -> Any:
        fixed = ["identifier", "owner", "tier"] if obj is not None and obj.status != DatasetStatus.DRAFT else []
        # The "load records" button only for those it would serve (no button that answers 403).
        loading = ["import_link"] if obj is not None and allows(request.user, Perm.DATASET_MANAGE, obj) else []
        return [*self.readonly_fields, *fixed, *loading]

    def formfield_for_foreignkey(self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "owner":
            field = limit_to_departments(request, field, Perm.DATASET_MANAGE, "pk")
            if field is not None and field.queryset.count() == 1:
                field.initial = field.queryset.first()  # the clerk's own department, preselected
        return field

    @admin.display(description=gettext_lazy("Records"))
    def records_link(self, obj: Dataset) -> str:
        count = obj.records.count()
        if not getattr(obj, "records_viewable", False):
            return str(count)  # only the owning clerks open records: no link that would lead nowhere
        url = reverse("admin:catalog_record_changelist") + f"?dataset__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, count)

    @admin.display(description=gettext_lazy("Load records"))
    def import_link(self, obj: Dataset) -> str:
        return format_html('<a class="button" href="{}">{}</a>',
                           reverse("admin:catalog_dataset_import", args=[obj.pk]),
                           _("Load records from a CSV file"))

    def save_model(self, request: HttpRequest, obj: Dataset, form: Any, change: bool) -> None:
        """Saved, with its fields, by the service in save_related (which sees the fields' rows)."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        data, obj = form.cleaned_data, form.instance
        fields = formsets[0].specs() if formsets and (not change or obj.status == DatasetStatus.DRAFT) else None
        if change:
            saved = dataset_update(actor=request.user, dataset=obj, title=data["title"],
                                   description=data["description"], legal_basis=data["legal_basis"],
                                   tier=data.get("tier"), owner=data.get("owner"), identifier=data.get("identifier"),
                                   fields=fields)
        else:
            saved = dataset_register(actor=request.user, owner=data["owner"], identifier=data["identifier"],
                                     title=data["title"], tier=data["tier"], description=data["description"],
                                     legal_basis=data["legal_basis"], fields=fields)
        obj.pk = saved.pk

    def construct_change_message(self, request: HttpRequest, form: Any, formsets: Any, add: bool = False) -> Any:
        return construct_change_message(form, [], add)  # the fields were saved by the service, not the formset

    def has_publish_permission(self, request: HttpRequest) -> bool:
        return allows(request.user, Perm.DATASET_MANAGE)

    @admin.action(description=gettext_lazy("Publish the selected datasets"), permissions=["publish"])
    def publish(self, request: HttpRequest, queryset: QuerySet[Dataset]) -> None:
        for dataset in queryset:
            try:
                dataset_publish(dataset=dataset, actor=request.user)
            except PlatformError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, _("%(dataset)s is published as %(tier)s.")
                                  % {"dataset": dataset.identifier, "tier": dataset.get_tier_display()},
                                  messages.SUCCESS)

    def get_urls(self) -> list[Any]:
        return [*import_urls(self), *super().get_urls()]

@admin.register(Record)
class RecordAdmin(PolicyAdmin):
    """Citizens' data: only the owning department's clerks see it, and every opening is an audit event.

    Records are loaded by import, never typed in or deleted here.
    """

    view_permission = Perm.RECORD_VIEW
    list_display = ["key", "dataset", "version", "updated_at"]
    list_filter = [("dataset", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["key"]
    readonly_fields = ["dataset", "key", "data", "version", "updated_at", "deleted_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Record]:
        return records_visible_to(user=request.user)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: Any = None) -> HttpResponse:
        record = self.get_object(request, object_id)
        if record is not None:
            record_view(viewer=request.user, record=record)
        return super().change_view(request, object_id, form_url, extra_context)
