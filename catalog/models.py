"""The catalogue: datasets with a schema of typed fields, a permission tier, and their records."""

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from registry.models import Department


class Tier(models.TextChoices):
    """Permission tiers; each maps to DCAT-AP ``dct:accessRights``.

    The English labels keep the Chinese term of the sharing rules in brackets: it is the term staff look for.
    """

    OPEN = "open", _("Open (public)")
    UNCONDITIONAL = "unconditional", _("Unconditional sharing (无条件共享)")
    CONDITIONAL = "conditional", _("Conditional sharing (有条件共享)")
    NOT_SHARED = "not_shared", _("Not shared (不予共享)")


class DatasetStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    RETIRED = "retired", _("Retired")


class Dataset(models.Model):
    owner = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="datasets",
                              verbose_name=_("providing department"),
                              help_text=_("The department that provides the data and decides who may read it."))
    identifier = models.SlugField(max_length=100, unique=True, verbose_name=_("identifier"),
                                  help_text=_("Stable id used in the API: "
                                              "/api/v1/datasets/{identifier}/records/{key}"))
    title = models.CharField(max_length=300, verbose_name=_("title"),
                             help_text=_("The dataset's name as the catalogue shows it."))
    description = models.TextField(blank=True, verbose_name=_("description"),
                                   help_text=_("What the data covers, where it comes from and how complete it is."))
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.CONDITIONAL,
                            verbose_name=_("sharing tier"),
                            help_text=_("Who may read the data: the public (open), every department "
                                        "(unconditional), departments whose request was approved (conditional), "
                                        "or nobody (not shared)."))
    legal_basis = models.TextField(blank=True, verbose_name=_("legal basis"),
                                   help_text=_("The law or regulation that governs sharing this data."))
    status = models.CharField(max_length=16, choices=DatasetStatus.choices, default=DatasetStatus.DRAFT,
                              editable=False, verbose_name=_("status"),
                              help_text=_("Only a published dataset can be requested and read."))
    version = models.PositiveIntegerField(default=1, editable=False, verbose_name=_("version"),
                                          help_text=_("The dataset's version, recorded in the audit log when it "
                                                      "is published."))
    published_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("published at"),
                                        help_text=_("When the dataset was published in the catalogue."))
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"),
                                      help_text=_("When the dataset was registered."))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"),
                                      help_text=_("When the dataset was last changed."))

    class Meta:
        ordering = ["identifier"]
        verbose_name = _("dataset")
        verbose_name_plural = _("datasets")

    def __str__(self) -> str:
        return f"{self.title} ({self.identifier})"

    def clean(self) -> None:
        if self.tier == Tier.NOT_SHARED and not self.legal_basis.strip():
            raise ValidationError({"legal_basis": _("A dataset that is not shared must cite its legal basis.")})


class FieldType(models.TextChoices):
    STRING = "string", _("Text")
    INTEGER = "integer", _("Integer")
    NUMBER = "number", _("Number")
    BOOLEAN = "boolean", _("Yes/no")
    DATE = "date", _("Date (YYYY-MM-DD)")


class Sensitivity(models.TextChoices):
    PUBLIC = "public", _("Public")
    INTERNAL = "internal", _("Internal")
    PERSONAL = "personal", _("Personal")
    SENSITIVE = "sensitive", _("Sensitive personal")


field_name_validator = RegexValidator(
    r"^[a-z][a-z0-9_]{0,62}$", _("Use lowercase letters, digits and underscores, starting with a letter.")
)


class Field(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="fields", verbose_name=_("dataset"),
                                help_text=_("The dataset this field belongs to."))
    name = models.CharField(max_length=63, validators=[field_name_validator], verbose_name=_("name"),
                            help_text=_("The field's name in the API and in import files, e.g. birth_date."))
    type = models.CharField(max_length=16, choices=FieldType.choices, default=FieldType.STRING,
                            verbose_name=_("data type"), help_text=_("Values are checked against this type."))
    description = models.CharField(max_length=500, blank=True, verbose_name=_("description"),
                                   help_text=_("What the field holds, in plain words."))
    sensitivity = models.CharField(max_length=16, choices=Sensitivity.choices, default=Sensitivity.INTERNAL,
                                   verbose_name=_("sensitivity"),
                                   help_text=_("Personal and sensitive personal information are protected by the "
                                               "Personal Information Protection Law."))
    is_lookup_key = models.BooleanField(default=False, verbose_name=_("lookup key"),
                                        help_text=_("Records are fetched by this field's value."))
    is_subject_identifier = models.BooleanField(
        default=False, verbose_name=_("subject identifier"),
        help_text=_("Identifies a citizen or company: audited only as a keyed hash."))
    position = models.PositiveSmallIntegerField(default=0, verbose_name=_("position"),
                                                help_text=_("Fields are listed in this order."))

    class Meta:
        ordering = ["dataset", "position", "id"]
        verbose_name = _("field")
        verbose_name_plural = _("fields")
        constraints = [
            models.UniqueConstraint(fields=["dataset", "name"], name="field_unique_name"),
            models.UniqueConstraint(fields=["dataset"], condition=models.Q(is_lookup_key=True),
                                    name="field_one_lookup_key"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset.identifier}.{self.name}"


class Record(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="records", verbose_name=_("dataset"),
                                help_text=_("The dataset this record belongs to."))
    key = models.CharField(max_length=255, verbose_name=_("record key"),
                           help_text=_("The value of the dataset's lookup key field."))
    data = models.JSONField(verbose_name=_("data"), help_text=_("The record's values, by field name."))
    version = models.PositiveIntegerField(default=1, verbose_name=_("version"),
                                          help_text=_("Goes up by one each time the record is replaced."))
    updated_at = models.DateTimeField(default=timezone.now, verbose_name=_("updated at"),
                                      help_text=_("When the record was last loaded."))
    deleted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("deleted at"),
                                      help_text=_("When the record was deleted; a deleted record is no longer served."))

    class Meta:
        ordering = ["dataset", "key"]
        verbose_name = _("record")
        verbose_name_plural = _("records")
        constraints = [models.UniqueConstraint(fields=["dataset", "key"], name="record_unique_key")]

    def __str__(self) -> str:
        return f"{self.dataset.identifier}/{self.key}"
