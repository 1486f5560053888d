"""What one signed read costs the database, pinned statement by statement, so a regression fails here.

These run outside a test-wide transaction (``transaction=True``), so they measure the path a real
request takes in autocommit: no BEGIN/COMMIT and no savepoints around the single writes.
"""

import re
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.events import EventType
from audit.services import Actor, event_append
from exchange.models import Grant
from registry.models import SystemKey
from tests.conftest import record_path

pytestmark = pytest.mark.django_db(transaction=True)

_TABLE = re.compile(r'(?:FROM|INTO|UPDATE)\s+"(\w+)"', re.IGNORECASE)


def statements(context: CaptureQueriesContext) -> list[str]:
    """Each captured statement as 'VERB table', e.g. 'SELECT catalog_record'."""
    kinds = []
    for query in context.captured_queries:
        sql = query["sql"].lstrip()
        table = _TABLE.search(sql)
        kinds.append(f"{sql.split()[0].upper()} {table.group(1) if table else ''}".strip())
    return kinds


def the_read_part(kinds: list[str]) -> list[str]:
    """Up to the audit event's INSERT: in the embedded default (eager Celery) the sequencer then runs
    inline in the same request; with a broker it runs in the worker."""
    end = kinds.index("INSERT audit_auditevent") + 1
    after = kinds[end:]
    assert all("audit_" in kind or kind in ("BEGIN", "SAVEPOINT", "RELEASE", "COMMIT") for kind in after), after
    assert not after or settings.CELERY_TASK_ALWAYS_EAGER, after
    return kinds[:end]


NONCE = [] if settings.NONCE_STORE == "redis" else ["INSERT registry_usednonce"]


def test_a_warm_signed_read_runs_four_statements(signed_get: Any, police_key: SystemKey, police_grant: Grant) -> None:
    assert signed_get(record_path()).status_code == 200  # loads the key, the dataset and the grants
    with CaptureQueriesContext(connection) as context:
        response = signed_get(record_path())
    assert response.status_code == 200
    assert the_read_part(statements(context)) == [
        "SELECT registry_accessversion",  # has anything the read checks changed? (else all from memory)
        *NONCE,  # the nonce claimed, atomically (in Redis when configured: no SQL)
        "SELECT catalog_record",  # the record
        "INSERT audit_auditevent",  # the audit event, committed before the response leaves
    ]


def test_a_cold_read_loads_the_key_the_dataset_and_the_grants_once(signed_get: Any, police_key: SystemKey,
                                                                    police_grant: Grant) -> None:
    with CaptureQueriesContext(connection) as context:
        assert signed_get(record_path()).status_code == 200
    assert the_read_part(statements(context)) == [
        "SELECT registry_accessversion",
        "SELECT registry_systemkey",  # the key, with its system and department
        *NONCE,
        "SELECT catalog_dataset",  # the published dataset with its owner
        "SELECT catalog_field",  # its fields
        "SELECT exchange_grant",  # the caller's unrevoked grants for it
        "SELECT catalog_record",
        "INSERT audit_auditevent",
    ]


def test_a_refused_read_costs_no_more_than_a_served_one(signed_get: Any, police_key: SystemKey,
                                                        police_grant: Grant) -> None:
    assert signed_get(record_path()).status_code == 200
    with CaptureQueriesContext(connection) as context:
        response = signed_get(record_path(query="fields=full_name"))
    assert response.status_code == 403
    assert the_read_part(statements(context)) == ["SELECT registry_accessversion", *NONCE, "INSERT audit_auditevent"]


def test_the_audit_append_is_one_insert_with_no_transaction_around_it() -> None:
    with CaptureQueriesContext(connection) as context:
        event_append(actor=Actor("system", "police-rms", "police"), action=EventType.RECORD_READ,
                     object_id="vaccinations", detail={"record_version": 1})
    kinds = statements(context)
    assert kinds[0] == "INSERT audit_auditevent"  # the one statement of the append itself
    assert the_read_part(kinds) == ["INSERT audit_auditevent"]
    assert not connection.in_atomic_block
