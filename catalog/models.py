"""The catalogue: datasets with a schema of typed fields, a permission tier, and their records."""

from typing import Any

from django.conf import settings
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


class Grade(models.TextChoices):
    """Data classification grade of GB/T 43697-2024 (数据安全技术 数据分类分级规则)."""

    GENERAL = "general", _("General (一般数据)")
    IMPORTANT = "important", _("Important (重要数据)")
    CORE = "core", _("Core (核心数据)")


class Theme(models.TextChoices):
    """DCAT-AP's data themes (the EU Publications Office's data-theme vocabulary), as ``dcat:theme``."""

    AGRI = "AGRI", _("Agriculture, fisheries, forestry and food")
    ECON = "ECON", _("Economy and finance")
    EDUC = "EDUC", _("Education, culture and sport")
    ENER = "ENER", _("Energy")
    ENVI = "ENVI", _("Environment")
    GOVE = "GOVE", _("Government and public sector")
    HEAL = "HEAL", _("Health")
    INTR = "INTR", _("International issues")
    JUST = "JUST", _("Justice, legal system and public safety")
    REGI = "REGI", _("Regions and cities")
    SOCI = "SOCI", _("Population and society")
    TECH = "TECH", _("Science and technology")
    TRAN = "TRAN", _("Transport")


class ResourceCategory(models.TextChoices):
    """信息资源分类 of the 政务信息资源目录 (GB/T 21063.4): the three kinds of government information resource."""

    BASE = "base", _("Base information resource (基础信息资源)")
    THEMATIC = "thematic", _("Thematic information resource (主题信息资源)")
    DEPARTMENTAL = "departmental", _("Departmental information resource (部门信息资源)")


class UpdateFrequency(models.TextChoices):
    """更新周期; each maps to a term of the EU frequency vocabulary (``dct:accrualPeriodicity``)."""

    CONTINUOUS = "UPDATE_CONT", _("Real time (实时)")
    DAILY = "DAILY", _("Daily (每日)")
    WEEKLY = "WEEKLY", _("Weekly (每周)")
    MONTHLY = "MONTHLY", _("Monthly (每月)")
    QUARTERLY = "QUARTERLY", _("Quarterly (每季度)")
    ANNUAL = "ANNUAL", _("Yearly (每年)")
    IRREGULAR = "IRREG", _("Irregular (不定期)")
    NEVER = "NEVER", _("Not updated (不更新)")


class ResourceFormat(models.TextChoices):
    """格式 of the 政务信息资源目录: the kind of resource it is held as."""

    DATABASE = "database", _("Database (数据库)")
    SPREADSHEET = "spreadsheet", _("Spreadsheet (电子表格)")
    DOCUMENT = "document", _("Electronic document (电子文件)")
    IMAGE = "image", _("Graphics and images (图形图像)")
    STREAM = "stream", _("Streaming media (流媒体)")
    OTHER = "other", _("Other (其他)")


class SharingMethod(models.TextChoices):
    """共享方式: how another department receives the data."""

    API = "api", _("Data API (接口共享)")
    FILE = "file", _("File download (文件下载)")
    API_AND_FILE = "api_file", _("API and file download (接口和文件)")


class Language(models.TextChoices):
    """``dct:language``, as the EU language authority's codes (ISO 639-2/B)."""

    CHINESE = "ZHO", _("Chinese")
    ENGLISH = "ENG", _("English")


class Licence(models.TextChoices):
    """``dct:license`` of open data: the licence's URI."""

    CC_BY_4 = "https://creativecommons.org/licenses/by/4.0/", _("CC BY 4.0 (署名)")
    CC0 = "https://creativecommons.org/publicdomain/zero/1.0/", _("CC0 1.0 (公有领域)")


resource_code_validator = RegexValidator(
    r"^[0-9A-Za-z][0-9A-Za-z./-]{0,63}$",
    _("Letters, digits, '.', '/' and '-', e.g. 330100-HEAL-0001/001 (信息资源代码)."))


def _string_list(value: Any, what: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ValidationError(_("%(what)s must be a list of non-empty texts.") % {"what": what})


def validate_keywords(value: Any) -> None:
    _string_list(value, _("Keywords"))


def validate_themes(value: Any) -> None:
    _string_list(value, _("Themes"))
    if unknown := [item for item in value if item not in Theme.values]:
        raise ValidationError(_("Unknown theme(s): %(themes)s; use %(known)s.")
                              % {"themes": ", ".join(unknown), "known": ", ".join(Theme.values)})


def validate_related(value: Any) -> None:
    _string_list(value, _("Related resource codes"))
    for item in value:
        resource_code_validator(item)


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
                                   help_text=_("The law or regulation that governs sharing this data; required "
                                               "for conditional sharing and for not sharing (共享依据)."))
    sharing_conditions = models.TextField(
        blank=True, verbose_name=_("sharing conditions"),
        help_text=_("What a requesting department must meet, e.g. a case number (共享条件)."))
    sharing_method = models.CharField(max_length=16, choices=SharingMethod.choices, default=SharingMethod.API,
                                      verbose_name=_("sharing method"), help_text=_("共享方式."))
    open_conditions = models.TextField(blank=True, verbose_name=_("open conditions"),
                                       help_text=_("Conditions on reuse of open data, if any (开放条件)."))
    licence = models.CharField(max_length=200, choices=Licence.choices, blank=True, verbose_name=_("licence"),
                               help_text=_("The licence open data is published under; required for open data."))
    grade = models.CharField(max_length=16, choices=Grade.choices, default=Grade.GENERAL,
                             verbose_name=_("classification grade"),
                             help_text=_("GB/T 43697: core data can never be open."))
    personal_data = models.BooleanField(default=False, verbose_name=_("holds personal information"),
                                        help_text=_("Personal information can never be open; a dataset with "
                                                    "personal or sensitive fields must say so."))
    keywords = models.JSONField(default=list, blank=True, validators=[validate_keywords],
                                verbose_name=_("keywords"), help_text=_("Words people search for, e.g. 疫苗."))
    themes = models.JSONField(default=list, blank=True, validators=[validate_themes], verbose_name=_("themes"),
                              help_text=_("Subject themes (DCAT-AP data themes)."))
    resource_category = models.CharField(max_length=16, choices=ResourceCategory.choices,
                                         default=ResourceCategory.DEPARTMENTAL,
                                         verbose_name=_("resource category"), help_text=_("信息资源分类."))
    resource_code = models.CharField(max_length=64, blank=True, validators=[resource_code_validator],
                                     verbose_name=_("resource code"),
                                     help_text=_("The code in the government information resource catalogue "
                                                 "(信息资源代码)."))
    resource_format = models.CharField(max_length=16, choices=ResourceFormat.choices,
                                       default=ResourceFormat.DATABASE, verbose_name=_("format"),
                                       help_text=_("格式: what the data is held as."))
    related_resources = models.JSONField(default=list, blank=True, validators=[validate_related],
                                         verbose_name=_("related resource codes"),
                                         help_text=_("Codes of related resources (关联资源代码)."))
    update_frequency = models.CharField(max_length=16, choices=UpdateFrequency.choices,
                                        default=UpdateFrequency.IRREGULAR, verbose_name=_("update frequency"),
                                        help_text=_("How often the data is updated (更新周期)."))
    temporal_start = models.DateField(null=True, blank=True, verbose_name=_("covers from"),
                                      help_text=_("The first day the data covers."))
    temporal_end = models.DateField(null=True, blank=True, verbose_name=_("covers until"),
                                    help_text=_("The last day the data covers; empty while it is kept up to date."))
    spatial = models.CharField(max_length=200, blank=True, verbose_name=_("area covered"),
                               help_text=_("The administrative area the data covers, e.g. 杭州市."))
    language = models.CharField(max_length=3, choices=Language.choices, default=Language.CHINESE,
                                verbose_name=_("language"), help_text=_("The language of the data."))
    conforms_to = models.URLField(blank=True, verbose_name=_("conforms to"),
                                  help_text=_("The address of a standard the data follows, if any."))
    contact_name = models.CharField(max_length=200, blank=True, verbose_name=_("contact"),
                                    help_text=_("Who answers questions about the data (a desk, not a person's "
                                                "private number)."))
    contact_email = models.EmailField(blank=True, verbose_name=_("contact e-mail"),
                                      help_text=_("The contact's e-mail address."))
    contact_phone = models.CharField(max_length=40, blank=True, verbose_name=_("contact telephone"),
                                     help_text=_("The contact's office telephone."))
    status = models.CharField(max_length=16, choices=DatasetStatus.choices, default=DatasetStatus.DRAFT,
                              editable=False, verbose_name=_("status"),
                              help_text=_("Only a published dataset can be requested and read."))
    version = models.PositiveIntegerField(default=1, editable=False, verbose_name=_("version"),
                                          help_text=_("The dataset's version, recorded in the audit log when it "
                                                      "is published."))
    published_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("published at"),
                                        help_text=_("When the dataset was first published (发布日期)."))
    search_text = models.TextField(blank=True, editable=False, verbose_name=_("search text"),
                                   help_text=_("What search matches: the metadata and the fields' names and "
                                               "descriptions, kept by the catalogue's services (catalog.search)."))
    records_generation = models.PositiveIntegerField(
        default=0, editable=False, verbose_name=_("records generation"),
        help_text=_("Which generation of records is served; an import stages the next one, then switches."))
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"),
                                      help_text=_("When the dataset was registered."))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"),
                                      help_text=_("When the dataset was last changed."))

    class Meta:
        ordering = ["identifier"]
        verbose_name = _("dataset")
        verbose_name_plural = _("datasets")
        constraints = [models.UniqueConstraint(fields=["resource_code"], condition=~models.Q(resource_code=""),
                                               name="dataset_unique_resource_code")]

    def __str__(self) -> str:
        return f"{self.title} ({self.identifier})"

    @property
    def is_open(self) -> bool:
        """是否向社会开放: derived from the tier, never stored twice."""
        return self.tier == Tier.OPEN

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.tier == Tier.OPEN and self.grade == Grade.CORE:
            errors["tier"] = _("Core data (核心数据) can never be open: choose a sharing tier.")
        elif self.tier == Tier.OPEN and self.personal_data:
            errors["tier"] = _("A dataset holding personal information can never be open: choose a sharing tier.")
        if self.tier == Tier.NOT_SHARED and not self.legal_basis.strip():
            errors["legal_basis"] = _("A dataset that is not shared must cite its legal basis.")
        elif self.tier == Tier.CONDITIONAL and not self.legal_basis.strip():
            errors["legal_basis"] = _("Conditional sharing must cite its legal basis.")
        if self.status != DatasetStatus.DRAFT and not self.description.strip():
            errors["description"] = _("A published dataset needs a description (摘要): both catalogue standards "
                                      "require one.")
        if self.tier == Tier.OPEN and not self.licence:
            errors["licence"] = _("Open data needs a licence.")
        if self.temporal_start and self.temporal_end and self.temporal_end < self.temporal_start:
            errors["temporal_end"] = _("The coverage cannot end before it starts.")
        if errors:
            raise ValidationError(errors)


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


class MaskRule(models.TextChoices):
    """How a field's values are served: the dataset's default for every grant, which a grant may only tighten."""

    NONE = "none", _("None (不脱敏)")
    PARTIAL = "partial", _("Partial: keep the first and last characters (部分遮蔽)")
    GENERALISE = "generalise", _("Generalise: a date to its year, a number to a band (泛化)")
    PSEUDONYM = "pseudonym", _("Pseudonym per grant (假名化)")
    REDACT = "redact", _("Redact (删除)")


#: From least to most strict: a grant's rule for a field is the stricter of its own and the dataset's default.
MASK_STRICTNESS = {MaskRule.NONE: 0, MaskRule.PARTIAL: 1, MaskRule.GENERALISE: 2, MaskRule.PSEUDONYM: 3,
                   MaskRule.REDACT: 4}


def mask_rule_problem(rule: str, *, field_type: str, is_subject_identifier: bool) -> Any:
    """Why ``rule`` cannot mask a field of this type (a message), or None when it can."""
    if rule == MaskRule.PARTIAL and field_type != FieldType.STRING:
        return _("Partial masking keeps characters of text: choose it for a text field only.")
    if rule == MaskRule.GENERALISE and field_type not in (FieldType.DATE, FieldType.INTEGER, FieldType.NUMBER):
        return _("Generalising turns a date into its year and a number into a band: choose it for a date or a "
                 "number only.")
    if rule == MaskRule.PSEUDONYM and not (field_type == FieldType.STRING and is_subject_identifier):
        return _("A pseudonym replaces a citizen's or company's identifier: choose it for a text field marked as "
                 "a subject identifier only.")
    return None


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
    masking = models.CharField(max_length=16, choices=MaskRule.choices, default=MaskRule.NONE,
                               verbose_name=_("masking"),
                               help_text=_("How the values are served to every grant by default (脱敏); an approver "
                                           "may only make it stricter for one grant. Tightening it applies to "
                                           "existing grants at once; loosening it applies to new grants only."))
    mask_keep = models.PositiveSmallIntegerField(default=2, verbose_name=_("characters kept"),
                                                 help_text=_("Partial masking keeps this many characters at the "
                                                             "start and at the end."))
    mask_band = models.PositiveIntegerField(default=10, verbose_name=_("band width"),
                                            help_text=_("Generalising puts a number in a band this wide, e.g. "
                                                        "30-39 for 10."))

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

    def clean(self) -> None:
        problem = mask_rule_problem(self.masking, field_type=self.type,
                                    is_subject_identifier=self.is_subject_identifier)
        if problem is not None:
            raise ValidationError({"masking": problem})
        if self.mask_band == 0:
            raise ValidationError({"mask_band": _("The band width is at least 1.")})


class Record(models.Model):
    # No index of its own: the unique (dataset, generation, key) index serves every lookup by dataset. A
    # second, dataset-only index let PostgreSQL's planner, on stale statistics, look a staged key up among
    # all of the dataset's records (quadratic imports).
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="records", verbose_name=_("dataset"),
                                help_text=_("The dataset this record belongs to."), db_index=False)
    generation = models.PositiveIntegerField(
        default=0, verbose_name=_("generation"),
        help_text=_("Served while it equals the dataset's records generation (imports stage the next one)."))
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
        ordering = ["dataset", "generation", "key"]
        verbose_name = _("record")
        verbose_name_plural = _("records")
        constraints = [models.UniqueConstraint(fields=["dataset", "generation", "key"], name="record_unique_key")]

    def __str__(self) -> str:
        return f"{self.dataset.identifier}/{self.key}"


class DatasetVersion(models.Model):
    """A published version: its tier and schema as they were. Grants name the version they were approved for."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions", verbose_name=_("dataset"),
                                help_text=_("The dataset this is a version of."))
    number = models.PositiveIntegerField(verbose_name=_("version"), help_text=_("1 for the first publication."))
    tier = models.CharField(max_length=16, choices=Tier.choices, verbose_name=_("sharing tier"),
                            help_text=_("The tier this version was published with."))
    schema = models.JSONField(verbose_name=_("fields"),
                              help_text=_("The fields as published: name, type, sensitivity, key, subject id, "
                                          "description."))
    note = models.TextField(blank=True, verbose_name=_("what changed"),
                            help_text=_("The clerk's note on what changed and why."))
    published_at = models.DateTimeField(default=timezone.now, verbose_name=_("published at"),
                                        help_text=_("When this version was published."))
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+", verbose_name=_("published by"),
                                     help_text=_("The clerk who published it."))

    class Meta:
        ordering = ["dataset", "-number"]
        verbose_name = _("dataset version")
        verbose_name_plural = _("dataset versions")
        constraints = [models.UniqueConstraint(fields=["dataset", "number"], name="dataset_version_unique")]

    def __str__(self) -> str:
        return f"{self.dataset.identifier} v{self.number}"


# --- Imports: a file of records is checked (a dry run), then applied as a new records generation ---


class ImportFormat(models.TextChoices):
    CSV = "csv", _("CSV")
    XLSX = "xlsx", _("Excel workbook (XLSX)")
    JSONL = "jsonl", _("JSON Lines")


class ImportMode(models.TextChoices):
    UPSERT = "upsert", _("Upsert by key (keep the records the file does not name)")
    REPLACE = "replace", _("Replace all (the file becomes the whole dataset)")


class ImportState(models.TextChoices):
    UPLOADED = "uploaded", _("Uploaded, waiting to be checked")
    CHECKING = "checking", _("Being checked")
    CHECKED = "checked", _("Checked")
    APPLYING = "applying", _("Being loaded")
    APPLIED = "applied", _("Loaded")
    FAILED = "failed", _("Failed")
    DISCARDED = "discarded", _("Discarded")


class ImportJob(models.Model):
    """One uploaded file of records: checked first (the dry run and its report), then applied or not.

    The file stays on disk only until it is checked; its rows wait in ``ImportRow`` until the job is
    applied or discarded. ``progress_done`` / ``progress_total`` drive the admin's progress bar.
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="import_jobs",
                                verbose_name=_("dataset"), help_text=_("The dataset the records are loaded into."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("uploaded by"),
                                   help_text=_("The clerk who uploaded the file."))
    applied_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("loaded by"),
                                   help_text=_("The clerk who applied the checked file."))
    file_name = models.CharField(max_length=255, verbose_name=_("file name"),
                                 help_text=_("The name of the uploaded file, as the clerk's computer called it."))
    stored_name = models.CharField(max_length=100, blank=True, editable=False, verbose_name=_("stored as"),
                                   help_text=_("The file's name in the platform's import folder while it waits."))
    file_size = models.PositiveBigIntegerField(default=0, verbose_name=_("size (bytes)"),
                                               help_text=_("The file's size in bytes."))
    file_digest = models.CharField(max_length=64, verbose_name=_("SHA-256"),
                                   help_text=_("The SHA-256 of the file, as the audit events record it."))
    format = models.CharField(max_length=8, choices=ImportFormat.choices, verbose_name=_("format"),
                              help_text=_("CSV, XLSX or JSON Lines."))
    encoding = models.CharField(max_length=32, blank=True, verbose_name=_("encoding"),
                                help_text=_("The text encoding detected from the file's bytes (CSV)."))
    columns = models.JSONField(default=list, blank=True, verbose_name=_("columns"),
                               help_text=_("The field of each column, by position, when the clerk mapped the "
                                           "file's header (a proposed schema); empty: the header names the fields."))
    mode = models.CharField(max_length=8, choices=ImportMode.choices, default=ImportMode.UPSERT,
                            verbose_name=_("mode"), help_text=_("Replace all records, or upsert by key."))
    state = models.CharField(max_length=12, choices=ImportState.choices, default=ImportState.UPLOADED,
                             verbose_name=_("state"), help_text=_("Where the job is: checked, loaded, failed..."))
    progress_done = models.PositiveBigIntegerField(default=0, verbose_name=_("progress"),
                                                   help_text=_("Work done in the current step."))
    progress_total = models.PositiveBigIntegerField(default=0, verbose_name=_("progress total"),
                                                    help_text=_("Work of the current step (0: not known)."))
    rows = models.PositiveIntegerField(default=0, verbose_name=_("rows"), help_text=_("Rows read from the file."))
    problems = models.PositiveIntegerField(default=0, verbose_name=_("problems"),
                                           help_text=_("Row problems found; a job with problems cannot be applied."))
    existing = models.PositiveIntegerField(default=0, verbose_name=_("keys already loaded"),
                                           help_text=_("Rows whose key the dataset already has (when checked)."))
    created = models.PositiveIntegerField(default=0, verbose_name=_("created"), help_text=_("Records added."))
    updated = models.PositiveIntegerField(default=0, verbose_name=_("updated"), help_text=_("Records replaced."))
    deleted = models.PositiveIntegerField(default=0, verbose_name=_("deleted"),
                                          help_text=_("Records removed (replace all only)."))
    generation = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("records generation"),
                                             help_text=_("The records generation this job staged."))
    dataset_version = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("dataset version"),
                                                  help_text=_("The dataset's version the file was checked against; "
                                                              "its records are switched in only while the dataset "
                                                              "still has it."))
    error = models.TextField(blank=True, verbose_name=_("failure"), help_text=_("Why the job failed."))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("uploaded at"),
                                      help_text=_("When the file was uploaded."))
    checked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("checked at"),
                                      help_text=_("When the check finished."))
    applied_at = models.DateTimeField(null=True, blank=True, verbose_name=_("loaded at"),
                                      help_text=_("When the records were switched to this file's."))
    heartbeat_at = models.DateTimeField(default=timezone.now, verbose_name=_("last progress"),
                                        help_text=_("When the job last made progress; a job silent for long is "
                                                    "taken as stopped."))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        constraints = [
            # One import at a time per dataset: a second apply is refused by the database itself.
            models.UniqueConstraint(fields=["dataset"], condition=models.Q(state="applying"),
                                    name="import_one_applying_per_dataset"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id}: {self.file_name} ({self.state})"


class ImportProblemKind(models.TextChoices):
    WRONG_HEADER = "wrong_header", _("Wrong header")
    WRONG_TYPE = "wrong_type", _("Wrong type")
    MISSING_VALUE = "missing_value", _("Missing required value")
    DUPLICATE_KEY = "duplicate_key", _("Duplicate key")
    INVALID_KEY = "invalid_key", _("Unusable key")
    UNDECODABLE = "undecodable", _("Undecodable text")
    MERGED_CELL = "merged_cell", _("Merged cell")
    FORMULA_CELL = "formula_cell", _("Formula cell")
    MALFORMED = "malformed", _("Malformed row")


class ImportProblem(models.Model):
    """One row problem of a check (the first ``MAX_STORED_PROBLEMS`` of a job; the job counts them all).

    ``value`` is shortened, and masked for personal fields and subject identifiers: never the raw value.
    """

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="problem_rows",
                            verbose_name=_("import"), help_text=_("The import this problem was found in."))
    line = models.PositiveIntegerField(verbose_name=_("line"),
                                       help_text=_("Line of the file (CSV, JSON Lines) or row of the sheet (XLSX); "
                                                   "1 is the header."))
    column = models.CharField(max_length=255, blank=True, verbose_name=_("column"),
                              help_text=_("The column (field) of the problem, if it is in one cell."))
    kind = models.CharField(max_length=16, choices=ImportProblemKind.choices, verbose_name=_("problem"),
                            help_text=_("What kind of problem it is."))
    value = models.CharField(max_length=100, blank=True, verbose_name=_("value"),
                             help_text=_("The cell's value, shortened; masked for personal fields."))
    message = models.CharField(max_length=500, verbose_name=_("what to fix"),
                               help_text=_("What is wrong and how to fix it."))
    other_line = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("other line"),
                                             help_text=_("For a duplicate key: the line that has it first."))

    class Meta:
        ordering = ["job", "line", "id"]
        verbose_name = _("import problem")
        verbose_name_plural = _("import problems")

    def __str__(self) -> str:
        return f"{self.line}:{self.column} {self.kind}"


class ImportRow(models.Model):
    """A checked row waiting to be applied (the staging table): its key and its typed values.

    Duplicate keys are found here with SQL (GROUP BY), and the apply copies these rows into the next
    records generation with INSERT ... SELECT, so neither holds the file in memory.
    """

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="+", verbose_name=_("import"),
                            help_text=_("The import this row belongs to."))
    line = models.PositiveIntegerField(verbose_name=_("line"), help_text=_("Where the row starts in the file."))
    key = models.CharField(max_length=255, verbose_name=_("record key"), help_text=_("The row's lookup key."))
    data = models.JSONField(verbose_name=_("data"), help_text=_("The row's values, by field name."))

    class Meta:
        verbose_name = _("staged row")
        verbose_name_plural = _("staged rows")
        indexes = [models.Index(fields=["job", "key"], name="import_row_job_key"),
                   models.Index(fields=["job", "line"], name="import_row_job_line")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.line}"
