"""Access requests, their history, the purposes they name, and the grants that approvals produce."""

import datetime as dt
import secrets
import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from catalog.models import Dataset
from registry.models import System


class RequestState(models.TextChoices):
    """The states of a request; the transitions between them are declared in ``exchange.workflow``."""

    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    RETURNED = "returned", _("Returned for changes")
    RESUBMITTED = "resubmitted", _("Resubmitted")
    APPROVED = "approved", _("Approved")
    APPROVED_IN_PART = "approved_in_part", _("Approved in part")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


#: The states in which a request waits for the providing department, its clock running.
WAITING_STATES = (RequestState.SUBMITTED, RequestState.RESUBMITTED)
#: The states in which the requesting department can still change the request.
EDITABLE_STATES = (RequestState.DRAFT, RequestState.RETURNED)


class RejectionReason(models.TextChoices):
    """The fixed reasons for a rejection (不予同意); each rejection also cites a legal basis and explains."""

    NOT_SHARED = "not_shared", _("The dataset is not shared (不予共享)")
    NO_LEGAL_BASIS = "no_legal_basis", _("The purpose has no basis in law or in the department's duties")
    BEYOND_PURPOSE = "beyond_purpose", _("The fields requested go beyond what the purpose needs")
    PURPOSE_MISMATCH = "purpose_mismatch", _("The data does not serve the stated purpose")
    SECURITY = "security", _("The requesting system does not meet the security conditions")
    NOT_AVAILABLE = "not_available", _("The data is not available for sharing now")
    OTHER = "other", _("Other (explained in the text)")


purpose_code_validator = RegexValidator(
    r"^[a-z][a-z0-9._-]{1,63}$", _("A purpose code is lowercase, e.g. 'law-enforcement.investigation'.")
)

MAX_GRANT_DAYS = 3 * 365
MAX_DAILY_VOLUME = 10_000_000


class Purpose(models.Model):
    """The controlled vocabulary of purposes (使用用途), kept by the platform's data authority."""

    code = models.CharField(max_length=64, unique=True, validators=[purpose_code_validator], verbose_name=_("code"),
                            help_text=_("A short, stable code, e.g. public-health.outbreak-tracing; grants and the "
                                        "audit log name the purpose by it."))
    label_zh = models.CharField(max_length=200, verbose_name=_("Chinese label"),
                                help_text=_("The purpose as Chinese-speaking users read it."))
    label_en = models.CharField(max_length=200, verbose_name=_("English label"),
                                help_text=_("The purpose as English-speaking users read it."))
    description = models.TextField(blank=True, verbose_name=_("description"),
                                   help_text=_("What the purpose covers, and what it does not."))
    active = models.BooleanField(default=True, verbose_name=_("active"),
                                 help_text=_("Only active purposes can be chosen in new requests; old requests and "
                                             "grants keep theirs."))

    class Meta:
        ordering = ["code"]
        verbose_name = _("purpose")
        verbose_name_plural = _("purposes")

    def __str__(self) -> str:
        return f"{self.label} ({self.code})"

    @property
    def label(self) -> str:
        """The label in the active language."""
        return self.label_en if (get_language() or "").startswith("en") else self.label_zh


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
    expected_daily_volume = models.PositiveIntegerField(
        default=100, validators=[MinValueValidator(1), MaxValueValidator(MAX_DAILY_VOLUME)],
        verbose_name=_("expected daily volume"),
        help_text=_("How many records the system expects to read on a busy day; the approver may set it as the "
                    "grant's daily quota."))
    renews = models.ForeignKey("Grant", on_delete=models.PROTECT, null=True, blank=True, editable=False,
                               related_name="renewals", verbose_name=_("renews grant"),
                               help_text=_("The grant this request asks to extend, with its terms carried forward."))
    state = models.CharField(max_length=16, choices=RequestState.choices, default=RequestState.DRAFT,
                             editable=False, verbose_name=_("state"),
                             help_text=_("Where the request stands; a submitted request waits for an approver of "
                                         "the providing department."))
    submitted_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("submitted at"),
                                        help_text=_("When the request was last submitted; its clock runs from then."))
    due_date = models.DateField(null=True, blank=True, editable=False, verbose_name=_("deadline"),
                                help_text=_("The last working day for the answer (办理时限)."))
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+", editable=False, verbose_name=_("handed to"),
                                 help_text=_("The approver the data authority handed the overdue request to."))
    reminded_soon_at = models.DateTimeField(null=True, blank=True, editable=False,
                                            verbose_name=_("reminded before the deadline at"),
                                            help_text=_("When the approvers were reminded that the deadline is near."))
    reminded_due_at = models.DateTimeField(null=True, blank=True, editable=False,
                                           verbose_name=_("reminded on the deadline at"),
                                           help_text=_("When the approvers were reminded on the last day."))
    escalated_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("escalated at"),
                                        help_text=_("When the overdue request was escalated to the data authority."))
    return_comment = models.TextField(blank=True, editable=False, verbose_name=_("what to change"),
                                      help_text=_("The approver's comment when the request was returned."))
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
    rejection_reason = models.CharField(max_length=32, choices=RejectionReason.choices, blank=True, editable=False,
                                        verbose_name=_("reason for rejection"),
                                        help_text=_("One of the fixed reasons, for every rejection."))
    rejection_legal_basis = models.TextField(blank=True, editable=False, verbose_name=_("legal basis of the rejection"),
                                             help_text=_("The law, regulation or catalogue entry the rejection "
                                                         "rests on."))

    class Meta:
        ordering = ["-filed_at"]
        verbose_name = _("access request")
        verbose_name_plural = _("access requests")
        indexes = [models.Index(fields=["state", "due_date"], name="request_state_due")]

    def __str__(self) -> str:
        return gettext("Request #%(id)s: %(consumer)s -> %(dataset)s") % {
            "id": self.pk, "consumer": self.consumer.code, "dataset": self.dataset.identifier}

    @property
    def is_waiting(self) -> bool:
        return self.state in WAITING_STATES

    @property
    def is_unmet_demand(self) -> bool:
        """Answered at once because the dataset is not shared: demand the catalogue does not meet (共享需求)."""
        return self.rejection_reason == RejectionReason.NOT_SHARED


class AccessRequestStep(models.Model):
    """One transition of a request, as its history shows it: who moved it from which state to which, why.
    The audit log holds the same as evidence; this is the request's own readable record."""

    access_request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="steps",
                                       verbose_name=_("access request"), help_text=_("The request."))
    action = models.CharField(max_length=32, verbose_name=_("action"), help_text=_("The transition made."))
    from_state = models.CharField(max_length=16, choices=RequestState.choices, verbose_name=_("from"),
                                  help_text=_("The state before."))
    to_state = models.CharField(max_length=16, choices=RequestState.choices, verbose_name=_("to"),
                                help_text=_("The state after."))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", verbose_name=_("by"),
                              help_text=_("Who made it; empty when the platform answered by itself."))
    at = models.DateTimeField(default=timezone.now, verbose_name=_("at"), help_text=_("When."))
    comment = models.TextField(blank=True, verbose_name=_("comment"), help_text=_("The reason or comment given."))
    detail = models.JSONField(default=dict, blank=True, verbose_name=_("detail"),
                              help_text=_("What was decided: fields, duration, quota, reason."))

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("request step")
        verbose_name_plural = _("request steps")

    def __str__(self) -> str:
        return f"#{self.access_request_id} {self.from_state} -> {self.to_state}"


class GrantState(models.TextChoices):
    ACTIVE = "active", _("Active")
    PENDING = "pending", _("Not yet in force")
    SUSPENDED = "suspended", _("Suspended")
    REVOKED = "revoked", _("Revoked")
    EXPIRED = "expired", _("Expired")


def pseudonym_salt_new() -> str:
    """A grant's own random salt (its pseudonym key is derived from it and the platform's pseudonym key)."""
    return secrets.token_hex(16)


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
    daily_quota = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("daily quota"),
                                              help_text=_("The most records the system may read a day under this "
                                                          "grant; empty for no limit."))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked at"),
                                      help_text=_("Set when the grant was revoked before it expired."))
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("revoked by"),
                                   help_text=_("The approver of the providing department who revoked it."))
    revocation_reason = models.TextField(blank=True, verbose_name=_("reason for the revocation"),
                                         help_text=_("Why the grant was revoked, as the consumer is told."))
    expiry_notified_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expiry notice sent at"),
                                              help_text=_("When the consumer's clerks were told it will expire."))
    dataset_version = models.PositiveIntegerField(
        default=1, verbose_name=_("dataset version"),
        help_text=_("The version of the dataset the grant was approved for."))
    suspended_at = models.DateTimeField(null=True, blank=True, verbose_name=_("suspended at"),
                                        help_text=_("Set while the grant is suspended; reads are refused with the "
                                                    "reason until it is approved again."))
    suspension_reason = models.TextField(blank=True, verbose_name=_("reason for the suspension"),
                                         help_text=_("Why the grant is suspended, as the consumer is told."))
    masking = models.JSONField(default=dict, blank=True, verbose_name=_("masking"),
                               help_text=_("The grant's own masking rule per field, set at approval: the dataset's "
                                           "defaults then, tightened by the approver. The stricter of this and the "
                                           "dataset's current default applies."))
    row_filter = models.JSONField(default=dict, blank=True, verbose_name=_("row filter"),
                                  help_text=_("Only records whose field holds one of the listed values are served, "
                                              "e.g. {\"district\": [\"东城区\"]}; empty for every record."))
    pseudonym_salt = models.CharField(max_length=64, default=pseudonym_salt_new, editable=False,
                                      verbose_name=_("pseudonym salt"),
                                      help_text=_("With the platform's pseudonym key, makes this grant's pseudonyms; "
                                                  "a renewal keeps it. Never leaves the platform."))
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

    def state_at(self, when: dt.datetime) -> GrantState:
        if self.revoked_at is not None:
            return GrantState.REVOKED
        if when >= self.valid_until:
            return GrantState.EXPIRED
        if self.suspended_at is not None:
            return GrantState.SUSPENDED
        if when < self.valid_from:
            return GrantState.PENDING
        return GrantState.ACTIVE

    @property
    def state(self) -> GrantState:
        return self.state_at(timezone.now())


class GrantDailyUsage(models.Model):
    """How many records a grant served on one day (the platform's time zone): its daily quota's count."""

    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="daily_usage", verbose_name=_("grant"),
                              help_text=_("The grant the records were served under."))
    day = models.DateField(verbose_name=_("day"), help_text=_("The day, in the platform's time zone."))
    records = models.PositiveIntegerField(default=0, verbose_name=_("records served"),
                                          help_text=_("How many records were served under the grant that day."))

    class Meta:
        ordering = ["-day"]
        verbose_name = _("daily usage")
        verbose_name_plural = _("daily usage")
        constraints = [models.UniqueConstraint(fields=["grant", "day"], name="grant_daily_usage_unique")]

    def __str__(self) -> str:
        return f"#{self.grant_id} {self.day}: {self.records}"


class RecordBatch(models.Model):
    """A batch a provider's system pushed (``exchange.push``): its id makes the push idempotent."""

    system = models.ForeignKey(System, on_delete=models.PROTECT, related_name="record_batches",
                               verbose_name=_("system"),
                               help_text=_("The providing department's system that pushed it."))
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="record_batches",
                                verbose_name=_("dataset"), help_text=_("The dataset whose records it wrote."))
    batch_id = models.CharField(max_length=64, verbose_name=_("batch id"),
                                help_text=_("The system's own id for the batch; the same id is applied once."))
    body_digest = models.CharField(max_length=64, verbose_name=_("body digest"),
                                   help_text=_("SHA-256 of the batch's body, hex."))
    result = models.JSONField(default=dict, verbose_name=_("result"), help_text=_("The answer the batch was given."))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("received at"),
                                      help_text=_("When the batch was applied."))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("record batch")
        verbose_name_plural = _("record batches")
        constraints = [models.UniqueConstraint(fields=["system", "batch_id"], name="record_batch_once")]

    def __str__(self) -> str:
        return f"{self.system_id}:{self.batch_id}"


class ExportState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Being made")
    DONE = "done", _("Ready to download")
    FAILED = "failed", _("Failed")
    DOWNLOADED = "downloaded", _("Downloaded")
    EXPIRED = "expired", _("Expired")


class ExportJob(models.Model):
    """A bulk export of a dataset under one grant (``exchange.exports``): made by a Celery job, downloaded once."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("export id"),
                           help_text=_("The export's id in the API."))
    system = models.ForeignKey(System, on_delete=models.PROTECT, related_name="exports", verbose_name=_("system"),
                               help_text=_("The system that asked for it; only it sees its status."))
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="exports", verbose_name=_("dataset"),
                                help_text=_("The dataset exported."))
    grant = models.ForeignKey(Grant, on_delete=models.PROTECT, null=True, blank=True, related_name="exports",
                              verbose_name=_("grant"), help_text=_("The grant it is made under; empty for open data."))
    format = models.CharField(max_length=8, verbose_name=_("format"), help_text=_("csv or jsonl."))
    fields = models.JSONField(default=list, verbose_name=_("fields"), help_text=_("The fields exported, in order."))
    state = models.CharField(max_length=16, choices=ExportState.choices, default=ExportState.QUEUED,
                             verbose_name=_("state"), help_text=_("Where the export is."))
    rows_total = models.PositiveIntegerField(default=0, verbose_name=_("records"),
                                             help_text=_("How many records the export holds."))
    rows_done = models.PositiveIntegerField(default=0, verbose_name=_("records written"),
                                            help_text=_("How many are written so far."))
    file_digest = models.CharField(max_length=64, blank=True, verbose_name=_("file digest"),
                                   help_text=_("SHA-256 of the file, hex (also in the audit log)."))
    file_size = models.PositiveBigIntegerField(default=0, verbose_name=_("file size"), help_text=_("In bytes."))
    error = models.CharField(max_length=500, blank=True, verbose_name=_("error"), help_text=_("Why it failed."))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"),
                                      help_text=_("When it was asked for."))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"),
                                      help_text=_("When the job began."))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"),
                                       help_text=_("When the job ended."))
    link_expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("link expires at"),
                                           help_text=_("After this the file is deleted if not downloaded."))
    downloaded_at = models.DateTimeField(null=True, blank=True, verbose_name=_("downloaded at"),
                                         help_text=_("When the file was downloaded (once)."))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("export")
        verbose_name_plural = _("exports")

    def __str__(self) -> str:
        return f"{self.uid} ({self.state})"
