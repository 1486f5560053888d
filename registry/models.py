"""The registry: who is who. Departments, people's roles in them, systems and their public keys."""

import datetime as dt

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.crypto import load_ed25519_public_key


class Department(models.Model):
    code = models.SlugField(max_length=64, unique=True, verbose_name=_("code"),
                            help_text=_("A short, stable code, e.g. health; the audit log names the department by it."))
    name = models.CharField(max_length=200, verbose_name=_("name"), help_text=_("The department's full name."))
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
                               verbose_name=_("parent department"),
                               help_text=_("The department it belongs to, if any."))
    active = models.BooleanField(default=True, verbose_name=_("active"),
                                 help_text=_("A deactivated department's people lose their roles and its systems "
                                             "are refused."))

    class Meta:
        ordering = ["name"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    CLERK = "clerk", _("Clerk")
    APPROVER = "approver", _("Approver")
    AUDITOR = "auditor", _("Auditor")
    ADMIN = "admin", _("Department admin")


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships",
                             verbose_name=_("person"), help_text=_("The person who holds the role."))
    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="memberships",
                                   verbose_name=_("department"), help_text=_("The department the role is held in."))
    role = models.CharField(max_length=16, choices=Role.choices, verbose_name=_("role"),
                            help_text=_("Clerks publish datasets, file requests and manage systems; approvers "
                                        "decide requests; auditors read the audit log; department admins can also "
                                        "manage the department's people."))

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "department", "role"], name="membership_unique_role"),
        ]

    def __str__(self) -> str:
        return gettext("%(user)s - %(role)s of %(department)s") % {
            "user": self.user, "role": self.get_role_display(), "department": self.department}


class PlatformRoleName(models.TextChoices):
    """Roles that are not of one department but of the whole platform."""

    DATA_AUTHORITY = "data_authority", _("Data authority")  # 数据主管部门: overdue requests escalate to it
    OPERATOR = "operator", _("Platform operator")  # 平台运维方: departments, people, lockouts


class PlatformRole(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="platform_roles",
                             verbose_name=_("person"), help_text=_("The person who holds the role."))
    role = models.CharField(max_length=32, choices=PlatformRoleName.choices, verbose_name=_("role"),
                            help_text=_("The data authority receives escalated requests; the platform operator "
                                        "manages departments and people."))

    class Meta:
        verbose_name = _("platform role")
        verbose_name_plural = _("platform roles")
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="platformrole_unique")]

    def __str__(self) -> str:
        return f"{self.user} - {self.get_role_display()}"


class System(models.Model):
    """A department's software that calls the signed exchange API."""

    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="systems",
                                   verbose_name=_("department"), help_text=_("The department that runs the system."))
    code = models.SlugField(max_length=64, unique=True, verbose_name=_("code"),
                            help_text=_("A short, stable code, e.g. police-rms; the audit log names the system by it."))
    name = models.CharField(max_length=200, verbose_name=_("name"), help_text=_("The system's full name."))
    active = models.BooleanField(default=True, verbose_name=_("active"),
                                 help_text=_("A deactivated system's keys are refused from the next request on."))
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"),
                                      help_text=_("When the system was registered."))

    class Meta:
        ordering = ["code"]
        verbose_name = _("system")
        verbose_name_plural = _("systems")

    def __str__(self) -> str:
        return f"{self.name} ({self.department.code})"


key_id_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._:-]{2,127}$",
    _("A key id is 3-128 characters: letters, digits and . _ : - (starting with a letter or digit)."),
)


def default_key_expiry() -> dt.datetime:
    return timezone.now() + dt.timedelta(days=365)


class SystemKey(models.Model):
    """An Ed25519 public key of a system. The private key stays with the system."""

    ALGORITHM = "ed25519"

    system = models.ForeignKey(System, on_delete=models.PROTECT, related_name="keys", verbose_name=_("system"),
                               help_text=_("The system that signs with this key."))
    key_id = models.CharField(max_length=128, unique=True, validators=[key_id_validator], verbose_name=_("key id"),
                              help_text=_("The `keyid` the system puts in its signatures."))
    algorithm = models.CharField(max_length=16, default=ALGORITHM, editable=False, verbose_name=_("algorithm"),
                                 help_text=_("The signature algorithm; always Ed25519."))
    public_key = models.TextField(verbose_name=_("public key"), help_text=_("PEM (-----BEGIN PUBLIC KEY-----)."))
    not_before = models.DateTimeField(default=timezone.now, verbose_name=_("valid from"),
                                      help_text=_("Signatures made with the key are accepted from this time."))
    expires_at = models.DateTimeField(default=default_key_expiry, verbose_name=_("expires at"),
                                      help_text=_("Signatures made with the key are refused from this time."))
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False,
                                      verbose_name=pgettext_lazy("system key", "revoked at"),
                                      help_text=_("Set when the key was revoked; its signatures are refused from "
                                                  "then on."))
    revocation_reason = models.CharField(max_length=200, blank=True, editable=False,
                                         verbose_name=_("reason for revocation"),
                                         help_text=_("Why the key was revoked, e.g. the private key was exposed."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, editable=False,
                                   on_delete=models.SET_NULL, related_name="+", verbose_name=_("registered by"),
                                   help_text=_("The person who registered the key."))
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, editable=False,
                                   on_delete=models.SET_NULL, related_name="+",
                                   verbose_name=pgettext_lazy("system key", "revoked by"),
                                   help_text=_("The person who revoked the key."))
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"),
                                      help_text=_("When the key was registered."))

    class Meta:
        ordering = ["system", "-created_at"]
        verbose_name = _("system key")
        verbose_name_plural = _("system keys")
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
            raise ValidationError({"expires_at": _("The expiry must be after the not-before time.")})

    def public_key_object(self) -> Ed25519PublicKey:
        return load_ed25519_public_key(self.public_key)

    def is_usable_at(self, when: dt.datetime) -> bool:
        return self.revoked_at is None and self.not_before <= when < self.expires_at


class UsedNonce(models.Model):
    """Nonces already seen, per key, kept until their signature could no longer be accepted anyway."""

    key_id = models.CharField(max_length=128, verbose_name=_("key id"),
                              help_text=_("The key whose signature carried the nonce."))
    nonce = models.CharField(max_length=128, verbose_name=_("nonce"),
                             help_text=_("The signature's nonce; the same nonce is refused as a replay."))
    expires_at = models.DateTimeField(db_index=True, verbose_name=_("kept until"),
                                      help_text=_("After this time the signature would be refused anyway."))

    class Meta:
        verbose_name = _("used nonce")
        verbose_name_plural = _("used nonces")
        constraints = [models.UniqueConstraint(fields=["key_id", "nonce"], name="usednonce_unique")]

    def __str__(self) -> str:
        return gettext("nonce of %(key_id)s") % {"key_id": self.key_id}


class AccessVersion(models.Model):
    """One counter, bumped in the same transaction as any change to what the signed exchange checks
    (departments, systems, keys, datasets, fields, grants). Processes keep those in memory and reload
    when it moves, so a revoked key or grant is refused on its very next use."""

    value = models.BigIntegerField(default=0, verbose_name=_("value"))

    class Meta:
        verbose_name = _("access version")
        verbose_name_plural = _("access versions")

    def __str__(self) -> str:
        return str(self.value)


class SecondFactor(TOTPDevice):
    """A person's authenticator (django-otp's TOTP device), as the platform operator sees it to reset it."""

    class Meta:
        proxy = True
        verbose_name = _("second factor")
        verbose_name_plural = _("second factors")
