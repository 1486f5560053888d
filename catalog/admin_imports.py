"""The admin's pages for loading records (wired into DatasetAdmin by ``import_urls``).

- ``<pk>/import/``: upload a file (CSV, XLSX, JSON Lines) and see the dataset's recent imports;
- ``<pk>/import/<job>/``: the job: its progress while it is checked or loaded, the dry run's report, and
  the buttons to load it (replace all / upsert by key), discard it or check it again;
- ``<pk>/import/<job>/progress/``: the job's progress as JSON, polled by the job page;
- ``<pk>/template.csv`` and ``<pk>/template.xlsx``: the dataset's template;
- ``propose/``: upload a file for a new dataset, confirm the schema proposed from it, register the
  dataset and check the file.

Only clerks of the owning department load records (the policy's dataset.manage); others who may see
the dataset get a 403 page, the rest a 404.
"""

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django import forms
from django.contrib import messages
from django.core import signing
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.errors import ErrorCode, PlatformError
from registry.admin_base import limit_to_departments
from registry.models import Department
from registry.policy import Perm, allows

from .imports.dispatch import step_dispatch
from .imports.inference import Proposal, schema_propose
from .imports.readers import ENCODING_LABELS
from .imports.services import (
    MAX_STORED_PROBLEMS,
    STALE_AFTER,
    StoredFile,
    file_store,
    import_apply_start,
    import_check_restart,
    import_discard,
    import_stale_release,
    import_upload,
    imports_dir,
    max_upload_bytes,
)
from .imports.staging import unnamed_live_count
from .imports.template_files import template_csv, template_xlsx
from .models import (
    Dataset,
    FieldType,
    ImportJob,
    ImportMode,
    ImportState,
    Sensitivity,
    Tier,
    field_name_validator,
)
from .services import FieldSpec, dataset_register

SHOWN_PROBLEMS = 200
_RUNNING = (ImportState.UPLOADED, ImportState.CHECKING, ImportState.APPLYING)
_PROPOSAL_SALT = "catalog.imports.propose"


def import_urls(model_admin: Any) -> list[URLPattern]:
    """The import pages, under the dataset admin's URLs."""

    def wrap(view: Callable[..., HttpResponse]) -> Any:
        def bound(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            return view(model_admin, request, **kwargs)

        return model_admin.admin_site.admin_view(bound)

    return [
        path("propose/", wrap(propose_view), name="catalog_dataset_propose"),
        path("<int:pk>/import/", wrap(import_view), name="catalog_dataset_import"),
        path("<int:pk>/import/<int:job_id>/", wrap(job_view), name="catalog_dataset_import_job"),
        path("<int:pk>/import/<int:job_id>/progress/", wrap(progress_view), name="catalog_dataset_import_progress"),
        path("<int:pk>/template.<str:fmt>", wrap(template_view), name="catalog_dataset_import_template"),
    ]


def _context(model_admin: Any, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    return {**model_admin.admin_site.each_context(request), "title": title, "opts": model_admin.model._meta, **extra}


def _dataset(model_admin: Any, request: HttpRequest, pk: int) -> Dataset:
    """The dataset if this person may see it (404 otherwise: a probe learns nothing)."""
    return get_object_or_404(model_admin.get_queryset(request), pk=pk)


def _denied(request: HttpRequest, dataset: Dataset) -> HttpResponse | None:
    if allows(request.user, Perm.DATASET_MANAGE, dataset):
        return None
    return TemplateResponse(request, "admin/catalog/import_denied.html", {"dataset": dataset}, status=403)


def _job_url(job: ImportJob) -> str:
    return reverse("admin:catalog_dataset_import_job", args=[job.dataset_id, job.pk])


# --- Upload ---

class UploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("File"), help_text=gettext_lazy(
        "CSV (UTF-8, GBK or GB18030: detected), Excel workbook (.xlsx, the first sheet) or JSON Lines (one JSON "
        "object per line); at most 50 MB. The first row names the dataset's fields."))
    mode = forms.ChoiceField(label=gettext_lazy("How to load it"), choices=ImportMode.choices, required=False,
                             initial=ImportMode.UPSERT, widget=forms.RadioSelect, help_text=gettext_lazy(
                                 "You choose again after the check, when you have seen its report."))

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > max_upload_bytes():
            raise forms.ValidationError(_("The file is larger than %(mb)d MB; split it into several files.")
                                        % {"mb": max_upload_bytes() // (1024 * 1024)})
        return upload


def import_view(model_admin: Any, request: HttpRequest, pk: int) -> HttpResponse:
    dataset = _dataset(model_admin, request, pk)
    if denied := _denied(request, dataset):
        return denied
    form = UploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = import_upload(dataset=dataset, actor=request.user, source=upload.chunks(),
                                    file_name=upload.name, mode=form.cleaned_data["mode"] or ImportMode.UPSERT)
                step_dispatch("check", job)
            except PlatformError as exc:
                form.add_error(None, exc.message)
                status = exc.status
            else:
                return HttpResponseRedirect(_job_url(job))
        else:
            status = 400
    jobs = list(ImportJob.objects.filter(dataset=dataset).select_related("created_by")[:10])
    return TemplateResponse(request, "admin/catalog/import.html", _context(
        model_admin, request, _("Load records into %(dataset)s") % {"dataset": dataset.identifier},
        dataset=dataset, form=form, jobs=jobs, fields=list(dataset.fields.all())), status=status)


# --- The job: progress, report, apply ---

def _job(dataset: Dataset, job_id: int) -> ImportJob:
    job = ImportJob.objects.filter(dataset=dataset, pk=job_id).select_related("dataset__owner").first()
    if job is None:
        raise Http404
    return job


def _silent(job: ImportJob) -> bool:
    """No progress for STALE_AFTER: its worker stopped (a restart killed the thread, a worker died)."""
    return job.heartbeat_at < timezone.now() - STALE_AFTER


def _stale(job: ImportJob) -> bool:
    """A check that stopped: its page offers to start it again."""
    return job.state == ImportState.CHECKING and _silent(job)


def _current(job: ImportJob) -> ImportJob:
    """The job as it is now: one that stopped while being loaded is failed (what it staged is deleted) when
    it is looked at, rather than showing "being loaded" forever; the page then offers to upload it again."""
    if job.state == ImportState.APPLYING and _silent(job):
        import_stale_release(job.dataset)
        job.refresh_from_db()
    return job


def _progress(job: ImportJob) -> dict[str, Any]:
    percent = min(100, round(100 * job.progress_done / job.progress_total)) if job.progress_total else None
    if job.state == ImportState.APPLYING:
        label = _("Loading: %(done)d of %(total)d records staged.") % {"done": job.progress_done,
                                                                       "total": job.progress_total}
    elif job.state == ImportState.CHECKING:
        label = _("Checking: %(rows)d rows read, %(problems)d problem(s) so far.") % {"rows": job.rows,
                                                                                     "problems": job.problems}
    else:
        label = job.get_state_display()
    return {"state": job.state, "label": label, "done": job.progress_done, "total": job.progress_total,
            "percent": percent, "rows": job.rows, "problems": job.problems, "running": job.state in _RUNNING}


class ApplyForm(forms.Form):
    mode = forms.ChoiceField(label=gettext_lazy("How to load it"), choices=ImportMode.choices,
                             widget=forms.RadioSelect)


def job_view(model_admin: Any, request: HttpRequest, pk: int, job_id: int) -> HttpResponse:
    dataset = _dataset(model_admin, request, pk)
    if denied := _denied(request, dataset):
        return denied
    job = _current(_job(dataset, job_id))
    form = ApplyForm(request.POST or None, initial={"mode": job.mode})
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "apply" and form.is_valid():
                job = import_apply_start(job=job, actor=request.user, mode=form.cleaned_data["mode"])
                step_dispatch("apply", job)
            elif action == "discard":
                import_discard(job=job, actor=request.user)
                model_admin.message_user(request, _("The file was discarded; nothing of it was loaded."),
                                         messages.SUCCESS)
            elif action == "restart":
                job = import_check_restart(job=job, actor=request.user)
                step_dispatch("check", job)
            else:
                raise PlatformError(ErrorCode.INVALID_INPUT, _("Choose what to do with the file."))
        except PlatformError as exc:
            messages.error(request, exc.message)
            status = exc.status
        else:
            return HttpResponseRedirect(_job_url(job))
        job.refresh_from_db()
    problems = list(job.problem_rows.all()[:SHOWN_PROBLEMS])
    forecast = None
    if job.state == ImportState.CHECKED and not job.problems:
        forecast = {"new": job.rows - job.existing, "existing": job.existing,
                    "unnamed": unnamed_live_count(job_id=job.pk, dataset_id=dataset.pk,
                                                  generation=dataset.records_generation)}
    return TemplateResponse(request, "admin/catalog/import_job.html", _context(
        model_admin, request, _("Import of %(file)s into %(dataset)s") % {"file": job.file_name,
                                                                          "dataset": dataset.identifier},
        dataset=dataset, job=job, problems=problems, shown=len(problems), stored_max=MAX_STORED_PROBLEMS,
        progress=_progress(job), form=form, forecast=forecast, stale=_stale(job),
        encoding=ENCODING_LABELS.get(job.encoding, job.encoding)), status=status)


def progress_view(model_admin: Any, request: HttpRequest, pk: int, job_id: int) -> HttpResponse:
    dataset = _dataset(model_admin, request, pk)
    if not allows(request.user, Perm.DATASET_MANAGE, dataset):
        return JsonResponse({"error": {"code": "forbidden"}}, status=403)
    return JsonResponse(_progress(_current(_job(dataset, job_id))))


# --- Templates ---

def template_view(model_admin: Any, request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    """The dataset's template: for anyone who may see its schema."""
    dataset = _dataset(model_admin, request, pk)
    if fmt == "csv":
        content, content_type = template_csv(dataset), "text/csv; charset=utf-8"
    elif fmt == "xlsx":
        content, content_type = template_xlsx(dataset), ("application/vnd.openxmlformats-officedocument."
                                                         "spreadsheetml.sheet")
    else:
        raise Http404
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{dataset.identifier}-template.{fmt}"'
    return response


# --- A new dataset from a file ---

class ProposeUploadForm(forms.Form):
    owner = forms.ModelChoiceField(label=gettext_lazy("Providing department"),
                                   queryset=Department.objects.filter(active=True))
    file = forms.FileField(label=gettext_lazy("File"), help_text=gettext_lazy(
        "CSV, Excel workbook (.xlsx) or JSON Lines; at most 50 MB. The platform proposes the fields from its "
        "header and first rows; you check the proposal before anything is registered."))


class ProposedDatasetForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput)
    owner = forms.ModelChoiceField(label=gettext_lazy("Providing department"),
                                   queryset=Department.objects.filter(active=True))
    identifier = forms.SlugField(label=gettext_lazy("Identifier"), max_length=100, help_text=gettext_lazy(
        "Stable id used in the API and the catalogue's addresses."))
    title = forms.CharField(label=gettext_lazy("Title"), max_length=300)
    tier = forms.ChoiceField(label=gettext_lazy("Sharing tier"), choices=Tier.choices, initial=Tier.CONDITIONAL)
    legal_basis = forms.CharField(label=gettext_lazy("Legal basis"), required=False, widget=forms.Textarea(
        attrs={"rows": 2}), help_text=gettext_lazy("Required for conditional sharing and for not sharing."))
    personal_data = forms.BooleanField(label=gettext_lazy("Holds personal information"), required=False)
    key = forms.TypedChoiceField(label=gettext_lazy("Lookup key"), coerce=int, choices=[], help_text=gettext_lazy(
        "The column records are found by: unique and never empty in the file."))

    def __init__(self, *args: Any, columns: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["key"].choices = list(enumerate(columns))  # type: ignore[attr-defined]


class ProposedFieldForm(forms.Form):
    include = forms.BooleanField(label=gettext_lazy("Load"), required=False, initial=True)
    header = forms.CharField(widget=forms.HiddenInput, required=False)
    name = forms.CharField(label=gettext_lazy("Field name"), max_length=63, validators=[field_name_validator])
    type = forms.ChoiceField(label=gettext_lazy("Data type"), choices=FieldType.choices)
    sensitivity = forms.ChoiceField(label=gettext_lazy("Sensitivity"), choices=Sensitivity.choices)
    is_subject_identifier = forms.BooleanField(label=gettext_lazy("Subject identifier"), required=False)
    description = forms.CharField(label=gettext_lazy("Description"), max_length=500, required=False)


ProposedFieldFormSet = forms.formset_factory(ProposedFieldForm, extra=0)

FLAG_LABELS = {"resident_id": gettext_lazy("resident identity numbers"), "mobile": gettext_lazy("mobile numbers"),
               "name": gettext_lazy("personal names")}


def _stored(token: str, user: Any) -> StoredFile:
    """The upload a proposal token names, if it is this person's and at most a day old."""
    try:
        data = signing.loads(token, salt=_PROPOSAL_SALT, max_age=dt.timedelta(days=1))
    except signing.BadSignature:
        raise PlatformError(ErrorCode.INVALID_INPUT, _("This proposal is more than a day old or was altered; "
                                                       "upload the file again.")) from None
    if data.get("user") != user.pk:
        raise Http404
    if not (imports_dir() / data["stored_name"]).exists():
        raise PlatformError(ErrorCode.INVALID_INPUT, _("The uploaded file is no longer kept (a file waits a day "
                                                       "at most for its proposal to be confirmed); upload it "
                                                       "again."))
    return StoredFile(data["stored_name"], data["file_name"], data["size"], data["digest"], data["format"])


def _proposal_forms(request: HttpRequest, stored: StoredFile, proposal: Proposal,
                    owner: Department) -> tuple[ProposedDatasetForm, Any]:
    token = signing.dumps({"stored_name": stored.stored_name, "file_name": stored.file_name, "size": stored.size,
                           "digest": stored.digest, "format": stored.format, "user": request.user.pk},
                          salt=_PROPOSAL_SALT)
    stem = Path(stored.file_name).stem
    key = next((i for i, f in enumerate(proposal.fields) if f.is_lookup_key), 0)
    dataset_form = ProposedDatasetForm(columns=[f"{f.name} ({f.header})" for f in proposal.fields], initial={
        "token": token, "owner": owner, "identifier": slugify(stem)[:100] or f"dataset-{timezone.now():%Y%m%d}",
        "title": stem,
        "tier": Tier.CONDITIONAL, "personal_data": proposal.personal, "key": key})
    formset = ProposedFieldFormSet(initial=[{
        "include": True, "header": f.header, "name": f.name, "type": f.type, "sensitivity": f.sensitivity,
        "is_subject_identifier": f.is_subject_identifier, "description": f.header} for f in proposal.fields])
    return dataset_form, formset


def propose_view(model_admin: Any, request: HttpRequest) -> HttpResponse:
    if not allows(request.user, Perm.DATASET_MANAGE):
        return TemplateResponse(request, "admin/catalog/import_denied.html", {}, status=403)
    title = _("A new dataset from a file")
    step = request.POST.get("step", "upload")
    upload_form = ProposeUploadForm(request.POST if step == "upload" else None,
                                    request.FILES if step == "upload" else None)
    limit_to_departments(request, upload_form.fields["owner"], Perm.DATASET_MANAGE, "pk")
    if upload_form.fields["owner"].queryset.count() == 1:  # type: ignore[attr-defined]
        upload_form.fields["owner"].initial = upload_form.fields["owner"].queryset.first()  # type: ignore
    context = _context(model_admin, request, title, upload_form=upload_form)
    if request.method != "POST":
        return TemplateResponse(request, "admin/catalog/import_propose.html", context)
    if step != "upload":
        return _propose_confirm(model_admin, request, context)
    if not upload_form.is_valid():
        return TemplateResponse(request, "admin/catalog/import_propose.html", context, status=400)
    upload = upload_form.cleaned_data["file"]
    stored: StoredFile | None = None
    try:
        stored = file_store(source=upload.chunks(), file_name=upload.name)
        proposal = schema_propose(stored.path, stored.format)
    except PlatformError as exc:
        if stored is not None:
            stored.path.unlink(missing_ok=True)  # refused: no proposal names it
        upload_form.add_error(None, exc.message)
        return TemplateResponse(request, "admin/catalog/import_propose.html", context, status=exc.status)
    dataset_form, formset = _proposal_forms(request, stored, proposal, upload_form.cleaned_data["owner"])
    limit_to_departments(request, dataset_form.fields["owner"], Perm.DATASET_MANAGE, "pk")
    return TemplateResponse(request, "admin/catalog/import_propose.html", {
        **context, "proposal": proposal, "dataset_form": dataset_form, "formset": formset,
        "flag_labels": FLAG_LABELS, "stored": stored,
        "encoding": ENCODING_LABELS.get(proposal.encoding, proposal.encoding)})


def _propose_confirm(model_admin: Any, request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    formset = ProposedFieldFormSet(request.POST)
    headers = [request.POST.get(f"form-{i}-header", "") for i in range(formset.total_form_count())]
    dataset_form = ProposedDatasetForm(request.POST, columns=headers)
    limit_to_departments(request, dataset_form.fields["owner"], Perm.DATASET_MANAGE, "pk")
    status = 400
    if dataset_form.is_valid() and formset.is_valid():
        data = dataset_form.cleaned_data
        chosen = [(i, f) for i, f in enumerate(formset.cleaned_data) if f.get("include") or i == data["key"]]
        specs = [FieldSpec(name=f["name"], type=f["type"], sensitivity=f["sensitivity"],
                           is_lookup_key=i == data["key"], is_subject_identifier=f["is_subject_identifier"],
                           description=f["description"].strip()) for i, f in chosen]
        included = {i for i, _f in chosen}
        columns = [f["name"] if i in included else "" for i, f in enumerate(formset.cleaned_data)]
        try:  # an old or altered proposal, or a file no longer kept, is said on the form
            stored = _stored(data["token"], request.user)
            with transaction.atomic():  # registered with its file, or not at all
                dataset = dataset_register(actor=request.user, owner=data["owner"], identifier=data["identifier"],
                                           title=data["title"], tier=data["tier"], fields=specs,
                                           legal_basis=data["legal_basis"], personal_data=data["personal_data"])
                job = import_upload(dataset=dataset, actor=request.user, source=stored, columns=columns)
        except PlatformError as exc:
            dataset_form.add_error(None, exc.message)
            status = exc.status
        else:
            try:
                step_dispatch("check", job)
            except PlatformError as exc:  # registered; the job page offers to start the check again
                messages.error(request, exc.message)
            model_admin.message_user(request, _(
                "%(dataset)s is registered as a draft; its file is being checked. Load it when the report is "
                "clean, then publish the dataset.") % {"dataset": dataset.identifier}, messages.SUCCESS)
            return HttpResponseRedirect(_job_url(job))
    return TemplateResponse(request, "admin/catalog/import_propose.html", {
        **context, "dataset_form": dataset_form, "formset": formset, "flag_labels": FLAG_LABELS, "confirming": True},
        status=status)
