from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog.models import Field
from catalog.selectors import datasets_requestable
from core.errors import PlatformError
from registry.admin_base import PolicyAdmin
from registry.models import System
from registry.policy import Perm, allows, departments_granting, is_superuser

from .models import AccessRequest, Grant, RequestState
from .selectors import access_requests_visible_to, grants_visible_to
from .services import access_request_approve, access_request_file, access_request_reject, grant_reapprove


class FieldChoice(forms.ModelMultipleChoiceField):
    one_dataset = False

    def label_from_instance(self, obj: Field) -> str:
        label = f"{obj.name}: {obj.description}" if obj.description else obj.name
        label = f"{label} ({obj.get_sensitivity_display()})"
        return label if self.one_dataset else f"{obj.dataset.identifier}: {label}"


class AccessRequestForm(forms.ModelForm):
    requested_fields = FieldChoice(queryset=Field.objects.none(), widget=forms.CheckboxSelectMultiple,
                                   label=gettext_lazy("Requested fields"),
                                   help_text=gettext_lazy("Tick only the fields you need, of the dataset chosen "
                                                          "above."))

    class Meta:
        model = AccessRequest
        fields = ["consumer", "dataset", "requested_fields", "purpose_code", "purpose", "legal_basis",
                  "case_reference", "duration_days"]

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        requestable = datasets_requestable()
        choices = cast(dict[str, forms.ModelChoiceField], self.fields)
        choices["dataset"].queryset = requestable
        fields = Field.objects.filter(dataset__in=requestable).select_related("dataset").order_by("dataset", "position")
        # Opened from a dataset's page ("request access", ?dataset=) or posted for one: only its own fields.
        chosen = self.data.get("dataset") if self.is_bound else self.initial.get("dataset")
        if chosen and str(chosen).isdigit() and requestable.filter(pk=chosen).exists():
            fields = fields.filter(dataset_id=chosen)
            cast(FieldChoice, choices["requested_fields"]).one_dataset = True
        choices["requested_fields"].queryset = fields
        systems = System.objects.filter(active=True)
        if not is_superuser(user):
            systems = systems.filter(department_id__in=departments_granting(user, Perm.REQUEST_FILE))
        choices["consumer"].queryset = systems


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(label=gettext_lazy("Decision"),
                                 choices=[("approve", gettext_lazy("Approve: create a grant")),
                                          ("reject", gettext_lazy("Reject"))],
                                 widget=forms.RadioSelect)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                             label=gettext_lazy("Reason"),
                             help_text=gettext_lazy("Required when rejecting: state the legal reason."))


@admin.register(AccessRequest)
class AccessRequestAdmin(PolicyAdmin):
    """Filed by the consumer department's clerks, decided by the dataset department's approvers."""

    form = AccessRequestForm
    view_permission = Perm.REQUEST_VIEW
    add_permission = Perm.REQUEST_FILE
    list_display = ["id", "consumer", "dataset", "state", "filed_by", "filed_at", "decided_at"]
    list_filter = ["state"]
    readonly_fields = ["state", "decide_link", "filed_by", "filed_at", "decided_by", "decided_at",
                       "decision_reason", "requested"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccessRequest]:
        return access_requests_visible_to(user=request.user)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is not None:  # a filed request is read-only: no filing form, no choices to limit
            return super().get_form(request, obj, change, **{**kwargs, "form": forms.ModelForm})
        form_class = super().get_form(request, obj, change, **kwargs)

        class BoundForm(form_class):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, user=request.user, **kw)

        return BoundForm

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return AccessRequestForm.Meta.fields
        # The decide button only for those who may decide (no button that answers 403).
        decide = ["decide_link"] if allows(request.user, Perm.REQUEST_DECIDE, obj) else []
        return ["consumer", "dataset", "requested", "purpose_code", "purpose", "legal_basis", "case_reference",
                "duration_days", "state", *decide, "filed_by", "filed_at", "decided_by", "decided_at",
                "decision_reason"]

    def save_model(self, request: HttpRequest, obj: AccessRequest, form: Any, change: bool) -> None:
        data = form.cleaned_data
        created = access_request_file(
            consumer=data["consumer"], dataset=data["dataset"], fields=[f.name for f in data["requested_fields"]],
            purpose_code=data["purpose_code"], purpose=data["purpose"], legal_basis=data["legal_basis"],
            case_reference=data["case_reference"], duration_days=data["duration_days"], actor=request.user,
        )
        obj.pk = created.pk

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        try:
            return super().add_view(request, form_url, extra_context)
        except PlatformError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.path)

    @admin.display(description=gettext_lazy("Fields"))
    def requested(self, obj: AccessRequest) -> str:
        return ", ".join(obj.fields)

    @admin.display(description=gettext_lazy("Decision"))
    def decide_link(self, obj: AccessRequest) -> str:
        if obj.state != RequestState.SUBMITTED:
            return obj.get_state_display()
        return format_html('<a class="button" href="{}">{}</a>',
                           reverse("admin:exchange_accessrequest_decide", args=[obj.pk]), _("Decide this request"))

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.decide_view)
        return [path("<int:pk>/decide/", view, name="exchange_accessrequest_decide"), *super().get_urls()]

    def decide_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        access_request = get_object_or_404(self.get_queryset(request), pk=pk)
        form = DecisionForm(request.POST or None)
        status, denied = 200, ""
        if not allows(request.user, Perm.REQUEST_DECIDE, access_request):
            status, denied = 403, _("Only approvers of %(department)s may decide this request.") % {
                "department": access_request.dataset.owner}
        elif request.method == "POST" and form.is_valid():
            try:
                if form.cleaned_data["decision"] == "approve":
                    access_request_approve(access_request=access_request, approver=request.user,
                                           reason=form.cleaned_data["reason"])
                else:
                    access_request_reject(access_request=access_request, approver=request.user, reason_code="other",
                                          legal_basis=form.cleaned_data["reason"],
                                          explanation=form.cleaned_data["reason"])
            except PlatformError as exc:
                form.add_error(None, exc.message)
                status = exc.status
            else:
                access_request.refresh_from_db()
                self.message_user(request, _("Request #%(pk)s is %(state)s.")
                                  % {"pk": pk, "state": access_request.get_state_display()}, messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:exchange_accessrequest_change", args=[pk]))
        elif request.method == "POST":
            status = 400
        context = {**self.admin_site.each_context(request), "title": _("Decide request #%(pk)s") % {"pk": pk},
                   "access_request": access_request, "form": form, "denied": denied, "opts": self.model._meta}
        return TemplateResponse(request, "admin/exchange/decide.html", context, status=status)


@admin.register(Grant)
class GrantAdmin(PolicyAdmin):
    view_permission = Perm.GRANT_VIEW
    list_display = ["id", "consumer", "dataset", "dataset_version", "purpose_code", "valid_from", "valid_until",
                    "revoked_at", "suspended_at"]
    list_filter = [("dataset", admin.RelatedOnlyFieldListFilter)]
    readonly_fields = ["access_request", "consumer", "dataset", "dataset_version", "allowed_fields", "purpose_code",
                       "purpose", "valid_from", "valid_until", "revoked_at", "suspended_at", "suspension_reason",
                       "created_at"]
    actions = ["reapprove"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Grant]:
        return grants_visible_to(user=request.user)

    def has_reapprove_permission(self, request: HttpRequest) -> bool:
        return allows(request.user, Perm.REQUEST_DECIDE)

    @admin.action(description=gettext_lazy("Approve the selected suspended grants again for the dataset's current "
                                           "version"), permissions=["reapprove"])
    def reapprove(self, request: HttpRequest, queryset: QuerySet[Grant]) -> None:
        for grant in queryset:
            try:
                grant = grant_reapprove(grant=grant, approver=request.user)
            except PlatformError as exc:
                self.message_user(request, f"#{grant.pk}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, _("Grant #%(grant)s is in force again for version %(version)d: "
                                             "%(fields)s.") % {"grant": grant.pk, "version": grant.dataset_version,
                                                               "fields": ", ".join(grant.allowed_fields)},
                                  messages.SUCCESS)
