"""The exchange in the admin: filing and changing access requests, the request page, the decision, hand-over and
withdrawal pages, the list sorted by deadline, grants (revoke, renew) and the purposes.

Every write goes through ``exchange.services``; a service's refusal is shown on the same page with its status
(400, 403, 409) and nothing is saved. Each page offers only what the person may do now
(``exchange.workflow.transitions_for``): no button answers 403.
"""

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Case, F, IntegerField, QuerySet, Value, When
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog.models import MASK_STRICTNESS, Dataset, Field, MaskRule, Tier, mask_rule_problem
from core.errors import ErrorCode, PlatformError
from registry.admin_base import PolicyAdmin
from registry.models import Role, System
from registry.policy import Perm, allows, departments_granting
from registry.selectors import people_holding

from .models import (
    EDITABLE_STATES,
    MAX_DAILY_VOLUME,
    MAX_GRANT_DAYS,
    WAITING_STATES,
    AccessRequest,
    AccessRequestStep,
    Grant,
    GrantState,
    Purpose,
    RejectionReason,
    RequestState,
)
from .selectors import (
    access_request_history,
    access_requests_visible_to,
    access_requests_waiting_for,
    dataset_usage,
    datasets_to_request,
    due_soon_q,
    grant_renewal_pending,
    grant_state_q,
    grants_of_consumer_for_dataset,
    grants_visible_to,
    may_decide_requests,
    overdue_q,
    purpose_get,
    purposes_active,
    systems_filing_for,
)
from .services import (
    access_request_approve,
    access_request_file,
    access_request_hand_over,
    access_request_reject,
    access_request_resubmit,
    access_request_return,
    access_request_submit,
    access_request_update,
    access_request_withdraw,
    grant_reapprove,
    grant_renewal_terms,
    grant_revoke,
    purpose_save,
)
from .templatetags.exchange_requests import deadline_of
from .workflow import DECISIONS, may_transition, transitions_for

CSS = "exchange/requests.css"


def _date(value: Any) -> str:
    return formats.date_format(timezone.localdate(value) if hasattr(value, "tzinfo") else value, "DATE_FORMAT")


def _request_url(access_request: AccessRequest) -> str:
    return reverse("admin:exchange_accessrequest_change", args=[access_request.pk])


# --- Forms ---


def field_label(field: Field) -> str:
    """A field as a checkbox shows it: its name, description and sensitivity."""
    label = f"{field.name}: {field.description}" if field.description else field.name
    return f"{label} ({field.get_sensitivity_display()})"


class FieldChoice(forms.ModelMultipleChoiceField):
    """A dataset's fields to tick, each with its description and sensitivity."""

    one_dataset = False

    def label_from_instance(self, obj: Field) -> str:
        return field_label(obj) if self.one_dataset else f"{obj.dataset.identifier}: {field_label(obj)}"


class PurposeChoice(forms.ModelChoiceField):
    """A purpose of the data authority's list, by its label in the active language, its code in brackets."""

    def label_from_instance(self, obj: Purpose) -> str:
        return f"{obj.label} ({obj.code})"


def _model_field(name: str, **kwargs: Any) -> Any:
    """The form field of AccessRequest's model field ``name``: its label and help text, translated."""
    return cast("models.Field[Any, Any]", AccessRequest._meta.get_field(name)).formfield(**kwargs)


_TEXT = forms.Textarea(attrs={"rows": 3, "cols": 60})


class RequestForm(forms.Form):
    """Filing a request (the add page) and changing a draft or returned one (without consumer and dataset)."""

    consumer = forms.ModelChoiceField(queryset=System.objects.none(), label=gettext_lazy("Consumer system"),
                                      help_text=gettext_lazy("Your department's system that will call the API."))
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none(), label=gettext_lazy("Dataset"),
                                     help_text=gettext_lazy("The dataset whose fields are requested."))
    requested_fields = FieldChoice(queryset=Field.objects.none(), widget=forms.CheckboxSelectMultiple,
                                   label=gettext_lazy("Requested fields"),
                                   help_text=gettext_lazy("Tick only the fields the purpose needs."))
    purpose_code = PurposeChoice(queryset=Purpose.objects.none(), to_field_name="code", label=gettext_lazy("Purpose"),
                                 help_text=gettext_lazy("Choose from the platform's list of purposes, kept by the "
                                                        "data authority."))
    purpose = _model_field("purpose", widget=_TEXT, label=gettext_lazy("Purpose in your words"),
                           help_text=gettext_lazy("What the data is for in this case, in plain words."))
    legal_basis = _model_field("legal_basis", widget=_TEXT)
    case_reference = _model_field("case_reference")
    duration_days = forms.IntegerField(min_value=1, max_value=MAX_GRANT_DAYS, initial=365,
                                       label=gettext_lazy("Duration (days)"),
                                       help_text=gettext_lazy("How long the grant lasts once approved."))
    expected_daily_volume = forms.IntegerField(
        min_value=1, max_value=MAX_DAILY_VOLUME, initial=100, label=gettext_lazy("Expected daily volume"),
        help_text=gettext_lazy("How many records the system expects to read on a busy day; the approver may set "
                               "it as the grant's daily quota."))

    def __init__(self, *args: Any, user: Any, access_request: AccessRequest | None = None,
                 renews: Grant | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.access_request = access_request
        self.fields["purpose_code"].queryset = purposes_active()  # type: ignore[attr-defined]
        fields = Field.objects.select_related("dataset").order_by("dataset", "position", "pk")
        choice: FieldChoice = self.fields["requested_fields"]  # type: ignore[assignment]
        if access_request is not None:  # changing a filed request: its system and dataset stay
            del self.fields["consumer"], self.fields["dataset"]
            self.chosen_dataset: Dataset | None = access_request.dataset
        else:
            requestable = datasets_to_request()
            systems = systems_filing_for(user=user)
            self.fields["consumer"].queryset = systems  # type: ignore[attr-defined]
            if "consumer" not in self.initial and len(own := list(systems[:2])) == 1:
                self.initial["consumer"] = own[0].pk  # the clerk's only system
            self.fields["dataset"].queryset = requestable  # type: ignore[attr-defined]
            if renews is not None:  # a renewal is for the grant's system and dataset
                self.fields["consumer"].disabled = self.fields["dataset"].disabled = True
            # Opened from a dataset's page (?dataset=) or posted for one: only its own fields.
            chosen = self.data.get("dataset") if self.is_bound and renews is None else self.initial.get("dataset")
            self.chosen_dataset = (requestable.filter(pk=chosen).first()
                                   if chosen is not None and str(chosen).isdigit() else None)
            if self.chosen_dataset is None:
                fields = fields.filter(dataset__in=requestable)
        if self.chosen_dataset is not None:
            fields = fields.filter(dataset=self.chosen_dataset)
            choice.one_dataset = True
        choice.queryset = fields

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        dataset = data.get("dataset", self.chosen_dataset)
        chosen = data.get("requested_fields")
        if dataset is not None and chosen and any(f.dataset_id != dataset.pk for f in chosen):
            self.add_error("requested_fields", _("Tick fields of %(dataset)s only.") % {
                "dataset": dataset.identifier})
        return data

    def terms(self) -> dict[str, Any]:
        """The request's terms, as the services take them."""
        data = self.cleaned_data
        return {"fields": [f.name for f in data["requested_fields"]], "purpose_code": data["purpose_code"].code,
                "purpose": data["purpose"], "legal_basis": data["legal_basis"],
                "case_reference": data["case_reference"], "duration_days": data["duration_days"],
                "expected_daily_volume": data["expected_daily_volume"]}


DECISION_CHOICES = [
    ("approve", gettext_lazy("Approve")),
    ("approve_in_part", gettext_lazy("Approve in part")),
    ("return", gettext_lazy("Return for changes")),
    ("reject", gettext_lazy("Reject")),
]
#: The fields of the decision form each decision reads; the others are ignored.
DECISION_FIELDS = {
    "approve": ("reason",),
    "approve_in_part": ("granted_fields", "duration_days", "daily_quota", "part_reason", "row_filter_field",
                        "row_filter_values"),
    "return": ("comment",),
    "reject": ("rejection_reason", "legal_basis", "explanation"),
}


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(label=gettext_lazy("Decision"), choices=DECISION_CHOICES, widget=forms.RadioSelect)
    reason = forms.CharField(required=False, widget=_TEXT, label=gettext_lazy("Reason (optional)"),
                             help_text=gettext_lazy("Recorded with the decision; the requester is told."))
    granted_fields = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple,
                                               label=gettext_lazy("Fields granted"),
                                               help_text=gettext_lazy("Untick the fields you do not grant."))
    duration_days = forms.IntegerField(required=False, min_value=1, label=gettext_lazy("Duration (days)"))
    daily_quota = forms.IntegerField(required=False, min_value=1, label=gettext_lazy("Daily quota"),
                                     help_text=gettext_lazy("The most records the system may read a day."))
    part_reason = forms.CharField(required=False, widget=_TEXT, label=gettext_lazy("Why only in part (optional)"))
    comment = forms.CharField(required=False, widget=_TEXT, label=gettext_lazy("What to change"),
                              help_text=gettext_lazy("The requesting department sees this and resubmits; the clock "
                                                     "stops until then."))
    rejection_reason = forms.ChoiceField(required=False, choices=[("", "---------"), *RejectionReason.choices],
                                         label=gettext_lazy("Reason for rejection"))
    legal_basis = forms.CharField(required=False, widget=_TEXT, label=gettext_lazy("Legal basis of the rejection"),
                                  help_text=gettext_lazy("The law, regulation or catalogue entry the rejection "
                                                         "rests on."))
    explanation = forms.CharField(required=False, widget=_TEXT, label=gettext_lazy("Explanation"),
                                  help_text=gettext_lazy("Why, in words the requester can act on."))

    row_filter_field = forms.ChoiceField(required=False, label=gettext_lazy("Only records whose field"),
                                         help_text=gettext_lazy("A row filter (optional): the grant serves only the "
                                                                "records whose field holds one of the values."))
    row_filter_values = forms.CharField(required=False, label=gettext_lazy("is one of"),
                                        help_text=gettext_lazy("Values separated by commas, e.g. 东城区, 西城区."))

    def __init__(self, *args: Any, access_request: AccessRequest, field_labels: dict[str, str],
                 **kwargs: Any) -> None:
        schema = {f.name: f for f in access_request.dataset.fields.all()}
        self.defaults = {name: schema[name].masking for name in access_request.fields if name in schema}
        kwargs.setdefault("initial", {"granted_fields": list(access_request.fields),
                                      "duration_days": access_request.duration_days,
                                      "daily_quota": access_request.expected_daily_volume,
                                      **{f"mask_{name}": rule for name, rule in self.defaults.items()}})
        super().__init__(*args, **kwargs)
        self.access_request = access_request
        # Per requested field, its masking: the dataset's default or a stricter rule that suits the field.
        self.mask_names = []
        for name, default in self.defaults.items():
            field = schema[name]
            choices = [(rule.value, rule.label) for rule in MaskRule
                       if MASK_STRICTNESS[rule] >= MASK_STRICTNESS[MaskRule(default)]
                       and (rule in (MaskRule.NONE, MaskRule.REDACT) or mask_rule_problem(
                           rule, field_type=field.type, is_subject_identifier=field.is_subject_identifier) is None)]
            self.fields[f"mask_{name}"] = forms.ChoiceField(
                choices=choices, required=False,
                label=_("Masking of %(field)s") % {"field": field_labels.get(name, name)},
                help_text=_("The dataset's default is %(rule)s; only a stricter rule may be chosen.") % {
                    "rule": MaskRule(default).label})
            self.mask_names.append(f"mask_{name}")
        self.fields["row_filter_field"].choices = [  # type: ignore[attr-defined]
            ("", "---------"), *((name, field_labels.get(name, name)) for name in schema)]
        self.fields["granted_fields"].choices = [  # type: ignore[attr-defined]
            (name, field_labels.get(name, name)) for name in access_request.fields]
        self.fields["duration_days"].help_text = _("At most %(days)d, as requested.") % {
            "days": access_request.duration_days}
        self.fields["daily_quota"].help_text = _("At most %(volume)d, the expected daily volume.") % {
            "volume": access_request.expected_daily_volume}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        decision = data.get("decision")
        if decision not in DECISION_FIELDS:
            return data
        for name in list(self.errors):  # what the chosen decision does not read cannot be wrong
            if name not in ("decision", "__all__", *DECISION_FIELDS[decision], *self.mask_names):
                del self.errors[name]
        request = self.access_request
        if decision == "approve_in_part":
            granted, days, quota = data.get("granted_fields") or [], data.get("duration_days"), data.get("daily_quota")
            if not granted and "granted_fields" not in self.errors:
                self.add_error("granted_fields", _("Tick at least one field."))
            if days is None and "duration_days" not in self.errors:
                self.add_error("duration_days", _("Give the duration."))
            elif days is not None and days > request.duration_days:
                self.add_error("duration_days", _("At most %(days)d, as requested.") % {
                    "days": request.duration_days})
            if quota is None and "daily_quota" not in self.errors:
                self.add_error("daily_quota", _("Give the daily quota."))
            elif quota is not None and quota > request.expected_daily_volume:
                self.add_error("daily_quota", _("At most %(volume)d, the expected daily volume.") % {
                    "volume": request.expected_daily_volume})
            if bool(data.get("row_filter_field")) != bool(self.row_filter()):
                self.add_error("row_filter_values", _("Choose a field and give at least one value, or neither."))
            if (not self.errors and len(granted) == len(request.fields) and days == request.duration_days
                    and quota == request.expected_daily_volume and not self.masking() and not self.row_filter()):
                self.add_error(None, _("Nothing is left out: untick a field, shorten the duration, lower the "
                                       "quota, mask a field more strictly or filter the rows, or choose Approve."))
        elif decision == "return" and not (data.get("comment") or "").strip():
            self.add_error("comment", str(ErrorCode.COMMENT_REQUIRED.default_message))
        elif decision == "reject":
            if not data.get("rejection_reason"):
                self.add_error("rejection_reason", _("Choose a reason from the list."))
            if not (data.get("legal_basis") or "").strip():
                self.add_error("legal_basis", _("Cite the legal basis of the rejection."))
            if not (data.get("explanation") or "").strip():
                self.add_error("explanation", _("Explain the rejection to the requester."))
        return data


    def masking(self) -> dict[str, str]:
        """The fields the approver masks more strictly than the dataset's default."""
        data = self.cleaned_data
        return {name.removeprefix("mask_"): data[name] for name in self.mask_names
                if data.get(name) and data[name] != self.defaults[name.removeprefix("mask_")]}

    def row_filter(self) -> dict[str, list[str]]:
        data = self.cleaned_data
        values = [v.strip() for v in (data.get("row_filter_values") or "").replace("，", ",").split(",") if v.strip()]
        return {data["row_filter_field"]: values} if data.get("row_filter_field") and values else {}


class ApproverChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        name = obj.get_full_name()
        return f"{name} ({obj.get_username()})" if name else obj.get_username()


class HandOverForm(forms.Form):
    approver = ApproverChoice(queryset=None, label=gettext_lazy("Approver"),
                              help_text=gettext_lazy("An approver of the providing department; they get a new "
                                                     "deadline and are told at once."))

    def __init__(self, *args: Any, approvers: QuerySet[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["approver"].queryset = approvers  # type: ignore[attr-defined]


class WithdrawForm(forms.Form):
    comment = forms.CharField(required=False, widget=_TEXT, label=gettext_lazy("Comment (optional)"),
                              help_text=gettext_lazy("Why the request is withdrawn; kept in its history."))


class RevokeForm(forms.Form):
    reason = forms.CharField(widget=_TEXT, label=gettext_lazy("Reason for the revocation"),
                             help_text=gettext_lazy("The consumer's next call is refused with this reason."))


# --- The request list's filters ---


class WaitingForFilter(admin.SimpleListFilter):
    """For those who decide requests: the ones waiting for their decision, shown by default."""

    title = gettext_lazy("inbox")
    parameter_name = "inbox"

    def __init__(self, request: HttpRequest, params: dict[str, Any], model: Any, model_admin: Any) -> None:
        self.decides = may_decide_requests(user=request.user)
        # An approver opening the list without any filter lands on what waits for them.
        self.default = "mine" if self.decides and not (set(request.GET) - {"p", "o", "_facets"}) else None
        super().__init__(request, params, model, model_admin)

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("mine", gettext_lazy("Waiting for my decision")), ("all", gettext_lazy("All requests"))]

    def has_output(self) -> bool:
        return self.decides

    def value(self) -> str | None:
        value = super().value()
        return value if value in ("mine", "all") else self.default

    def choices(self, changelist: Any) -> Any:
        for lookup, title in self.lookup_choices:
            yield {"selected": self.value() == lookup, "display": title,
                   "query_string": changelist.get_query_string({self.parameter_name: lookup})}

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "mine":
            return queryset.filter(pk__in=access_requests_waiting_for(user=request.user).values("pk"))
        return queryset


class DeadlineFilter(admin.SimpleListFilter):
    title = gettext_lazy("deadline")
    parameter_name = "deadline"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("running", gettext_lazy("Waiting for an answer")),
                ("soon", gettext_lazy("Due soon")), ("overdue", gettext_lazy("Overdue"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == "running":
            return queryset.filter(state__in=WAITING_STATES)
        if value == "soon":
            return queryset.filter(due_soon_q())
        if value == "overdue":
            return queryset.filter(overdue_q())
        return queryset


class SideFilter(admin.SimpleListFilter):
    title = gettext_lazy("department")
    parameter_name = "side"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("filed", gettext_lazy("Filed by my department")),
                ("received", gettext_lazy("For my department's datasets"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        departments = departments_granting(request.user, Perm.REQUEST_VIEW)
        if self.value() == "filed":
            return queryset.filter(consumer__department_id__in=departments)
        if self.value() == "received":
            return queryset.filter(dataset__owner_id__in=departments)
        return queryset


class UnmetDemandFilter(admin.SimpleListFilter):
    title = gettext_lazy("demand")
    parameter_name = "demand"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("unmet", gettext_lazy("Unmet demand (not shared)"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "unmet":
            return queryset.filter(rejection_reason=RejectionReason.NOT_SHARED)
        return queryset


# --- Access requests ---

STEP_LABELS = {
    "submit": gettext_lazy("Submitted"),
    "subscribe": gettext_lazy("Subscribed: granted at once"),
    "answer_not_shared": gettext_lazy("Answered at once: not shared"),
    "return_for_changes": gettext_lazy("Returned for changes"),
    "resubmit": gettext_lazy("Resubmitted"),
    "approve": gettext_lazy("Approved"),
    "approve_in_part": gettext_lazy("Approved in part"),
    "reject": gettext_lazy("Rejected"),
    "withdraw": gettext_lazy("Withdrawn"),
    "hand_over": gettext_lazy("Handed over"),
}


def _step_details(step: AccessRequestStep) -> list[str]:
    """What a step decided, in words: the terms of an approval (against the request's), a rejection's reason
    and legal basis, the approver a request was handed to."""
    detail, lines = step.detail or {}, []
    requested = detail.get("requested") or {}
    if "fields" in detail:
        line = _("Fields granted: %(fields)s") % {"fields": ", ".join(detail["fields"])}
        if requested.get("fields") and len(requested["fields"]) != len(detail["fields"]):
            line += " " + _("(requested: %(fields)s)") % {"fields": ", ".join(requested["fields"])}
        lines.append(line)
    if "duration_days" in detail:
        line = _("Duration: %(days)s days") % {"days": detail["duration_days"]}
        if requested.get("duration_days") not in (None, detail["duration_days"]):
            line += " " + _("(requested: %(days)s)") % {"days": requested["duration_days"]}
        lines.append(line)
    if detail.get("daily_quota") is not None:
        line = _("Daily quota: %(quota)s") % {"quota": detail["daily_quota"]}
        if requested.get("daily_volume") not in (None, detail["daily_quota"]):
            line += " " + _("(expected: %(volume)s)") % {"volume": requested["daily_volume"]}
        lines.append(line)
    if detail.get("rejection_reason"):
        reason = detail["rejection_reason"]
        label = RejectionReason(reason).label if reason in RejectionReason.values else reason
        lines.append(_("Reason: %(reason)s") % {"reason": label})
    if detail.get("legal_basis"):
        lines.append(_("Legal basis: %(basis)s") % {"basis": detail["legal_basis"]})
    if detail.get("to"):
        lines.append(_("Handed to %(person)s; new deadline %(date)s") % {
            "person": detail["to"], "date": detail.get("due_date", "")})
    return lines


@admin.register(AccessRequest)
class AccessRequestAdmin(PolicyAdmin):
    """Filed by the consumer department's clerks, decided by the dataset department's approvers (and, once it is
    escalated, by the data authority)."""

    view_permission = Perm.REQUEST_VIEW
    add_permission = Perm.REQUEST_FILE
    change_permission = Perm.REQUEST_FILE  # a draft or a returned request, by the requesting department
    list_display = ["id", "consumer_name", "dataset_title", "state", "deadline", "filed_at"]
    list_display_links = ["id"]
    search_fields = ["consumer__code", "consumer__name", "dataset__identifier", "dataset__title", "case_reference"]

    class Media:
        css = {"all": [CSS]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccessRequest]:
        # The list: waiting requests first, the earliest deadline first; then the newest.
        return access_requests_visible_to(user=request.user).annotate(
            waiting_first=Case(When(state__in=WAITING_STATES, then=Value(0)), default=Value(1),
                               output_field=IntegerField()),
            clock=Case(When(state__in=WAITING_STATES, then=F("due_date")), default=None))

    def get_ordering(self, request: HttpRequest) -> list[Any]:
        return [F("waiting_first").asc(), F("clock").asc(nulls_last=True), "-filed_at"]

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        return [WaitingForFilter, "state", DeadlineFilter, SideFilter, UnmetDemandFilter]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return allows(request.user, Perm.REQUEST_FILE, obj) and (obj is None or obj.state in EDITABLE_STATES)

    @admin.display(description=gettext_lazy("consumer system"), ordering="consumer__name")
    def consumer_name(self, obj: AccessRequest) -> SafeString:
        return format_html('{}<br><span class="quiet">{}</span>', obj.consumer.name, obj.consumer.department)

    @admin.display(description=gettext_lazy("dataset"), ordering="dataset__title")
    def dataset_title(self, obj: AccessRequest) -> SafeString:
        return format_html('{}<br><span class="quiet">{}</span>', obj.dataset.title, obj.dataset.owner)

    @admin.display(description=gettext_lazy("deadline"), ordering="clock")
    def deadline(self, obj: AccessRequest) -> SafeString:
        return deadline_of(obj).html()

    def get_urls(self) -> list[Any]:
        def wrap(view: Any) -> Any:
            return self.admin_site.admin_view(view)

        return [
            path("<int:pk>/decide/", wrap(self.decide_view), name="exchange_accessrequest_decide"),
            path("<int:pk>/hand-over/", wrap(self.hand_over_view), name="exchange_accessrequest_hand_over"),
            path("<int:pk>/withdraw/", wrap(self.withdraw_view), name="exchange_accessrequest_withdraw"),
            *super().get_urls(),
        ]

    # --- Filing and changing ---

    def _renewal(self, request: HttpRequest) -> Grant | None:
        """The grant named by ?renews=, for someone who may file for its system; else 404 or 403."""
        raw = request.GET.get("renews")
        if raw is None:
            return None
        grant = grants_visible_to(user=request.user).filter(pk=raw).first() if raw.isdigit() else None
        if grant is None:
            raise Http404(_("No grant of yours has this number."))
        if not allows(request.user, Perm.REQUEST_FILE, grant):
            raise PermissionDenied(_("Only clerks of %(department)s may renew grants of %(system)s.") % {
                "department": grant.consumer.department, "system": grant.consumer.code})
        return grant

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        renews = self._renewal(request)
        initial: dict[str, Any] = {"dataset": request.GET.get("dataset")} if "dataset" in request.GET else {}
        if renews is not None:
            terms = grant_renewal_terms(renews)
            initial = {**terms, "requested_fields": list(renews.dataset.fields.filter(
                name__in=terms["requested_fields"]).values_list("pk", flat=True))}
        form = RequestForm(request.POST if request.method == "POST" else None, user=request.user, initial=initial,
                           renews=renews)
        status = 200
        if request.method == "POST" and form.is_valid():
            try:
                created = access_request_file(consumer=form.cleaned_data["consumer"],
                                              dataset=form.cleaned_data["dataset"], actor=request.user,
                                              renews=renews, submit="_draft" not in request.POST, **form.terms())
            except PlatformError as exc:
                form.add_error(None, exc.message)
                status = exc.status
            else:
                self._tell_outcome(request, created)
                return HttpResponseRedirect(_request_url(created))
        return self._render_form(request, form, obj=None, status=status, renews=renews)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: Any = None) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:  # missing or not theirs to see: the same answer, as Django's own change page gives
            self.message_user(request, _("No access request has the number %(pk)s.") % {"pk": object_id},
                              messages.WARNING)
            return HttpResponseRedirect(reverse("admin:index"))
        if not self.has_change_permission(request, obj):
            if request.method == "POST":
                raise PermissionDenied
            return self._request_page(request, obj)
        form = RequestForm(request.POST if request.method == "POST" else None, user=request.user,
                           access_request=obj, initial=self._initial_terms(obj))
        status = 200
        if request.method == "POST" and form.is_valid():
            try:
                with transaction.atomic():  # the change and the submission, or nothing
                    access_request_update(access_request=obj, actor=request.user, **form.terms())
                    if "_submit" in request.POST:
                        access_request_submit(access_request=obj, actor=request.user)
                    elif "_resubmit" in request.POST:
                        access_request_resubmit(access_request=obj, actor=request.user)
            except PlatformError as exc:
                form.add_error(None, exc.message)
                status = exc.status
            else:
                if "_submit" in request.POST or "_resubmit" in request.POST:
                    self._tell_outcome(request, obj)
                else:
                    self.message_user(request, _("Request #%(pk)s is saved.") % {"pk": obj.pk}, messages.SUCCESS)
                return HttpResponseRedirect(_request_url(obj))
        return self._render_form(request, form, obj=obj, status=status)

    @staticmethod
    def _initial_terms(obj: AccessRequest) -> dict[str, Any]:
        return {"requested_fields": list(obj.dataset.fields.filter(name__in=obj.fields).values_list("pk", flat=True)),
                "purpose_code": obj.purpose_code, "purpose": obj.purpose, "legal_basis": obj.legal_basis,
                "case_reference": obj.case_reference, "duration_days": obj.duration_days,
                "expected_daily_volume": obj.expected_daily_volume}

    def _render_form(self, request: HttpRequest, form: RequestForm, *, obj: AccessRequest | None, status: int,
                     renews: Grant | None = None) -> HttpResponse:
        head = [] if obj is not None else ["consumer", "dataset"]
        fieldsets = [
            (None, {"fields": [*head, "requested_fields"]}),
            (_("Purpose"), {"fields": ["purpose_code", "purpose", "legal_basis", "case_reference"]}),
            (_("Terms"), {"fields": ["duration_days", "expected_daily_volume"]}),
        ]
        adminform = helpers.AdminForm(cast(Any, form), fieldsets, {}, model_admin=self)
        dataset = form.chosen_dataset
        tier = dataset.tier if dataset is not None else None
        submit_label = _("Subscribe") if tier == Tier.UNCONDITIONAL else _("Submit")
        if obj is None:
            buttons = [("_submit", submit_label, True), ("_draft", _("Save as draft"), False)]
        elif obj.state == RequestState.DRAFT:
            buttons = [("_submit", submit_label, True), ("_save", _("Save draft"), False)]
        else:
            buttons = [("_resubmit", _("Resubmit"), True), ("_save", _("Save changes"), False)]
        context = {
            **self.admin_site.each_context(request),
            "title": _("File an access request") if obj is None else _("Change request #%(pk)s") % {"pk": obj.pk},
            "subtitle": None,
            "adminform": adminform,
            "object_id": obj.pk if obj else None,
            "original": obj,
            "is_popup": False,
            "to_field": None,
            "media": self.media + adminform.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(cast(Any, form), []),
            "preserved_filters": self.get_preserved_filters(request),
            "request_dataset": dataset,
            "renews": renews,
            "request_buttons": buttons,
            "deadline_days": _deadline_days(),
        }
        if obj is not None:
            context.update(self._request_context(request, obj))
        response = self.render_change_form(request, context, add=obj is None, change=obj is not None, obj=obj)
        response.status_code = status
        return response

    def _tell_outcome(self, request: HttpRequest, access_request: AccessRequest) -> None:
        """What became of a request just filed or submitted, by the dataset's tier."""
        obj = AccessRequest.objects.select_related("dataset__owner").get(pk=access_request.pk)
        params: dict[str, Any] = {"pk": obj.pk, "department": obj.dataset.owner, "dataset": obj.dataset.title}
        if obj.state == RequestState.DRAFT:
            self.message_user(request, _("Request #%(pk)s is saved as a draft. Submit it when it is ready; the "
                                         "deadline starts then.") % params, messages.INFO)
        elif obj.state in WAITING_STATES and obj.due_date is not None:
            message = (_("Request #%(pk)s is submitted. %(department)s answers by %(due)s.")
                       if obj.state == RequestState.SUBMITTED else
                       _("Request #%(pk)s is resubmitted. %(department)s answers by %(due)s."))
            self.message_user(request, message % {**params, "due": _date(obj.due_date)}, messages.SUCCESS)
        elif obj.state == RequestState.APPROVED:
            grant = Grant.objects.filter(access_request=obj).first()
            self.message_user(request, format_html(
                '{} <a href="{}">{}</a>',
                _("Request #%(pk)s is granted at once (unconditional sharing):") % params,
                reverse("admin:exchange_grant_change", args=[grant.pk]) if grant else "",
                _("grant #%(grant)s") % {"grant": grant.pk if grant else "?"}), messages.SUCCESS)
        elif obj.is_unmet_demand:
            self.message_user(request, _("Request #%(pk)s is answered at once: %(dataset)s is not shared (不予共享). "
                                         "Legal basis: %(basis)s. Your request is recorded as demand for the data.")
                              % {**params, "basis": obj.rejection_legal_basis}, messages.WARNING)
        else:
            self.message_user(request, _("Request #%(pk)s is %(state)s.") % {
                **params, "state": obj.get_state_display()}, messages.INFO)

    # --- The request page ---

    def _request_context(self, request: HttpRequest, obj: AccessRequest) -> dict[str, Any]:
        """What the request page, the decision page and the change form show of a request."""
        user = request.user
        fields = {f.name: f for f in obj.dataset.fields.all()}
        transitions = transitions_for(user, obj)
        try:
            grant = obj.grant
        except Grant.DoesNotExist:
            grant = None
        tools = []
        if any(name in DECISIONS for name in transitions):
            tools.append((reverse("admin:exchange_accessrequest_decide", args=[obj.pk]), _("Decide this request")))
        if self._may_hand_over(user, obj):
            tools.append((reverse("admin:exchange_accessrequest_hand_over", args=[obj.pk]), _("Hand over")))
        if "withdraw" in transitions:
            tools.append((reverse("admin:exchange_accessrequest_withdraw", args=[obj.pk]), _("Withdraw")))
        steps = list(access_request_history(access_request=obj))
        return {
            "access_request": obj,
            "purpose_entry": purpose_get(code=obj.purpose_code),
            "field_rows": [(name, fields.get(name)) for name in obj.fields],
            "history": [{"step": step, "label": STEP_LABELS.get(step.action, step.action),
                         "details": _step_details(step)} for step in steps],
            "returned_by": next((step for step in reversed(steps) if step.action == "return_for_changes"), None),
            "deadline": deadline_of(obj),
            "grant": grant,
            "request_tools": tools,
        }

    def _request_page(self, request: HttpRequest, obj: AccessRequest) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": str(obj), "opts": self.opts, "original": obj, "media": self.media,
            "has_view_permission": True, "has_change_permission": False,
            **self._request_context(request, obj),
        }
        return TemplateResponse(request, "admin/exchange/accessrequest/request.html", context)

    @staticmethod
    def _may_hand_over(user: Any, obj: AccessRequest) -> bool:
        return obj.escalated_at is not None and obj.is_waiting and allows(user, Perm.REQUEST_HAND_OVER, obj)

    def _page(self, request: HttpRequest, obj: AccessRequest, template: str, status: int,
              **context: Any) -> HttpResponse:
        full = {**self.admin_site.each_context(request), "opts": self.opts, "original": obj, "media": self.media,
                **self._request_context(request, obj), **context}
        return TemplateResponse(request, template, full, status=status)

    # --- Deciding ---

    def _decision_refusal(self, user: Any, obj: AccessRequest) -> tuple[int, str] | None:
        """Why this person may not decide this request now (status, message), or None if they may."""
        if any(name in DECISIONS for name in transitions_for(user, obj)):
            return None
        if not any(may_transition(user, name, obj) for name in DECISIONS):
            if obj.escalated_at is None:
                return 403, _("Only approvers of %(department)s may decide this request.") % {
                    "department": obj.dataset.owner}
            return 403, _("Only approvers of %(department)s, or the data authority, may decide this request.") % {
                "department": obj.dataset.owner}
        if obj.filed_by_id == user.pk:
            return 403, str(ErrorCode.OWN_REQUEST.default_message)
        return 409, _("Request #%(pk)s is %(state)s; it is not waiting for a decision.") % {
            "pk": obj.pk, "state": obj.get_state_display()}

    def decide_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = get_object_or_404(self.get_queryset(request), pk=pk)
        labels = {f.name: field_label(f) for f in obj.dataset.fields.all()}
        form = DecisionForm(request.POST if request.method == "POST" else None, access_request=obj,
                            field_labels={name: labels.get(name, name) for name in obj.fields})
        status, denied = 200, ""
        refusal = self._decision_refusal(request.user, obj)
        if refusal is not None:
            # Someone who may not decide is refused the page; an approver may still read a decided request's page.
            status, denied = refusal
            if status == 409 and request.method != "POST":
                status = 200
        elif request.method == "POST":
            if not form.is_valid():
                status = 400
            else:
                try:
                    message = self._decide(request, obj, form)
                except PlatformError as exc:
                    form.add_error(None, exc.message)
                    status = exc.status
                else:
                    self.message_user(request, message, messages.SUCCESS)
                    return HttpResponseRedirect(_request_url(obj))
        other_grants = [(grant, grant.state) for grant in grants_of_consumer_for_dataset(
            consumer=obj.consumer, dataset=obj.dataset)]
        return self._page(request, obj, "admin/exchange/decide.html", status,
                          title=_("Decide request #%(pk)s") % {"pk": obj.pk}, form=form, denied=denied,
                          other_grants=other_grants)

    @staticmethod
    def _decide(request: HttpRequest, obj: AccessRequest, form: "DecisionForm") -> str:
        data = form.cleaned_data
        decision, user = data["decision"], request.user
        if decision == "approve":
            grant = access_request_approve(access_request=obj, approver=user, reason=data["reason"])
            return _("Request #%(pk)s is approved: grant #%(grant)s.") % {"pk": obj.pk, "grant": grant.pk}
        if decision == "approve_in_part":
            chosen = [name for name in obj.fields if name in data["granted_fields"]]
            grant = access_request_approve(access_request=obj, approver=user, reason=data["part_reason"],
                                           fields=chosen, duration_days=data["duration_days"],
                                           daily_quota=data["daily_quota"],
                                           masking={k: v for k, v in form.masking().items() if k in chosen},
                                           row_filter=form.row_filter() or None)
            return _("Request #%(pk)s is approved in part: grant #%(grant)s for %(fields)s, %(days)d days, at most "
                     "%(quota)d records a day.") % {"pk": obj.pk, "grant": grant.pk,
                                                    "fields": ", ".join(grant.allowed_fields),
                                                    "days": data["duration_days"], "quota": grant.daily_quota or 0}
        if decision == "return":
            access_request_return(access_request=obj, approver=user, comment=data["comment"])
            return _("Request #%(pk)s is returned to %(department)s for changes.") % {
                "pk": obj.pk, "department": obj.consumer.department}
        access_request_reject(access_request=obj, approver=user, reason_code=data["rejection_reason"],
                              legal_basis=data["legal_basis"], explanation=data["explanation"])
        return _("Request #%(pk)s is rejected.") % {"pk": obj.pk}

    # --- Handing over, withdrawing ---

    def hand_over_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = get_object_or_404(self.get_queryset(request), pk=pk)
        approvers = people_holding(department=obj.dataset.owner, roles=[Role.APPROVER]).exclude(pk=obj.filed_by_id)
        form = HandOverForm(request.POST if request.method == "POST" else None, approvers=approvers)
        status, denied = 200, ""
        if not allows(request.user, Perm.REQUEST_HAND_OVER, obj):
            status, denied = 403, _("Only the data authority hands escalated requests to another approver.")
        elif obj.escalated_at is None or not obj.is_waiting:
            status, denied = 409, str(ErrorCode.NOT_ESCALATED.default_message)
        elif request.method == "POST":
            if not form.is_valid():
                status = 400
            else:
                approver = form.cleaned_data["approver"]
                try:
                    handed = access_request_hand_over(access_request=obj, actor=request.user, approver=approver)
                except PlatformError as exc:
                    form.add_error(None, exc.message)
                    status = exc.status
                else:
                    self.message_user(request, _("Request #%(pk)s is handed to %(person)s, who answers by %(due)s.")
                                      % {"pk": obj.pk, "person": approver.get_username(),
                                         "due": _date(handed.due_date)}, messages.SUCCESS)
                    return HttpResponseRedirect(_request_url(obj))
        return self._page(request, obj, "admin/exchange/request_action.html", status, form=form, denied=denied,
                          title=_("Hand over request #%(pk)s") % {"pk": obj.pk}, submit_label=_("Hand over"),
                          intro=_("The request ran over its deadline and was escalated to the data authority. Hand "
                                  "it to an approver of %(department)s: they get %(days)d working days from today "
                                  "and are told at once.") % {"department": obj.dataset.owner,
                                                              "days": _handover_days()})

    def withdraw_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = get_object_or_404(self.get_queryset(request), pk=pk)
        form = WithdrawForm(request.POST if request.method == "POST" else None)
        status, denied = 200, ""
        if "withdraw" not in transitions_for(request.user, obj):
            if not may_transition(request.user, "withdraw", obj):
                status, denied = 403, _("Only clerks of %(department)s may withdraw requests for %(system)s.") % {
                    "department": obj.consumer.department, "system": obj.consumer.code}
            else:
                status, denied = 409, _("Request #%(pk)s is %(state)s; it can no longer be withdrawn.") % {
                    "pk": obj.pk, "state": obj.get_state_display()}
        elif request.method == "POST" and form.is_valid():
            try:
                access_request_withdraw(access_request=obj, actor=request.user, comment=form.cleaned_data["comment"])
            except PlatformError as exc:
                form.add_error(None, exc.message)
                status = exc.status
            else:
                self.message_user(request, _("Request #%(pk)s is withdrawn.") % {"pk": obj.pk}, messages.SUCCESS)
                return HttpResponseRedirect(_request_url(obj))
        return self._page(request, obj, "admin/exchange/request_action.html", status, form=form, denied=denied,
                          title=_("Withdraw request #%(pk)s") % {"pk": obj.pk}, submit_label=_("Withdraw"),
                          intro=_("A withdrawn request is closed: nobody decides it any more. File a new one if the "
                                  "data is needed after all."))


def _deadline_days() -> int:
    return int(settings.REQUEST_DEADLINE_WORKING_DAYS)


def _handover_days() -> int:
    return int(settings.REQUEST_HANDOVER_WORKING_DAYS)


# --- Grants ---


class GrantStateFilter(admin.SimpleListFilter):
    title = gettext_lazy("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(GrantState.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value in GrantState.values:
            return queryset.filter(grant_state_q(GrantState(value), at=timezone.now()))
        return queryset


@admin.register(Grant)
class GrantAdmin(PolicyAdmin):
    view_permission = Perm.GRANT_VIEW
    list_display = ["id", "consumer", "dataset", "state_display", "daily_quota", "valid_until", "purpose_code",
                    "dataset_version"]
    list_filter = [GrantStateFilter, ("dataset", admin.RelatedOnlyFieldListFilter)]
    fields = readonly_fields = ("state_display", "access_request", "consumer", "dataset", "dataset_version",
                                "allowed_fields", "masking", "row_filter", "purpose_code", "purpose", "daily_quota",
                                "valid_from",
                                "valid_until", "revoked_at", "revoked_by", "revocation_reason", "suspended_at",
                                "suspension_reason", "renewal", "created_at")
    actions = ["reapprove"]

    class Media:
        css = {"all": [CSS]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Grant]:
        return grants_visible_to(user=request.user)

    @admin.display(description=gettext_lazy("state"))
    def state_display(self, obj: Grant) -> SafeString:
        state = obj.state
        return format_html('<span class="grant-state grant-state--{}">{}</span>', state.value, state.label)

    @admin.display(description=gettext_lazy("renewal"))
    def renewal(self, obj: Grant) -> SafeString | str:
        pending = grant_renewal_pending(grant=obj)
        if pending is None:
            return "-"
        return format_html('<a href="{}">{}</a> ({})', _request_url(pending), str(pending),
                           pending.get_state_display())

    def get_urls(self) -> list[Any]:
        return [path("<int:pk>/revoke/", self.admin_site.admin_view(self.revoke_view), name="exchange_grant_revoke"),
                path("usage/", self.admin_site.admin_view(self.usage_view), name="exchange_grant_usage"),
                *super().get_urls()]

    def usage_view(self, request: HttpRequest) -> HttpResponse:
        """Who used our data: every served call on the department's datasets, by month, system, purpose, grant."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {**self.admin_site.each_context(request), "opts": self.model._meta,
                   "title": _("Who used our data"), "rows": dataset_usage(user=request.user)}
        return TemplateResponse(request, "admin/exchange/grant/usage.html", context)

    def _tools(self, request: HttpRequest, grant: Grant) -> list[tuple[str, str]]:
        """The grant page's buttons, for those who may use them."""
        tools, state = [], grant.state
        if allows(request.user, Perm.GRANT_REVOKE, grant) and state not in (GrantState.REVOKED, GrantState.EXPIRED):
            tools.append((reverse("admin:exchange_grant_revoke", args=[grant.pk]), _("Revoke")))
        if (allows(request.user, Perm.REQUEST_FILE, grant) and state in (GrantState.ACTIVE, GrantState.PENDING)
                and grant_renewal_pending(grant=grant) is None):
            tools.append((reverse("admin:exchange_accessrequest_add") + f"?renews={grant.pk}", _("Request renewal")))
        return tools

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: Any = None) -> HttpResponse:
        grant = self.get_object(request, unquote(object_id))
        tools = self._tools(request, grant) if grant is not None else []
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "grant_tools": tools})

    def revoke_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        grant = get_object_or_404(self.get_queryset(request), pk=pk)
        form = RevokeForm(request.POST if request.method == "POST" else None)
        status, denied = 200, ""
        if not allows(request.user, Perm.GRANT_REVOKE, grant):
            status, denied = 403, _("Only approvers of %(department)s may revoke grants for %(dataset)s.") % {
                "department": grant.dataset.owner, "dataset": grant.dataset.identifier}
        elif grant.state in (GrantState.REVOKED, GrantState.EXPIRED):
            status, denied = 409, str(ErrorCode.GRANT_ENDED.default_message)
        elif request.method == "POST":
            if not form.is_valid():
                status = 400
            else:
                try:
                    grant_revoke(grant=grant, actor=request.user, reason=form.cleaned_data["reason"])
                except PlatformError as exc:
                    form.add_error(None, exc.message)
                    status = exc.status
                else:
                    self.message_user(request, _("Grant #%(pk)s is revoked; the next call under it is refused.")
                                      % {"pk": grant.pk}, messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:exchange_grant_change", args=[grant.pk]))
        context = {**self.admin_site.each_context(request), "opts": self.opts, "original": grant, "grant": grant,
                   "grant_state": grant.state, "form": form, "denied": denied,
                   "title": _("Revoke grant #%(pk)s") % {"pk": grant.pk}}
        return TemplateResponse(request, "admin/exchange/grant_revoke.html", context, status=status)

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


# --- Purposes ---


@admin.register(Purpose)
class PurposeAdmin(PolicyAdmin):
    """The purpose vocabulary: everyone who files or decides requests reads it; the data authority keeps it.
    A purpose is never deleted (requests and grants name it): it is deactivated."""

    view_permission = Perm.PURPOSE_VIEW
    add_permission = Perm.PURPOSE_MANAGE
    change_permission = Perm.PURPOSE_MANAGE
    list_display = ["code", "label_zh", "label_en", "active"]
    list_filter = ["active"]
    search_fields = ["code", "label_zh", "label_en"]
    fields = ["code", "label_zh", "label_en", "description", "active"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["code"] if obj is not None else []  # grants and the audit log name the purpose by its code

    def save_model(self, request: HttpRequest, obj: Purpose, form: Any, change: bool) -> None:
        data = form.cleaned_data
        saved = purpose_save(actor=request.user, code=obj.code if change else data["code"],
                             label_zh=data["label_zh"], label_en=data["label_en"],
                             description=data["description"], active=data["active"])
        obj.pk = saved.pk
