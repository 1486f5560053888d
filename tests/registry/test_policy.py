"""The permission policy: deny unless a rule grants it, and the same answer for one object and for a list."""

from typing import Any

import pytest
from django.apps import apps
from django.test import Client

from catalog.models import Dataset
from exchange.models import AccessRequest
from exchange.services import access_request_file
from registry.models import Membership, PlatformRole, PlatformRoleName, System
from registry.policy import RULES, Perm, allows, has_any_role, scope
from tests.conftest import build_dataset, make_user

pytestmark = pytest.mark.django_db

#: The model each permission's rule is about, to ask scope() for.
MODEL_OF = {
    Perm.DEPARTMENT_VIEW: "registry.department", Perm.DEPARTMENT_MANAGE: "registry.department",
    Perm.MEMBERSHIP_VIEW: "registry.membership", Perm.MEMBERSHIP_MANAGE: "registry.membership",
    Perm.MEMBERSHIP_GRANT_AUDITOR: "registry.membership", Perm.PLATFORM_ROLE_VIEW: "registry.platformrole",
    Perm.PLATFORM_ROLE_MANAGE: "registry.platformrole", Perm.SYSTEM_VIEW: "registry.system",
    Perm.SYSTEM_MANAGE: "registry.system", Perm.KEY_VIEW: "registry.systemkey", Perm.KEY_MANAGE: "registry.systemkey",
    Perm.CATALOGUE_VIEW: "catalog.dataset", Perm.DATASET_VIEW: "catalog.dataset",
    Perm.DATASET_MANAGE: "catalog.dataset", Perm.RECORD_VIEW: "catalog.record",
    Perm.REQUEST_VIEW: "exchange.accessrequest", Perm.REQUEST_FILE: "exchange.accessrequest",
    Perm.REQUEST_DECIDE: "exchange.accessrequest", Perm.REQUEST_DECIDE_ESCALATED: "exchange.accessrequest",
    Perm.REQUEST_HAND_OVER: "exchange.accessrequest", Perm.PURPOSE_VIEW: "exchange.purpose",
    Perm.PURPOSE_MANAGE: "exchange.purpose", Perm.GRANT_VIEW: "exchange.grant", Perm.GRANT_REVOKE: "exchange.grant",
    Perm.AUDIT_READ: "audit.auditevent", Perm.LOGIN_UNLOCK: "axes.accessattempt",
    Perm.SECOND_FACTOR_RESET: "registry.secondfactor",
}


@pytest.fixture
def request_filed(police_clerk: Any, police_system: System, vaccinations: Dataset) -> AccessRequest:
    return access_request_file(consumer=police_system, dataset=vaccinations, fields=["vaccine"], actor=police_clerk,
                               purpose_code="law-enforcement.investigation", purpose="Checking an alibi",
                               legal_basis="Criminal Procedure Law art. 54")


def test_every_permission_has_a_rule() -> None:
    assert set(RULES) == set(Perm) == set(MODEL_OF)


def test_a_role_no_rule_names_sees_nothing(health: Any, request_filed: AccessRequest, police_key: Any) -> None:
    inspector = make_user("inspector", None, )
    Membership.objects.bulk_create([Membership(user=inspector, department=health, role="inspector")])
    for perm, label in MODEL_OF.items():
        model = apps.get_model(label)
        assert not scope(inspector, perm, model.objects.all()).exists(), perm
        assert not allows(inspector, perm), perm
    http = Client()
    http.force_login(inspector)
    assert http.get("/admin/").context["available_apps"] == []


def test_an_approver_decides_only_their_own_departments_requests(health_approver: Any, police: Any,
                                                                 request_filed: AccessRequest) -> None:
    assert allows(health_approver, Perm.REQUEST_DECIDE, request_filed)
    other = make_user("police-approver", police, "approver")
    assert allows(other, Perm.REQUEST_VIEW, request_filed)  # it is the police's own request...
    assert not allows(other, Perm.REQUEST_DECIDE, request_filed)  # ...decided by the dataset's owner


def test_one_answer_for_an_object_and_for_the_list(health_clerk: Any, police_clerk: Any, health: Any,
                                                   police: Any, vaccinations: Dataset) -> None:
    arrests = build_dataset(police, identifier="arrests")
    for user in (health_clerk, police_clerk):
        listed = set(scope(user, Perm.DATASET_MANAGE, Dataset.objects.all()))
        assert listed == {d for d in (vaccinations, arrests) if allows(user, Perm.DATASET_MANAGE, d)}
        assert len(listed) == 1


def test_the_data_authority_reads_every_request_and_decides_only_escalated_ones(
        request_filed: AccessRequest) -> None:
    authority = make_user("authority", None)
    PlatformRole.objects.create(user=authority, role=PlatformRoleName.DATA_AUTHORITY)
    assert has_any_role(authority)
    assert list(scope(authority, Perm.REQUEST_VIEW, AccessRequest.objects.all())) == [request_filed]
    assert not allows(authority, Perm.REQUEST_DECIDE, request_filed)  # its own department's approvers decide...
    assert allows(authority, Perm.REQUEST_DECIDE_ESCALATED, request_filed)  # ...unless it ran over (workflow)
    assert allows(authority, Perm.REQUEST_HAND_OVER, request_filed) and allows(authority, Perm.PURPOSE_MANAGE)
    assert not allows(authority, Perm.GRANT_REVOKE)
    assert not allows(authority, Perm.RECORD_VIEW)


def test_the_decide_button_is_shown_only_to_the_approvers_who_may_use_it(health_approver: Any, police_clerk: Any,
                                                                        request_filed: AccessRequest) -> None:
    url = f"/admin/exchange/accessrequest/{request_filed.pk}/change/"
    for user, shown in [(health_approver, True), (police_clerk, False)]:
        http = Client()
        http.force_login(user)
        html = http.get(url).content.decode()
        assert (f"/{request_filed.pk}/decide/" in html) is shown
