"""The catalogue: datasets with a schema of typed fields, a permission tier, and their records."""

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from registry.models import Department


class Tier(models.TextChoices):
    """Permission tiers; each maps to DCAT-AP ``dct:accessRights``."""

    OPEN = "open", "Open (public)"
    UNCONDITIONAL = "unconditional", "Unconditional sharing (无条件共享)"
    CONDITIONAL = "conditional", "Conditional sharing (有条件共享)"
    NOT_SHARED = "not_shared", "Not shared (不予共享)"


class DatasetStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    RETIRED = "retired", "Retired"


class Dataset(models.Model):
    owner = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="datasets")
    identifier = models.SlugField(max_length=100, unique=True,
                                  help_text="Stable id used in the API: /api/v1/datasets/{identifier}/records/{key}")
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.CONDITIONAL)
    legal_basis = models.TextField(blank=True, help_text="The law or regulation that governs sharing this data.")
    status = models.CharField(max_length=16, choices=DatasetStatus.choices, default=DatasetStatus.DRAFT,
                              editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["identifier"]

    def __str__(self) -> str:
        return f"{self.title} ({self.identifier})"

    def clean(self) -> None:
        if self.tier == Tier.NOT_SHARED and not self.legal_basis.strip():
            raise ValidationError({"legal_basis": "A dataset that is not shared must cite its legal basis."})


class FieldType(models.TextChoices):
    STRING = "string", "Text"
    INTEGER = "integer", "Integer"
    NUMBER = "number", "Number"
    BOOLEAN = "boolean", "Yes/no"
    DATE = "date", "Date (YYYY-MM-DD)"


class Sensitivity(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal"
    PERSONAL = "personal", "Personal"
    SENSITIVE = "sensitive", "Sensitive personal"


field_name_validator = RegexValidator(
    r"^[a-z][a-z0-9_]{0,62}$", "Use lowercase letters, digits and underscores, starting with a letter."
)


class Field(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="fields")
    name = models.CharField(max_length=63, validators=[field_name_validator])
    type = models.CharField(max_length=16, choices=FieldType.choices, default=FieldType.STRING)
    description = models.CharField(max_length=500, blank=True)
    sensitivity = models.CharField(max_length=16, choices=Sensitivity.choices, default=Sensitivity.INTERNAL)
    is_lookup_key = models.BooleanField(default=False, help_text="Records are fetched by this field's value.")
    is_subject_identifier = models.BooleanField(
        default=False, help_text="Identifies a citizen or company: audited only as a keyed hash.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["dataset", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "name"], name="field_unique_name"),
            models.UniqueConstraint(fields=["dataset"], condition=models.Q(is_lookup_key=True),
                                    name="field_one_lookup_key"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset.identifier}.{self.name}"


class Record(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="records")
    key = models.CharField(max_length=255)
    data = models.JSONField()
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["dataset", "key"]
        constraints = [models.UniqueConstraint(fields=["dataset", "key"], name="record_unique_key")]

    def __str__(self) -> str:
        return f"{self.dataset.identifier}/{self.key}"
