"""Department admins manage their department's memberships, but never hand out the auditor role."""

from typing import Any

import pytest
from django.test import Client

from audit.models import AuditEvent
from registry.models import Membership, PlatformRole, PlatformRoleName, Role
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def police_admin(police: Any) -> Any:
    return make_user("police-admin", police, Role.ADMIN)


def add_membership(actor: Any, **data: Any) -> Any:
    http = Client()
    http.force_login(actor)
    return http.post("/admin/registry/membership/add/", data)


def test_a_department_admin_gives_a_role_to_a_person_of_their_department(police_admin: Any, police: Any) -> None:
    officer = make_user("officer", police, Role.CLERK)
    response = add_membership(police_admin, user=officer.pk, department=police.pk, role=Role.APPROVER)
    assert response.status_code == 302
    membership = Membership.objects.get(user=officer, department=police, role=Role.APPROVER)
    event = AuditEvent.objects.get(action="membership.granted")
    assert (event.actor_id, event.object_id) == ("police-admin", str(membership.pk))
    assert event.detail == {"user": "officer", "department": "police", "role": "approver"}


def test_a_department_admin_cannot_pick_from_every_account_on_the_platform(police_admin: Any, police: Any,
                                                                           health_clerk: Any) -> None:
    officer = make_user("officer", police, Role.CLERK)
    http = Client()
    http.force_login(police_admin)
    offered = http.get("/admin/registry/membership/add/").context["adminform"].form.fields["user"].queryset
    assert set(offered) == {police_admin, officer}
    response = add_membership(police_admin, user=health_clerk.pk, department=police.pk, role=Role.CLERK)
    assert response.status_code == 200  # the form comes back with an error
    assert not Membership.objects.filter(user=health_clerk, department=police).exists()
    assert not AuditEvent.objects.filter(action="membership.granted").exists()


def test_the_platform_operator_enrols_anyone(police: Any, health_clerk: Any) -> None:
    operator = make_user("operator", None)
    PlatformRole.objects.create(user=operator, role=PlatformRoleName.OPERATOR)
    response = add_membership(operator, user=health_clerk.pk, department=police.pk, role=Role.CLERK)
    assert response.status_code == 302
    assert Membership.objects.filter(user=health_clerk, department=police, role=Role.CLERK).exists()


def test_a_department_admin_cannot_grant_the_auditor_role(police_admin: Any, police: Any) -> None:
    response = add_membership(police_admin, user=police_admin.pk, department=police.pk, role=Role.AUDITOR)
    assert response.status_code == 200  # the form comes back with an error
    assert "not one of the available choices" in response.content.decode()
    assert not Membership.objects.filter(role=Role.AUDITOR).exists()


def test_a_department_admin_cannot_add_members_to_another_department(police_admin: Any, health: Any) -> None:
    response = add_membership(police_admin, user=police_admin.pk, department=health.pk, role=Role.CLERK)
    assert response.status_code == 200
    assert not Membership.objects.filter(department=health).exists()


def test_a_clerk_cannot_manage_memberships(police_clerk: Any, police: Any) -> None:
    response = add_membership(police_clerk, user=police_clerk.pk, department=police.pk, role=Role.ADMIN)
    assert response.status_code == 403


def test_a_superuser_grants_the_auditor_role(audit_office: Any) -> None:
    root = make_user("root", None)
    root.is_superuser = True
    root.save()
    someone = make_user("someone", None)
    response = add_membership(root, user=someone.pk, department=audit_office.pk, role=Role.AUDITOR)
    assert response.status_code == 302
    assert Membership.objects.filter(user=someone, role=Role.AUDITOR).exists()
