"""Access requests and the grants that approvals produce."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from catalog.models import Dataset
from registry.models import System


class RequestState(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


purpose_code_validator = RegexValidator(
    r"^[a-z][a-z0-9._-]{1,63}$", "A purpose code is lowercase, e.g. 'law-enforcement.investigation'."
)

MAX_GRANT_DAYS = 3 * 365


class AccessRequest(models.Model):
    consumer = models.ForeignKey(System, on_delete=models.PROTECT, related_name="access_requests",
                                 help_text="Your department's system that will call the API.")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="access_requests")
    fields = models.JSONField(help_text="Names of the requested fields.")
    purpose_code = models.CharField(max_length=64, validators=[purpose_code_validator])
    purpose = models.TextField(help_text="What the data is for, in plain words.")
    legal_basis = models.TextField(help_text="The law or regulation that allows your department this use.")
    case_reference = models.CharField(max_length=100, blank=True)
    duration_days = models.PositiveIntegerField(
        default=365, validators=[MinValueValidator(1), MaxValueValidator(MAX_GRANT_DAYS)])
    state = models.CharField(max_length=16, choices=RequestState.choices, default=RequestState.SUBMITTED,
                             editable=False)
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                 editable=False)
    filed_at = models.DateTimeField(default=timezone.now, editable=False)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", editable=False)
    decided_at = models.DateTimeField(null=True, blank=True, editable=False)
    decision_reason = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["-filed_at"]

    def __str__(self) -> str:
        return f"Request #{self.pk}: {self.consumer.code} -> {self.dataset.identifier}"


class Grant(models.Model):
    """The machine-checked result of an approval: who may read which fields of what, why, until when."""

    access_request = models.OneToOneField(AccessRequest, on_delete=models.PROTECT, null=True, blank=True,
                                          related_name="grant")
    consumer = models.ForeignKey(System, on_delete=models.PROTECT, related_name="grants")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="grants")
    allowed_fields = models.JSONField()
    purpose_code = models.CharField(max_length=64)
    purpose = models.TextField()
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["consumer", "dataset"], name="grant_consumer_dataset")]

    def __str__(self) -> str:
        return f"Grant #{self.pk}: {self.consumer.code} reads {self.dataset.identifier}"
