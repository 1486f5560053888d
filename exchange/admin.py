from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from catalog.models import Field
from catalog.selectors import datasets_requestable
from core.errors import PlatformError
from registry.admin_base import RoleScopedAdmin
from registry.models import Role, System
from registry.policy import CLERK_ROLES, can_read_everything, departments_where, has_role, is_superuser

from .models import AccessRequest, Grant, RequestState
from .selectors import access_requests_visible_to, grants_visible_to
from .services import access_request_decide, access_request_file


class FieldChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Field) -> str:
        return f"{obj.dataset.identifier}: {obj.name} ({obj.get_sensitivity_display()})"


class AccessRequestForm(forms.ModelForm):
    requested_fields = FieldChoice(queryset=Field.objects.none(), widget=forms.CheckboxSelectMultiple,
                                   help_text="Tick only the fields you need, of the dataset chosen above.")

    class Meta:
        model = AccessRequest
        fields = ["consumer", "dataset", "requested_fields", "purpose_code", "purpose", "legal_basis",
                  "case_reference", "duration_days"]

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        requestable = datasets_requestable()
        choices = cast(dict[str, forms.ModelChoiceField], self.fields)
        choices["dataset"].queryset = requestable
        choices["requested_fields"].queryset = (Field.objects.filter(dataset__in=requestable)
                                                .select_related("dataset").order_by("dataset", "position"))
        systems = System.objects.filter(active=True)
        if not is_superuser(user):
            systems = systems.filter(department_id__in=departments_where(user, CLERK_ROLES))
        choices["consumer"].queryset = systems

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        dataset, chosen = data.get("dataset"), data.get("requested_fields")
        if dataset is not None and chosen:
            strays = [f.name for f in chosen if f.dataset_id != dataset.pk]
            if strays:
                self.add_error("requested_fields", f"These fields belong to another dataset than "
                                                   f"{dataset.identifier}: {', '.join(strays)}.")
        return data


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve: create a grant"), ("reject", "Reject")],
                                 widget=forms.RadioSelect)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                             help_text="Required when rejecting: state the legal reason.")


@admin.register(AccessRequest)
class AccessRequestAdmin(RoleScopedAdmin):
    """Filed by the consumer department's clerks, decided by the dataset department's approvers."""

    form = AccessRequestForm
    add_roles = CLERK_ROLES
    list_display = ["id", "consumer", "dataset", "state", "filed_by", "filed_at", "decided_at"]
    list_filter = ["state"]
    readonly_fields = ["state", "decide_link", "filed_by", "filed_at", "decided_by", "decided_at",
                       "decision_reason", "requested"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccessRequest]:
        return access_requests_visible_to(user=request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is None or can_read_everything(request.user):
            return can_read_everything(request.user) or bool(departments_where(request.user, Role.values))
        return self.get_queryset(request).filter(pk=obj.pk).exists()

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
        return ["consumer", "dataset", "requested", "purpose_code", "purpose", "legal_basis", "case_reference",
                "duration_days", "state", "decide_link", "filed_by", "filed_at", "decided_by", "decided_at",
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

    @admin.display(description="Fields")
    def requested(self, obj: AccessRequest) -> str:
        return ", ".join(obj.fields)

    @admin.display(description="Decision")
    def decide_link(self, obj: AccessRequest) -> str:
        if obj.state != RequestState.SUBMITTED:
            return obj.get_state_display()
        return format_html('<a class="button" href="{}">Decide this request</a>',
                           reverse("admin:exchange_accessrequest_decide", args=[obj.pk]))

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.decide_view)
        return [path("<int:pk>/decide/", view, name="exchange_accessrequest_decide"), *super().get_urls()]

    def decide_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        access_request = get_object_or_404(self.get_queryset(request), pk=pk)
        form = DecisionForm(request.POST or None)
        status, denied = 200, ""
        if not has_role(request.user, [Role.APPROVER], access_request.dataset.owner_id):
            status, denied = 403, f"Only approvers of {access_request.dataset.owner} may decide this request."
        elif request.method == "POST" and form.is_valid():
            try:
                access_request_decide(access_request=access_request, approver=request.user,
                                      approve=form.cleaned_data["decision"] == "approve",
                                      reason=form.cleaned_data["reason"])
            except PlatformError as exc:
                form.add_error(None, exc.message)
                status = exc.status
            else:
                access_request.refresh_from_db()
                self.message_user(request, f"Request #{pk} is {access_request.state}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:exchange_accessrequest_change", args=[pk]))
        elif request.method == "POST":
            status = 400
        context = {**self.admin_site.each_context(request), "title": f"Decide request #{pk}",
                   "access_request": access_request, "form": form, "denied": denied, "opts": self.model._meta}
        return TemplateResponse(request, "admin/exchange/decide.html", context, status=status)


@admin.register(Grant)
class GrantAdmin(RoleScopedAdmin):
    list_display = ["id", "consumer", "dataset", "purpose_code", "valid_from", "valid_until", "revoked_at"]
    list_filter = [("dataset", admin.RelatedOnlyFieldListFilter)]
    readonly_fields = ["access_request", "consumer", "dataset", "allowed_fields", "purpose_code", "purpose",
                       "valid_from", "valid_until", "revoked_at", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Grant]:
        return grants_visible_to(user=request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is None or can_read_everything(request.user):
            return can_read_everything(request.user) or bool(departments_where(request.user, Role.values))
        return self.get_queryset(request).filter(pk=obj.pk).exists()
