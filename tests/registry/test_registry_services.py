"""Every change to who may do what is an audit event with the old and the new values."""

from typing import Any

import pytest
from django.test import Client

from audit.models import AuditEvent
from core.errors import PlatformError
from registry.models import Department, Membership, PlatformRole, PlatformRoleName, Role, System
from registry.services import (
    department_change,
    department_register,
    membership_change,
    membership_grant,
    membership_revoke,
    platform_role_grant,
    platform_role_revoke,
    system_change,
    system_register,
)
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(db: None) -> Any:
    user = make_user("operator", None)
    PlatformRole.objects.create(user=user, role=PlatformRoleName.OPERATOR)
    return user


@pytest.fixture
def police_admin(police: Department) -> Any:
    return make_user("police-admin", police, Role.ADMIN)


def last(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).latest("id")


def test_the_operator_registers_and_renames_a_department(operator: Any, health: Department) -> None:
    transport = department_register(actor=operator, code="transport", name="Transport Bureau")
    event = last("department.registered")
    assert (event.actor_id, event.object_id) == ("operator", "transport")
    assert event.detail == {"new": {"code": "transport", "name": "Transport Bureau", "active": True, "parent": None}}
    department_change(actor=operator, department=transport, name="交通运输局", parent=health, active=False)
    event = last("department.changed")
    assert event.detail == {"changed": ["active", "name", "parent"],
                            "old": {"active": True, "name": "Transport Bureau", "parent": None},
                            "new": {"active": False, "name": "交通运输局", "parent": "health"}}


def test_a_clerk_cannot_register_a_department_and_nothing_is_logged(health_clerk: Any) -> None:
    with pytest.raises(PlatformError) as caught:
        department_register(actor=health_clerk, code="x", name="X")
    assert caught.value.code == "forbidden"
    assert not Department.objects.filter(code="x").exists() and not AuditEvent.objects.exists()


def test_a_department_cannot_be_placed_under_itself(operator: Any, health: Department) -> None:
    child = department_register(actor=operator, code="clinics", name="Clinics", parent=health)
    with pytest.raises(PlatformError, match="under itself"):
        department_change(actor=operator, department=health, name=health.name, parent=child, active=True)


def test_granting_changing_and_revoking_a_role_are_each_evidence(police_admin: Any, police: Department) -> None:
    officer = make_user("officer", police, Role.CLERK)
    membership = membership_grant(actor=police_admin, user=officer, department=police, role=Role.APPROVER)
    assert last("membership.granted").detail == {"user": "officer", "department": "police", "role": "approver"}
    membership_change(actor=police_admin, membership=membership, user=officer, department=police, role=Role.ADMIN)
    assert last("membership.changed").detail == {"changed": ["role"], "old": {"role": "approver"},
                                                 "new": {"role": "admin"}}
    membership_revoke(actor=police_admin, membership=membership)
    assert last("membership.revoked").detail == {"user": "officer", "department": "police", "role": "admin"}
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_a_department_admin_cannot_turn_a_clerk_into_an_auditor(police_admin: Any, police: Department) -> None:
    officer = make_user("officer", police, Role.CLERK)
    membership = Membership.objects.get(user=officer)
    with pytest.raises(PlatformError, match="auditor role"):
        membership_change(actor=police_admin, membership=membership, user=officer, department=police,
                          role=Role.AUDITOR)
    assert Membership.objects.get(pk=membership.pk).role == Role.CLERK


def test_a_department_admin_cannot_move_a_membership_to_another_department(police_admin: Any, police: Department,
                                                                          health: Department) -> None:
    officer = make_user("officer", police, Role.CLERK)
    membership = Membership.objects.get(user=officer)
    with pytest.raises(PlatformError) as caught:
        membership_change(actor=police_admin, membership=membership, user=officer, department=health, role=Role.CLERK)
    assert caught.value.code == "forbidden"
    assert not AuditEvent.objects.filter(action="membership.changed").exists()


def test_a_superuser_grants_and_revokes_a_platform_role(root: Any, health_clerk: Any) -> None:
    granted = platform_role_grant(actor=root, user=health_clerk, role=PlatformRoleName.DATA_AUTHORITY)
    assert last("platform_role.granted").detail == {"user": "health-clerk", "role": "data_authority"}
    platform_role_revoke(actor=root, platform_role=granted)
    assert last("platform_role.revoked").detail == {"user": "health-clerk", "role": "data_authority"}


def test_only_a_superuser_grants_platform_roles(operator: Any, health_clerk: Any) -> None:
    with pytest.raises(PlatformError, match="superuser"):
        platform_role_grant(actor=operator, user=health_clerk, role=PlatformRoleName.OPERATOR)
    assert not PlatformRole.objects.filter(user=health_clerk).exists()


def test_registering_renaming_and_deactivating_a_system(police_clerk: Any, police: Department) -> None:
    system = system_register(actor=police_clerk, department=police, code="police-gis", name="GIS")
    assert last("system.registered").detail == {
        "new": {"code": "police-gis", "name": "GIS", "department": "police", "active": True}}
    system_change(actor=police_clerk, system=system, name="Police GIS", active=True)
    assert last("system.changed").detail == {"changed": ["name"], "old": {"name": "GIS"},
                                             "new": {"name": "Police GIS"}}
    system_change(actor=police_clerk, system=system, name="Police GIS", active=False)
    assert last("system.deactivated").detail == {"changed": ["active"], "old": {"active": True},
                                                 "new": {"active": False}}
    system_change(actor=police_clerk, system=system, name="Police GIS", active=True)
    assert last("system.reactivated").actor_id == "police-clerk"


def test_a_clerk_cannot_register_a_system_for_another_department(health_clerk: Any, police: Department) -> None:
    with pytest.raises(PlatformError) as caught:
        system_register(actor=health_clerk, department=police, code="x-sys", name="X")
    assert caught.value.code == "forbidden"
    assert not System.objects.filter(code="x-sys").exists()


def test_a_bad_code_is_a_400_that_says_what_to_fix_and_saves_nothing(police_clerk: Any, police: Department) -> None:
    with pytest.raises(PlatformError) as caught:
        system_register(actor=police_clerk, department=police, code="not a slug!", name="X")
    assert (caught.value.status, caught.value.code) == (400, "invalid_input")
    assert "code" in caught.value.detail
    assert not AuditEvent.objects.exists()


def test_an_unchanged_save_records_nothing(police_clerk: Any, police_system: System) -> None:
    system_change(actor=police_clerk, system=police_system, name=police_system.name, active=True)
    assert not AuditEvent.objects.exists()


def test_deactivating_a_system_in_the_admin_is_in_the_log(police_clerk: Any, police_system: System) -> None:
    http = Client()
    http.force_login(police_clerk)
    response = http.post(f"/admin/registry/system/{police_system.pk}/change/", {
        "name": police_system.name, "keys-TOTAL_FORMS": "0", "keys-INITIAL_FORMS": "0"})
    assert response.status_code == 302, response.content.decode()[:1000]
    event = last("system.deactivated")
    assert (event.actor_id, event.object_id, event.detail["new"]) == ("police-clerk", "police-rms",
                                                                      {"active": False})


def test_the_auditor_role_granted_in_the_admin_is_in_the_log(root: Any, auditor: Any, audit_office: Any) -> None:
    newcomer = make_user("newcomer", None)
    http = Client()
    http.force_login(root)
    response = http.post("/admin/registry/membership/add/", {
        "user": newcomer.pk, "department": audit_office.pk, "role": Role.AUDITOR})
    assert response.status_code == 302
    event = last("membership.granted")
    assert (event.actor_id, event.detail) == ("root", {"user": "newcomer", "department": "audit-office",
                                                       "role": "auditor"})


# --- Signing in and out ---

def test_a_sign_in_a_failed_one_and_a_sign_out_are_evidence_without_the_password(health_clerk: Any) -> None:
    http = Client()
    assert http.post("/admin/login/", {"username": "health-clerk", "password": "wrong one"}).status_code == 200
    assert http.post("/admin/login/", {"username": "health-clerk",
                                       "password": "correct horse battery staple"}).status_code == 302
    assert http.post("/admin/logout/").status_code == 200
    events = list(AuditEvent.objects.order_by("id").values_list("action", "actor_type", "actor_id", "outcome"))
    assert events == [("user.login_failed", "anonymous", "health-clerk", "refused"),
                      ("user.logged_in", "user", "health-clerk", "ok"),
                      ("user.logged_out", "user", "health-clerk", "ok")]
    for event in AuditEvent.objects.all():
        assert "wrong one" not in event.canonical_leaf().decode()
        assert event.detail == {"ip": "127.0.0.1"}


def test_a_failed_sign_in_for_an_unknown_account_is_logged_as_anonymous(db: None) -> None:
    Client().post("/admin/login/", {"username": "nobody", "password": "guess"})
    event = AuditEvent.objects.get()
    assert (event.action, event.actor_type, event.reason) == ("user.login_failed", "anonymous", "login_failed")
