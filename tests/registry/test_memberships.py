"""Department admins manage their department's memberships, but never hand out the auditor role."""

from typing import Any

import pytest
from django.test import Client

from registry.models import Membership, Role
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def police_admin(police: Any) -> Any:
    return make_user("police-admin", police, Role.ADMIN)


def add_membership(actor: Any, **data: Any) -> Any:
    http = Client()
    http.force_login(actor)
    return http.post("/admin/registry/membership/add/", data)


def test_a_department_admin_adds_a_clerk_to_their_department(police_admin: Any, police: Any) -> None:
    newcomer = make_user("newcomer", None)
    response = add_membership(police_admin, user=newcomer.pk, department=police.pk, role=Role.CLERK)
    assert response.status_code == 302
    assert Membership.objects.filter(user=newcomer, department=police, role=Role.CLERK).exists()


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
