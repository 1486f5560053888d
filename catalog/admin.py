import re
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import construct_change_message
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, ForeignKey, Model, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.errors import PlatformError
from registry.admin_base import PolicyAdmin, limit_to_departments
from registry.policy import Perm, allows, scope

from .admin_imports import import_urls
from .models import Dataset, DatasetStatus, Field, MaskRule, Record, Theme, Tier
from .selectors import SimilarDataset, datasets_similar, datasets_visible_to, records_visible_to
from .services import (
    METADATA_FIELDS,
    FieldSpec,
    dataset_publish,
    dataset_register,
    dataset_update,
    record_view,
)


class OneLookupKeyFormSet(forms.BaseInlineFormSet):
    """Exactly one lookup key is checked across the rows of one submission (the constraint only sees rows)."""

    def clean(self) -> None:
        super().clean()
        keys = [form.cleaned_data.get("name") for form in self.forms
                if form.cleaned_data.get("is_lookup_key") and not form.cleaned_data.get("DELETE")]
        if len(keys) > 1:
            raise forms.ValidationError(_("Mark only one field as the lookup key, not %(fields)s.")
                                        % {"fields": ", ".join(map(str, keys))})

    def add_fields(self, form: forms.ModelForm, index: int | None) -> None:
        super().add_fields(form, index)
        if "masking" in form.fields:  # a row that does not say keeps the default: none
            form.fields["masking"].required = False

    def specs(self) -> list[FieldSpec]:
        """The schema the clerk submitted: the filled-in rows not marked for deletion, in order."""
        rows = [form for form in self.forms
                if (form.instance.pk is not None or form.has_changed()) and not form.cleaned_data.get("DELETE")]
        rows.sort(key=lambda form: form.cleaned_data.get("position") or 0)
        return [FieldSpec(name=form.cleaned_data["name"], type=form.cleaned_data["type"],
                          sensitivity=form.cleaned_data["sensitivity"],
                          is_lookup_key=form.cleaned_data["is_lookup_key"],
                          is_subject_identifier=form.cleaned_data["is_subject_identifier"],
                          description=form.cleaned_data["description"],
                          masking=form.cleaned_data.get("masking") or MaskRule.NONE,
                          mask_keep=form.instance.mask_keep, mask_band=form.instance.mask_band) for form in rows]


FIELD_COLUMNS = ["position", "name", "type", "sensitivity", "is_lookup_key", "is_subject_identifier", "masking",
                 "description"]


class FieldInline(admin.TabularInline):
    model = Field
    formset = OneLookupKeyFormSet
    extra = 1
    fields = list[Any](FIELD_COLUMNS)

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


_LIST_SEPARATORS = re.compile(r"[,，、;；\n]+")


class TextListField(forms.CharField):
    """A JSON list of texts, typed as one line separated by commas (，、 too: Chinese keyboards)."""

    def prepare_value(self, value: Any) -> Any:
        return "，".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, list):
            return value
        return [item.strip() for item in _LIST_SEPARATORS.split(value or "") if item.strip()]


METADATA_FIELDSETS = [
    (gettext_lazy("Publishing"), {"fields": ["status", "version", "published_at", "similar"]}),
    (gettext_lazy("The dataset"), {"fields": ["owner", "identifier", "title", "description", "keywords", "themes",
                                               "resource_category", "resource_code", "resource_format", "language",
                                               "related_resources", "conforms_to"]}),
    (gettext_lazy("Sharing"), {"fields": ["tier", "legal_basis", "sharing_conditions", "sharing_method",
                                          "open_conditions", "licence", "grade", "personal_data"]}),
    (gettext_lazy("Coverage and updates"), {"fields": ["update_frequency", "temporal_start", "temporal_end",
                                                       "spatial"]}),
    (gettext_lazy("Contact"), {"fields": ["contact_name", "contact_email", "contact_phone"]}),
]


class DatasetForm(forms.ModelForm):
    conforms_to = forms.URLField(required=False, assume_scheme="https", label=gettext_lazy("conforms to"),
                                 help_text=Dataset._meta.get_field("conforms_to").help_text)
    keywords = TextListField(required=False, label=gettext_lazy("keywords"), help_text=gettext_lazy(
        "Words people search for, separated by commas, e.g. 疫苗，接种."))
    themes = forms.MultipleChoiceField(choices=Theme.choices, required=False, widget=forms.CheckboxSelectMultiple,
                                       label=gettext_lazy("themes"))
    related_resources = TextListField(required=False, label=gettext_lazy("related resource codes"),
                                      help_text=gettext_lazy("Codes of related resources (关联资源代码), separated "
                                                             "by commas."))

    class Meta:
        model = Dataset
        fields = [name for _legend, options in METADATA_FIELDSETS[1:] for name in options["fields"]]


@admin.register(Dataset)
class DatasetAdmin(PolicyAdmin):
    """Registered and edited through the catalogue's services, schema included, each an audit event.

    Every signed-in member sees the published catalogue of all departments (its metadata is public);
    drafts only in their own departments.
    """

    form = DatasetForm
    view_permission = Perm.DATASET_VIEW
    add_permission = change_permission = Perm.DATASET_MANAGE
    list_display = ["identifier", "title", "owner", "tier", "grade", "status", "version", "records_link"]
    list_filter = ["status", "tier", "grade", ("owner", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["identifier", "title", "resource_code"]
    readonly_fields = ["status", "version", "published_at", "similar"]
    inlines = [FieldInline]
    actions = ["publish"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Dataset]:
        """With, per dataset, whether this person may open its records (so a link appears only then)."""
        viewable = scope(request.user, Perm.RECORD_VIEW, Record.objects.filter(dataset=OuterRef("pk")))
        return datasets_visible_to(user=request.user).annotate(records_viewable=Exists(viewable))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return allows(request.user, Perm.CATALOGUE_VIEW) or allows(request.user, Perm.DATASET_VIEW)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if obj is None:
            return self.has_module_permission(request)
        published = isinstance(obj, Dataset) and obj.status == DatasetStatus.PUBLISHED
        return (published and allows(request.user, Perm.CATALOGUE_VIEW)) or allows(request.user, Perm.DATASET_VIEW,
                                                                                     obj)

    def get_fieldsets(self, request: HttpRequest, obj: Dataset | None = None) -> Any:
        if obj is None:
            return METADATA_FIELDSETS[1:]
        return METADATA_FIELDSETS

    def get_readonly_fields(self, request: HttpRequest, obj: Dataset | None = None) -> Any:
        # A published dataset's tier changes only with a new version (the "new version" page).
        fixed = ["identifier", "owner", "tier"] if obj is not None and obj.status != DatasetStatus.DRAFT else []
        return [*self.readonly_fields, *fixed]

    def formfield_for_foreignkey(self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "owner":
            field = limit_to_departments(request, field, Perm.DATASET_MANAGE, "pk")
            if field is not None and field.queryset.count() == 1:
                field.initial = field.queryset.first()  # the clerk's own department, preselected
        return field

    @admin.display(description=gettext_lazy("Records"))
    def records_link(self, obj: Dataset) -> str:
        count = obj.records.filter(generation=obj.records_generation, deleted_at=None).count()
        if not getattr(obj, "records_viewable", False):
            return str(count)  # only the owning clerks open records: no link that would lead nowhere
        url = reverse("admin:catalog_record_changelist") + f"?dataset__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, count)

    def next_steps(self, request: HttpRequest, obj: Dataset) -> list[tuple[str, str]]:
        """The buttons for what this person can do next with the dataset (none that would answer 403)."""
        buttons: list[tuple[str, str]] = []
        if allows(request.user, Perm.DATASET_MANAGE, obj):
            buttons.append((reverse("admin:catalog_dataset_import", args=[obj.pk]),
                            _("Load records (CSV, Excel, JSON Lines)")))
            if obj.status == DatasetStatus.DRAFT:
                buttons.append((reverse("admin:catalog_dataset_publish", args=[obj.pk]), _("Publish")))
            else:
                buttons.append((reverse("admin:catalog_dataset_new_version", args=[obj.pk]), _("New version")))
        if allows(request.user, Perm.RECORD_VIEW, Record(dataset=obj)):
            buttons.append((reverse("admin:catalog_record_changelist") + f"?dataset__id__exact={obj.pk}",
                            _("Find a record by key")))
        if obj.status == DatasetStatus.PUBLISHED:
            buttons.append((reverse("catalog:dataset", args=[obj.identifier]), _("See it in the catalogue")))
        return buttons

    @admin.display(description=gettext_lazy("Similar datasets of other departments"))
    def similar(self, obj: Dataset) -> str:
        return _similar_html(datasets_similar(dataset=obj)) or "-"

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: Any = None) -> HttpResponse:
        obj = self.get_object(request, object_id)
        steps = self.next_steps(request, obj) if obj is not None else []
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "next_steps": steps})

    def save_model(self, request: HttpRequest, obj: Dataset, form: Any, change: bool) -> None:
        """Saved, with its fields, by the service in save_related (which sees the fields' rows)."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        data, obj = form.cleaned_data, form.instance
        fields = formsets[0].specs() if formsets and (not change or obj.status == DatasetStatus.DRAFT) else None
        metadata = {name: data[name] for name in METADATA_FIELDS if name in data}
        if change:
            saved = dataset_update(actor=request.user, dataset=obj, tier=data.get("tier"), owner=data.get("owner"),
                                   identifier=data.get("identifier"), fields=fields, **metadata)
        else:
            saved = dataset_register(actor=request.user, owner=data["owner"], identifier=data["identifier"],
                                     tier=data["tier"], fields=fields, **metadata)
        obj.pk = saved.pk
        if saved.status == DatasetStatus.DRAFT and (similar := datasets_similar(dataset=saved)):
            self.message_user(request, format_html("{} {}", _("Before publishing, look at what other departments "
                                                              "already publish:"), _similar_html(similar)),
                              messages.WARNING)

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
        wrap = self.admin_site.admin_view
        return [path("<int:pk>/publish/", wrap(self.publish_view), name="catalog_dataset_publish"),
                path("<int:pk>/new-version/", wrap(self.new_version_view), name="catalog_dataset_new_version"),
                *import_urls(self), *super().get_urls()]

    def _managed(self, request: HttpRequest, pk: int) -> Dataset:
        dataset = get_object_or_404(self.get_queryset(request), pk=pk)
        if not allows(request.user, Perm.DATASET_MANAGE, dataset):
            raise PermissionDenied
        return dataset

    def _page(self, request: HttpRequest, template: str, title: str, dataset: Dataset, status: int = 200,
              **context: Any) -> HttpResponse:
        return TemplateResponse(request, template, {
            **self.admin_site.each_context(request), "title": title, "dataset": dataset, "opts": self.model._meta,
            **context}, status=status)

    def publish_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Publish a draft after seeing what stops it and which datasets of other departments look the same."""
        dataset = self._managed(request, pk)
        if request.method == "POST":
            try:
                dataset_publish(dataset=dataset, actor=request.user)
            except PlatformError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, _("%(dataset)s is published as %(tier)s.") % {
                    "dataset": dataset.identifier, "tier": dataset.get_tier_display()}, messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:catalog_dataset_change", args=[pk]))
        return self._page(request, "admin/catalog/publish.html", _("Publish %(dataset)s") % {
            "dataset": dataset.identifier}, dataset, similar=datasets_similar(dataset=dataset))

    def new_version_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Change a published dataset's schema or tier: a new version, with a note; the grants that lose a
        field are suspended until approved again; the page lists the grants in force with the fields each reads."""
        dataset = self._managed(request, pk)
        formset_class = forms.inlineformset_factory(Dataset, Field, formset=OneLookupKeyFormSet,
                                                    fields=FIELD_COLUMNS, extra=1)
        form = NewVersionForm(request.POST or None, initial={"tier": dataset.tier})
        formset = formset_class(request.POST or None, instance=dataset, prefix="fields")
        status = 200
        if request.method == "POST":
            if form.is_valid() and formset.is_valid():
                try:
                    saved = dataset_update(actor=request.user, dataset=dataset, tier=form.cleaned_data["tier"],
                                           fields=cast(OneLookupKeyFormSet, formset).specs(),
                                           note=form.cleaned_data["note"])
                except PlatformError as exc:
                    form.add_error(None, exc.message)
                    status = exc.status
                else:
                    if saved.version == dataset.version:
                        self.message_user(request, _("Nothing changed in the tier or the fields: no new version."),
                                          messages.WARNING)
                    else:
                        self.message_user(request, _("Version %(version)d of %(dataset)s is published.") % {
                            "version": saved.version, "dataset": saved.identifier}, messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:catalog_dataset_change", args=[pk]))
            else:
                status = 400
        return self._page(request, "admin/catalog/new_version.html", _("New version of %(dataset)s") % {
            "dataset": dataset.identifier}, dataset, status, form=form, formset=formset,
            versions=dataset.versions.all(),
            # The grants in force and the fields each reads (by the reverse relation: the exchange is a
            # layer above and is not imported).
            grants=dataset.grants.filter(revoked_at=None, suspended_at=None, valid_until__gt=timezone.now())
            .select_related("consumer__department"))


class NewVersionForm(forms.Form):
    tier = forms.ChoiceField(choices=Tier.choices, label=gettext_lazy("sharing tier"))
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label=gettext_lazy("What changed and why"),
                           help_text=gettext_lazy("Departments that use the dataset are told."))


def _similar_html(similar: list[SimilarDataset]) -> str:
    return format_html_join("; ", "{} ({}, {}): {}", [
        (s.dataset.title, s.dataset.owner, s.dataset.identifier,
         ", ".join(f"{mine}≈{theirs}" for mine, theirs in s.fields)) for s in similar])


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
