"""Registering and revoking systems' keys: clerks of the system's department only, both audited."""

import datetime as dt
import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils import timezone

from audit.models import AuditEvent
from core.errors import PlatformError
from exchange import client as consumer
from registry.models import SystemKey
from registry.services import system_key_register, system_key_revoke

pytestmark = pytest.mark.django_db


@pytest.fixture
def public_pem() -> str:
    return consumer.public_pem(Ed25519PrivateKey.generate().public_key())


def test_a_clerk_registers_a_key_and_the_log_names_its_fingerprint(police_system: Any, police_clerk: Any,
                                                                   public_pem: str) -> None:
    key = system_key_register(system=police_system, key_id="police-rms-7", public_key=public_pem, actor=police_clerk)
    assert key.created_by == police_clerk and key.revoked_at is None
    event = AuditEvent.objects.get()
    assert (event.action, event.object_id, event.actor_id) == ("system_key.registered", "police-rms-7", "police-clerk")
    raw = key.public_key_object().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert event.detail["fingerprint"] == hashlib.sha256(raw).hexdigest()
    assert event.detail["system"] == "police-rms"


def test_a_clerk_of_another_department_may_not_register_keys(police_system: Any, health_clerk: Any,
                                                             public_pem: str) -> None:
    with pytest.raises(PlatformError) as caught:
        system_key_register(system=police_system, key_id="police-rms-7", public_key=public_pem, actor=health_clerk)
    assert caught.value.status == 403
    assert not SystemKey.objects.exists() and not AuditEvent.objects.exists()


@pytest.mark.parametrize(("pem", "message"), [
    ("not a key", "Paste the PEM public key"),
    (consumer.public_pem(Ed25519PrivateKey.generate().public_key()).replace("BEGIN", "BEGUN"), "Paste the PEM"),
])
def test_a_key_that_is_not_an_ed25519_pem_is_refused(police_system: Any, police_clerk: Any, pem: str,
                                                     message: str) -> None:
    with pytest.raises(PlatformError) as caught:
        system_key_register(system=police_system, key_id="police-rms-7", public_key=pem, actor=police_clerk)
    assert (caught.value.status, caught.value.code) == (400, "invalid_key")
    assert message in caught.value.message
    assert not SystemKey.objects.exists() and not AuditEvent.objects.exists()


def test_an_rsa_key_is_refused(police_system: Any, police_clerk: Any) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.raises(PlatformError, match="Only Ed25519"):
        system_key_register(system=police_system, key_id="police-rms-7", public_key=pem, actor=police_clerk)


def test_a_key_id_in_use_or_an_expiry_before_not_before_is_refused(police_key: Any, police_system: Any,
                                                                   police_clerk: Any, public_pem: str) -> None:
    with pytest.raises(PlatformError, match="already exists"):
        system_key_register(system=police_system, key_id=police_key.key_id, public_key=public_pem,
                            actor=police_clerk)
    now = timezone.now()
    with pytest.raises(PlatformError, match="after the not-before"):
        system_key_register(system=police_system, key_id="police-rms-8", public_key=public_pem, actor=police_clerk,
                            not_before=now, expires_at=now - dt.timedelta(days=1))


def test_revoking_is_audited_once(police_key: Any, police_clerk: Any) -> None:
    system_key_revoke(key=police_key, actor=police_clerk, reason="laptop stolen")
    system_key_revoke(key=police_key, actor=police_clerk, reason="again")
    police_key.refresh_from_db()
    assert police_key.revoked_by == police_clerk and police_key.revocation_reason == "laptop stolen"
    assert list(AuditEvent.objects.values_list("action", "detail")) == [
        ("system_key.revoked", {"system": "police-rms", "reason": "laptop stolen"})]


def test_a_clerk_of_another_department_may_not_revoke(police_key: Any, health_clerk: Any) -> None:
    with pytest.raises(PlatformError) as caught:
        system_key_revoke(key=police_key, actor=health_clerk, reason="mischief")
    assert caught.value.status == 403
    police_key.refresh_from_db()
    assert police_key.revoked_at is None


def test_a_key_is_not_registered_when_its_audit_event_cannot_be_written(police_system: Any, police_clerk: Any,
                                                                        public_pem: str) -> None:
    from django.db import DatabaseError

    from tests.conftest import audit_inserts_refused

    with audit_inserts_refused(), pytest.raises(DatabaseError):
        system_key_register(system=police_system, key_id="police-rms-7", public_key=public_pem, actor=police_clerk)
    assert not SystemKey.objects.exists()
