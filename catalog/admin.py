from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import ForeignKey, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core.errors import PlatformError
from registry.admin_base import RoleScopedAdmin, limit_to_departments
from registry.policy import CLERK_ROLES, departments_where, is_superuser

from .models import Dataset, DatasetStatus, Field, Record
from .services import dataset_change_record, dataset_publish, records_import_csv

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


class OneLookupKeyFormSet(forms.BaseInlineFormSet):
    """Exactly one lookup key is checked across the rows of one submission (the constraint only sees rows)."""

    def clean(self) -> None:
        super().clean()
        keys = [form.cleaned_data.get("name") for form in self.forms
                if form.cleaned_data.get("is_lookup_key") and not form.cleaned_data.get("DELETE")]
        if len(keys) > 1:
            raise forms.ValidationError(f"Mark only one field as the lookup key, not {', '.join(map(str, keys))}.")


class FieldInline(admin.TabularInline):
    model = Field
    formset = OneLookupKeyFormSet
    extra = 1
    fields = ["position", "name", "type", "sensitivity", "is_lookup_key", "is_subject_identifier", "description"]

    def _editable(self, request: HttpRequest, obj: Dataset | None) -> bool:
        """The schema is fixed once published: grants name its fields."""
        if obj is not None and obj.status != DatasetStatus.DRAFT:
            return False
        if is_superuser(request.user):
            return True
        depts = departments_where(request.user, CLERK_ROLES)
        return bool(depts) if obj is None else obj.owner_id in depts

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True  # the parent admin decided who sees the dataset


class CsvImportForm(forms.Form):
    file = forms.FileField(help_text="CSV, UTF-8, with a header row naming exactly the dataset's fields.")

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; split it.")
        return upload


@admin.register(Dataset)
class DatasetAdmin(RoleScopedAdmin):
    department_path = "owner"
    add_roles = change_roles = CLERK_ROLES
    list_display = ["identifier", "title", "owner", "tier", "status", "version", "records_link"]
    list_filter = ["status", "tier", ("owner", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["identifier", "title"]
    readonly_fields = ["status", "version", "published_at", "import_link"]
    inlines = [FieldInline]
    actions = ["publish"]

    def get_readonly_fields(self, request: HttpRequest, obj: Dataset | None = None) -> Any:
        fixed = ["identifier", "owner", "tier"] if obj is not None and obj.status != DatasetStatus.DRAFT else []
        return [*self.readonly_fields, *fixed]

    def formfield_for_foreignkey(self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return limit_to_departments(request, field, CLERK_ROLES, "pk") if db_field.name == "owner" else field

    @admin.display(description="Records")
    def records_link(self, obj: Dataset) -> str:
        url = reverse("admin:catalog_record_changelist") + f"?dataset__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj.records.count())

    @admin.display(description="Load records")
    def import_link(self, obj: Dataset) -> str:
        if obj.pk is None:
            return "Save the dataset and its fields first."
        return format_html('<a href="{}">Load records from a CSV file</a>',
                           reverse("admin:catalog_dataset_import", args=[obj.pk]))

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """After the dataset and its fields are saved (one transaction): the audit event, schema included."""
        super().save_related(request, form, formsets, change)
        changed = [*form.changed_data, *(["fields"] if any(fs.has_changed() for fs in formsets) else [])]
        if not change or changed:
            dataset_change_record(dataset=form.instance, actor=request.user, created=not change, changed=changed)

    def has_publish_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request, CLERK_ROLES, None)

    @admin.action(description="Publish the selected datasets", permissions=["publish"])
    def publish(self, request: HttpRequest, queryset: QuerySet[Dataset]) -> None:
        for dataset in queryset:
            try:
                dataset_publish(dataset=dataset, actor=request.user)
            except PlatformError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, f"{dataset.identifier} is published as {dataset.get_tier_display()}.",
                                  messages.SUCCESS)

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.import_view)
        return [path("<int:pk>/import/", view, name="catalog_dataset_import"), *super().get_urls()]

    def import_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        dataset = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_change_permission(request, dataset):
            return TemplateResponse(request, "admin/catalog/import_denied.html", {"dataset": dataset}, status=403)
        form = CsvImportForm(request.POST or None, request.FILES or None)
        report, status = None, 200
        if request.method == "POST" and not form.is_valid():
            status = 400
        elif request.method == "POST":
            try:
                report = records_import_csv(dataset=dataset, content=form.cleaned_data["file"].read(),
                                            actor=request.user)
            except PlatformError as exc:
                form.add_error(None, exc.message)
                status = exc.status
            else:
                if report.ok:
                    self.message_user(request, f"Loaded {report.rows} rows into {dataset.identifier}: "
                                               f"{report.created} new, {report.updated} updated.", messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:catalog_dataset_change", args=[dataset.pk]))
                status = 400
        context = {**self.admin_site.each_context(request), "title": f"Load records into {dataset.identifier}",
                   "dataset": dataset, "form": form, "report": report, "opts": self.model._meta}
        return TemplateResponse(request, "admin/catalog/import.html", context, status=status)


@admin.register(Record)
class RecordAdmin(RoleScopedAdmin):
    """Records are loaded by import, never typed in or deleted here."""

    department_path = "dataset__owner"
    list_display = ["key", "dataset", "version", "updated_at"]
    list_filter = [("dataset", admin.RelatedOnlyFieldListFilter)]
    readonly_fields = ["dataset", "key", "data", "version", "updated_at", "deleted_at"]
