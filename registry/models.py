"""The registry: who is who. Departments, people's roles in them, systems and their public keys."""

import datetime as dt

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from core.crypto import load_ed25519_public_key


class Department(models.Model):
    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    CLERK = "clerk", "Clerk"
    APPROVER = "approver", "Approver"
    AUDITOR = "auditor", "Auditor"
    ADMIN = "admin", "Department admin"


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "department", "role"], name="membership_unique_role"),
        ]

    def __str__(self) -> str:
        return f"{self.user} - {self.get_role_display()} of {self.department}"


class PlatformRoleName(models.TextChoices):
    """Roles that are not of one department but of the whole platform."""

    DATA_AUTHORITY = "data_authority", "Data authority"  # 数据主管部门: overdue requests escalate to it
    OPERATOR = "operator", "Platform operator"  # 平台运维方: departments, people, lockouts


class PlatformRole(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="platform_roles")
    role = models.CharField(max_length=32, choices=PlatformRoleName.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="platformrole_unique")]

    def __str__(self) -> str:
        return f"{self.user} - {self.get_role_display()}"


class System(models.Model):
    """A department's software that calls the signed exchange API."""

    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="systems")
    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.department.code})"


key_id_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._:-]{2,127}$",
    "A key id is 3-128 characters: letters, digits and . _ : - (starting with a letter or digit).",
)


def default_key_expiry() -> dt.datetime:
    return timezone.now() + dt.timedelta(days=365)


class SystemKey(models.Model):
    """An Ed25519 public key of a system. The private key stays with the system."""

    ALGORITHM = "ed25519"

    system = models.ForeignKey(System, on_delete=models.PROTECT, related_name="keys")
    key_id = models.CharField(max_length=128, unique=True, validators=[key_id_validator],
                              help_text="The `keyid` the system puts in its signatures.")
    algorithm = models.CharField(max_length=16, default=ALGORITHM, editable=False)
    public_key = models.TextField(help_text="PEM (-----BEGIN PUBLIC KEY-----).")
    not_before = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(default=default_key_expiry)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revocation_reason = models.CharField(max_length=200, blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, editable=False,
                                   on_delete=models.SET_NULL, related_name="+")
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, editable=False,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["system", "-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(expires_at__gt=models.F("not_before")),
                                   name="systemkey_expires_after_not_before"),
        ]

    def __str__(self) -> str:
        return self.key_id

    def clean(self) -> None:
        if self.public_key:
            load_ed25519_public_key(self.public_key)
        if self.not_before and self.expires_at and self.expires_at <= self.not_before:
            raise ValidationError({"expires_at": "The expiry must be after the not-before time."})

    def public_key_object(self) -> Ed25519PublicKey:
        return load_ed25519_public_key(self.public_key)

    def is_usable_at(self, when: dt.datetime) -> bool:
        return self.revoked_at is None and self.not_before <= when < self.expires_at


class UsedNonce(models.Model):
    """Nonces already seen, per key, kept until their signature could no longer be accepted anyway."""

    key_id = models.CharField(max_length=128)
    nonce = models.CharField(max_length=128)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key_id", "nonce"], name="usednonce_unique")]

    def __str__(self) -> str:
        return f"nonce of {self.key_id}"
