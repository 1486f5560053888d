"""Moving the registry from govplatform/ to registry/ keeps its tables and rows.

A database created before the move (govplatform 0001, catalog 0002, exchange 0001, no registry app)
holds departments, people's memberships, systems, keys, a dataset, a request and its grant, the
admin's history, and an audit log. Migrated forward, every row is there with the same ids through the
current models, the foreign keys resolve, the tables and content types carry the registry's name, and
`audit_verify` still passes. Runs on SQLite and on PostgreSQL (DATABASE_URL).
"""

import datetime as dt
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from audit.events import EventType
from audit.models import AuditEvent
from audit.sequencer import log_sequence
from audit.services import Actor, event_record
from catalog.models import Dataset, Field, Record
from exchange.models import AccessRequest, Grant
from registry.models import Department, Membership, System, SystemKey, UsedNonce

# The last migrations before the move, and the registry app not there at all. The audit app, which the move
# did not touch, is at its newest: the test writes the log with today's sequencer (which stores tree nodes).
BEFORE_THE_MOVE = [("govplatform", "0001_initial"), ("catalog", "0002_identifier_help_text"),
                   ("exchange", "0001_initial"), ("audit", "0005_tree_node"), ("registry", None)]
MOVED = ["department", "membership", "system", "systemkey", "usednonce"]
PEM = ("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
       "-----END PUBLIC KEY-----\n")
T0 = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)


def migrate(targets: list[tuple[str, str | None]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection)  # a fresh loader: it reads what is applied now


def latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.fixture
def before_the_move(transactional_db: None) -> Iterator[Any]:
    """The database as it was before the move; migrated to the latest state again afterwards, pass or fail."""
    graph = MigrationExecutor(connection).loader.graph
    for node in BEFORE_THE_MOVE:
        assert node[1] is None or node in graph.nodes, f"no migration {node}: has it been renamed?"
    try:
        executor = migrate(BEFORE_THE_MOVE)
        others = [leaf for leaf in executor.loader.graph.leaf_nodes() if leaf[0] in {"admin", "auth", "contenttypes"}]
        state = executor.loader.project_state([node for node in BEFORE_THE_MOVE if node[1]] + others)
        yield state.apps
    finally:
        migrate(latest())
        ContentType.objects.clear_cache()


def audit(action: EventType, object_id: Any, actor: Actor, **detail: Any) -> None:
    with transaction.atomic():
        event_record(actor=actor, action=action, object_id=str(object_id), detail=detail)


def verify() -> str:
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_a_database_from_before_the_move_migrates_forward_with_nothing_lost(before_the_move: Any) -> None:
    old = before_the_move
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
    assert {f"govplatform_{model}" for model in MOVED} <= tables
    assert not {f"registry_{model}" for model in MOVED} & tables

    # The world as the old code left it, written with the models of that time.
    user = old.get_model(settings.AUTH_USER_MODEL).objects.create(username="health-clerk", is_staff=True)
    health = old.get_model("govplatform", "Department").objects.create(code="health", name="Health Commission")
    cdc = old.get_model("govplatform", "Department").objects.create(code="health-cdc", name="Disease Control",
                                                                     parent=health, active=False)
    police = old.get_model("govplatform", "Department").objects.create(code="police", name="Public Security Bureau")
    membership = old.get_model("govplatform", "Membership").objects.create(user=user, department=health, role="clerk")
    system = old.get_model("govplatform", "System").objects.create(department=police, code="police-rms",
                                                                   name="Police records system", created_at=T0)
    key = old.get_model("govplatform", "SystemKey").objects.create(
        system=system, key_id="police-rms-1", public_key=PEM, not_before=T0, expires_at=T0 + dt.timedelta(days=365),
        created_at=T0, created_by=user)
    nonce = old.get_model("govplatform", "UsedNonce").objects.create(key_id="police-rms-1", nonce="n" * 32,
                                                                     expires_at=T0 + dt.timedelta(minutes=5))
    dataset = old.get_model("catalog", "Dataset").objects.create(
        owner=health, identifier="vaccinations", title="Vaccinations", tier="conditional", status="published",
        legal_basis="Vaccine Administration Law", published_at=T0)
    old.get_model("catalog", "Field").objects.create(dataset=dataset, name="citizen_id", is_lookup_key=True,
                                                     is_subject_identifier=True, sensitivity="personal")
    old.get_model("catalog", "Field").objects.create(dataset=dataset, name="vaccine", position=1)
    record = old.get_model("catalog", "Record").objects.create(
        dataset=dataset, key="110101199003070011", data={"citizen_id": "110101199003070011", "vaccine": "hepb"})
    request = old.get_model("exchange", "AccessRequest").objects.create(
        consumer=system, dataset=dataset, fields=["vaccine"], purpose_code="public-health.tracing",
        purpose="Outbreak tracing", legal_basis="Infectious Diseases Law", filed_by=user, state="approved",
        decided_by=user, decided_at=T0, decision_reason="Proportionate")
    grant = old.get_model("exchange", "Grant").objects.create(
        access_request=request, consumer=system, dataset=dataset, allowed_fields=["vaccine"],
        purpose_code="public-health.tracing", purpose="Outbreak tracing", valid_from=T0,
        valid_until=T0 + dt.timedelta(days=30))

    # The admin's history and permissions point at the content type of govplatform's Department.
    old_types = old.get_model("contenttypes", "ContentType").objects
    assert not old_types.filter(app_label="registry", model__in=MOVED).exists()
    department_type, _ = old_types.get_or_create(app_label="govplatform", model="department")
    permission, _ = old.get_model("auth", "Permission").objects.get_or_create(
        content_type=department_type, codename="change_department", defaults={"name": "Can change department"})
    entry = old.get_model("admin", "LogEntry").objects.create(
        user=user, content_type=department_type, object_id=str(health.pk), object_repr="Health Commission",
        action_flag=ADDITION, change_message="[]", action_time=T0)

    # The audit log, written by the current audit services (its tables did not move).
    events_before = AuditEvent.objects.count()
    clerk, police_rms = Actor("user", "health-clerk"), Actor("system", "police-rms", "police")
    audit(EventType.DEPARTMENT_REGISTERED, health.pk, clerk, new={"code": "health", "name": "Health Commission"})
    audit(EventType.SYSTEM_KEY_REGISTERED, key.pk, clerk, system="police-rms", fingerprint="ab" * 16,
          not_before=T0.isoformat(), expires_at=(T0 + dt.timedelta(days=365)).isoformat())
    audit(EventType.DATASET_PUBLISHED, dataset.pk, clerk, tier="conditional", version=1,
          fields=["citizen_id", "vaccine"])
    audit(EventType.ACCESS_REQUEST_APPROVED, request.pk, clerk, reason="Proportionate", consumer="police-rms",
          dataset="vaccinations", fields=["vaccine"])
    log_sequence()
    audit(EventType.RECORD_READ, dataset.pk, police_rms, keyid="police-rms-1", claimed_system="police-rms",
          fields=["vaccine"], record_version=1)
    log_sequence()
    assert "OK" in verify()

    # Forward to the latest state, as `manage.py migrate` would.
    migrate(latest())
    ContentType.objects.clear_cache()

    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        dataset_foreign_keys = {c["foreign_key"] for c in
                                connection.introspection.get_constraints(cursor, "catalog_dataset").values()}
        grant_foreign_keys = {c["foreign_key"] for c in
                              connection.introspection.get_constraints(cursor, "exchange_grant").values()}
    assert {f"registry_{model}" for model in MOVED} <= tables
    assert not {table for table in tables if table.startswith("govplatform_")}
    assert ("registry_department", "id") in dataset_foreign_keys
    assert ("registry_system", "id") in grant_foreign_keys
    with transaction.atomic():
        connection.check_constraints()  # every foreign key in the database resolves

    # Every row, with the same ids and values, through the current models.
    new_health = Department.objects.get(pk=health.pk)
    assert (new_health.code, new_health.name, new_health.active, new_health.parent) == (
        "health", "Health Commission", True, None)
    new_cdc = Department.objects.get(pk=cdc.pk)
    assert (new_cdc.code, new_cdc.active, new_cdc.parent) == ("health-cdc", False, new_health)
    new_membership = Membership.objects.get(pk=membership.pk)
    assert (new_membership.user_id, new_membership.department, new_membership.role) == (user.pk, new_health, "clerk")
    new_system = System.objects.get(pk=system.pk)
    assert (new_system.code, new_system.department.code, new_system.created_at) == ("police-rms", "police", T0)
    new_key = SystemKey.objects.get(pk=key.pk)
    assert (new_key.system, new_key.key_id, new_key.public_key, new_key.created_by_id) == (
        new_system, "police-rms-1", PEM, user.pk)
    assert (new_key.not_before, new_key.expires_at) == (T0, T0 + dt.timedelta(days=365))
    assert UsedNonce.objects.get(pk=nonce.pk).nonce == "n" * 32
    new_dataset = Dataset.objects.get(pk=dataset.pk)
    assert new_dataset.owner == new_health and list(new_health.datasets.all()) == [new_dataset]
    assert [f.name for f in Field.objects.filter(dataset=new_dataset)] == ["citizen_id", "vaccine"]
    assert Record.objects.get(pk=record.pk).data["vaccine"] == "hepb"
    new_request = AccessRequest.objects.get(pk=request.pk)
    new_grant = Grant.objects.get(pk=grant.pk)
    assert new_request.consumer == new_system and new_grant.consumer == new_system
    assert new_grant.access_request == new_request and new_grant.dataset == new_dataset
    assert list(new_system.grants.all()) == [new_grant]
    assert get_user_model().objects.get(pk=user.pk).memberships.get() == new_membership

    # The content types are relabelled in place, so the admin's history and permissions follow.
    relabelled = ContentType.objects.get(pk=department_type.pk)
    assert (relabelled.app_label, relabelled.model) == ("registry", "department")
    assert ContentType.objects.get_for_model(Department) == relabelled
    assert not ContentType.objects.filter(app_label="govplatform", model__in=MOVED).exists()
    assert Permission.objects.get(pk=permission.pk).content_type == relabelled
    assert LogEntry.objects.get(pk=entry.pk).get_edited_object() == new_health

    # New rows get fresh ids in the renamed tables.
    later = Department.objects.create(code="transport", name="Transport Bureau")
    assert later.pk > max(health.pk, cdc.pk, police.pk)

    # The audit log verifies as it did, and goes on growing after the move.
    out = verify()
    assert re.search(rf"leaves: {events_before + 5}\b", out) and "OK" in out, out
    audit(EventType.DEPARTMENT_REGISTERED, later.pk, clerk, new={"code": "transport", "at": timezone.now().isoformat()})
    log_sequence()
    out = verify()
    assert re.search(rf"leaves: {events_before + 6}\b", out) and "OK" in out, out

    # The fixture leaves the database at the latest state; nothing is left to apply.
    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
