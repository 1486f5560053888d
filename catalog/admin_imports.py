"""The admin's pages for loading records into a dataset (wired into DatasetAdmin by ``import_urls``)."""

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.errors import PlatformError

from .services import records_import_csv

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def import_urls(model_admin: Any) -> list[URLPattern]:
    """The import pages, under the dataset admin's URLs."""

    def view(request: HttpRequest, pk: int) -> HttpResponse:
        return import_view(model_admin, request, pk)

    return [path("<int:pk>/import/", model_admin.admin_site.admin_view(view), name="catalog_dataset_import")]


class CsvImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("File"), help_text=gettext_lazy(
        "CSV, UTF-8, with a header row naming exactly the dataset's fields."))

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than %(mb)d MB; split it.")
                                        % {"mb": MAX_UPLOAD_BYTES // (1024 * 1024)})
        return upload


def import_view(self: Any, request: HttpRequest, pk: int) -> HttpResponse:
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
                self.message_user(request, _("Loaded %(rows)d rows into %(dataset)s: %(created)d new, "
                                             "%(updated)d updated.")
                                  % {"rows": report.rows, "dataset": dataset.identifier,
                                     "created": report.created, "updated": report.updated}, messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:catalog_dataset_change", args=[dataset.pk]))
            status = 400
    context = {**self.admin_site.each_context(request),
               "title": _("Load records into %(dataset)s") % {"dataset": dataset.identifier},
               "dataset": dataset, "form": form, "report": report, "opts": self.model._meta}
    return TemplateResponse(request, "admin/catalog/import.html", context, status=status)

