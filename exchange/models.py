"""Access requests and the grants that approvals produce."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from catalog.models import Dataset
from registry.models import System


class RequestState(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


purpose_code_validator = RegexValidator(
    r"^[a-z][a-z0-9._-]{1,63}$", _("A purpose code is lowercase, e.g. 'law-enforcement.investigation'.")
)

MAX_GRANT_DAYS = 3 * 365


class AccessRequest(models.Model):
    consumer = models.ForeignKey(System, on_delete=models.PROTECT, related_name="access_requests",
                                 verbose_name=_("consumer system"),
                                 help_text=_("Your department's system that will call the API."))
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="access_requests",
                                verbose_name=_("dataset"), help_text=_("The dataset whose fields are requested."))
    fields = models.JSONField(verbose_name=_("fields"), help_text=_("Names of the requested fields."))
    purpose_code = models.CharField(max_length=64, validators=[purpose_code_validator],
                                    verbose_name=_("purpose code"),
                                    help_text=_("A short code for the purpose, e.g. public-health.outbreak-tracing."))
    purpose = models.TextField(verbose_name=_("purpose"), help_text=_("What the data is for, in plain words."))
    legal_basis = models.TextField(verbose_name=_("legal basis"),
                                   help_text=_("The law or regulation that allows your department this use."))
    case_reference = models.CharField(max_length=100, blank=True, verbose_name=_("case reference"),
                                      help_text=_("The case or file number the data is needed for, if any."))
    duration_days = models.PositiveIntegerField(
        default=365, validators=[MinValueValidator(1), MaxValueValidator(MAX_GRANT_DAYS)],
        verbose_name=_("duration (days)"), help_text=_("How long the grant lasts once approved."))
    state = models.CharField(max_length=16, choices=RequestState.choices, default=RequestState.SUBMITTED,
                             editable=False, verbose_name=_("state"),
                             help_text=_("Submitted until an approver of the providing department decides."))
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                 editable=False, verbose_name=_("filed by"),
                                 help_text=_("The clerk who filed the request."))
    filed_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("filed at"),
                                    help_text=_("When the request was filed."))
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", editable=False, verbose_name=_("decided by"),
                                   help_text=_("The approver who decided the request."))
    decided_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("decided at"),
                                      help_text=_("When the request was decided."))
    decision_reason = models.TextField(blank=True, editable=False, verbose_name=_("reason for the decision"),
                                       help_text=_("The approver's reason; a rejection always states one."))

    class Meta:
        ordering = ["-filed_at"]
        verbose_name = _("access request")
        verbose_name_plural = _("access requests")

    def __str__(self) -> str:
        return gettext("Request #%(id)s: %(consumer)s -> %(dataset)s") % {
            "id": self.pk, "consumer": self.consumer.code, "dataset": self.dataset.identifier}


class Grant(models.Model):
    """The machine-checked result of an approval: who may read which fields of what, why, until when."""

    access_request = models.OneToOneField(AccessRequest, on_delete=models.PROTECT, null=True, blank=True,
                                          related_name="grant", verbose_name=_("access request"),
                                          help_text=_("The approved request this grant comes from."))
    consumer = models.ForeignKey(System, on_delete=models.PROTECT, related_name="grants",
                                 verbose_name=_("consumer system"), help_text=_("The system that may read."))
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="grants", verbose_name=_("dataset"),
                                help_text=_("The dataset it may read."))
    allowed_fields = models.JSONField(verbose_name=_("allowed fields"),
                                      help_text=_("The only fields it may read; the others are never sent."))
    purpose_code = models.CharField(max_length=64, verbose_name=_("purpose code"),
                                    help_text=_("The purpose the data may be used for, as a code."))
    purpose = models.TextField(verbose_name=_("purpose"), help_text=_("The purpose, in plain words."))
    valid_from = models.DateTimeField(verbose_name=_("valid from"), help_text=_("When the grant comes into force."))
    valid_until = models.DateTimeField(verbose_name=_("valid until"), help_text=_("When the grant expires."))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked at"),
                                      help_text=_("Set when the grant was revoked before it expired."))
    dataset_version = models.PositiveIntegerField(
        default=1, verbose_name=_("dataset version"),
        help_text=_("The version of the dataset the grant was approved for."))
    suspended_at = models.DateTimeField(null=True, blank=True, verbose_name=_("suspended at"),
                                        help_text=_("Set while the grant is suspended; reads are refused with the "
                                                    "reason until it is approved again."))
    suspension_reason = models.TextField(blank=True, verbose_name=_("reason for the suspension"),
                                         help_text=_("Why the grant is suspended, as the consumer is told."))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"),
                                      help_text=_("When the grant was created."))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("grant")
        verbose_name_plural = _("grants")
        indexes = [models.Index(fields=["consumer", "dataset"], name="grant_consumer_dataset")]

    def __str__(self) -> str:
        return gettext("Grant #%(id)s: %(consumer)s reads %(dataset)s") % {
            "id": self.pk, "consumer": self.consumer.code, "dataset": self.dataset.identifier}
