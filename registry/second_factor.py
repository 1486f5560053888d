"""A second factor (TOTP, django-otp) for the people whose password alone would open too much.

Approvers, auditors, department admins, the platform's data authority and operator, and superusers
must pass one after their password before the admin lets them in (``TWO_FACTOR_REQUIRED``, on by
default). A person enrols an authenticator app once, from a QR code, and receives recovery codes, each
good for one sign-in without the app. Throttling of wrong codes is django-otp's (each failure doubles the
wait); every enrolment, pass, failure and reset is an audit event, never with the code.
"""

import base64
import io
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.qr import write_qrcode_image

from audit.events import EventType
from audit.models import Outcome
from audit.services import Actor, event_record
from core.errors import ErrorCode, PlatformError

from .models import Role
from .policy import Perm, held_roles, is_superuser, require
from .services import sessions_end

#: Department roles whose holders need a second factor (a clerk's reach is their own department's work).
ROLES_REQUIRING = frozenset({Role.APPROVER, Role.AUDITOR, Role.ADMIN})
RECOVERY_CODES = 10
#: The names of a person's devices: one authenticator, one set of recovery codes.
AUTHENTICATOR, RECOVERY = "authenticator", "recovery codes"


def second_factor_required(user: Any) -> bool:
    """Whether ``user`` must pass a second factor to use the admin."""
    if not settings.TWO_FACTOR_REQUIRED or not getattr(user, "is_authenticated", False):
        return False
    roles = held_roles(user)
    return is_superuser(user) or bool(roles.platform) or any(
        held & ROLES_REQUIRING for held in roles.by_department.values())


def authenticator(user: Any) -> TOTPDevice | None:
    """The person's enrolled (confirmed) authenticator, if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def enrolment_start(*, user: Any) -> TOTPDevice:
    """A new authenticator waiting to be confirmed by its first code (kept across reloads of the page)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False, name=AUTHENTICATOR).first()
    return device or TOTPDevice.objects.create(user=user, confirmed=False, name=AUTHENTICATOR)


def enrolment_qr(device: TOTPDevice) -> str:
    """The authenticator's ``otpauth://`` address as an SVG QR code, in a data: URI for an <img>."""
    out = io.BytesIO()
    write_qrcode_image(device.config_url, out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def enrolment_secret(device: TOTPDevice) -> str:
    """The secret as an app takes it typed in: base32, in groups of four."""
    secret = base64.b32encode(device.bin_key).decode()
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def _record(user: Any, action: EventType, ip: str, *, refused: bool = False, **detail: Any) -> None:
    event_record(actor=Actor.for_user(user), action=action, object_id=user.get_username()[:128],
                 detail={"ip": ip[:45], **detail}, outcome=Outcome.REFUSED if refused else Outcome.OK,
                 reason="second_factor_failed" if refused else "")


def _recovery_codes_new(user: Any) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def enrolment_confirm(*, user: Any, device: TOTPDevice, token: str, ip: str) -> list[str]:
    """The first code from the app confirms the authenticator; it replaces any earlier one, and new recovery
    codes replace the old ones. Returns the codes, to be shown once."""
    if device.user_id != user.pk or device.confirmed:
        raise PlatformError(ErrorCode.INVALID_INPUT, _("Start the set-up again: this authenticator is not waiting."))
    if not device.verify_token(_digits(token)):
        with transaction.atomic():
            _record(user, EventType.USER_SECOND_FACTOR_FAILED, ip, refused=True, method="enrolment")
        raise PlatformError(ErrorCode.INVALID_INPUT, _(
            "That code is not right. Check that the app shows the platform's entry, that the phone's clock is "
            "correct, and type the code it shows now."))
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _recovery_codes_new(user)
        _record(user, EventType.USER_SECOND_FACTOR_ENROLLED, ip, recovery_codes=len(codes))
    return codes


def _digits(token: str) -> str:
    return "".join(token.split())


def second_factor_check(*, user: Any, token: str, ip: str) -> TOTPDevice | StaticDevice | None:
    """A code from the authenticator (six digits), or one recovery code (used up). Returns the device that
    accepted it, or None (audited either way; wrong codes are throttled, each failure doubling the wait)."""
    token = _digits(token).lower()
    device: TOTPDevice | StaticDevice | None
    if len(token) == 6 and token.isdigit():
        device, method = authenticator(user), "authenticator"
    else:
        device, method = StaticDevice.objects.filter(user=user, confirmed=True).first(), "recovery_code"
    if device is None or not device.verify_token(token):
        with transaction.atomic():
            _record(user, EventType.USER_SECOND_FACTOR_FAILED, ip, refused=True, method=method)
        return None
    detail = {"remaining": StaticToken.objects.filter(device=device).count()} if method == "recovery_code" else {}
    with transaction.atomic():
        _record(user, EventType.USER_SECOND_FACTOR_PASSED, ip, method=method, **detail)
    return device


def recovery_codes_left(user: Any) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def second_factor_reset(*, actor: Any, user: Any) -> None:
    """The platform operator removes a person's authenticator and recovery codes (a lost phone and no codes
    left); the person enrols again at their next sign-in. Their sessions end. Audited."""
    require(actor, Perm.SECOND_FACTOR_RESET, message=_("Only the platform operator resets a second factor."))
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        event_record(actor=Actor.for_user(actor), action=EventType.USER_SECOND_FACTOR_RESET,
                     object_id=user.get_username()[:128], detail={"username": user.get_username()})
        sessions_end(user=user)
