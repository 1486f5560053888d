"""The backup and restore drill (README, "Backup and restore"), run as the operator would: ``pg_dump`` the
database, restore it into a new one with ``pg_restore``, and check the restored log with
``audit_verify --trusted-checkpoint``, the checkpoint saved off the server. A restore of the latest backup
is accepted; a restore of an older backup, which lost the log's tail, is refused.
"""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction

from audit.events import EventType
from audit.sequencer import log_sequence
from audit.services import Actor, event_record
from tests.conftest import database_env, is_postgres
from tests.exchange.test_request_clock_worker import process_env

pytestmark = pytest.mark.django_db(transaction=True)


def events(count: int, who: str) -> None:
    with transaction.atomic():
        for _ in range(count):
            event_record(actor=Actor("user", who), action=EventType.USER_LOGGED_IN, object_id=who,
                         detail={"ip": "198.51.100.2"})
    log_sequence()


def pg(*args: str) -> subprocess.CompletedProcess[str]:
    db = connection.settings_dict
    where = ["-h", db.get("HOST") or "127.0.0.1", "-p", str(db.get("PORT") or 5432), "-U", db.get("USER") or "postgres"]
    return subprocess.run([args[0], *where, *args[1:]], capture_output=True, text=True, check=True)


def audit_verify(database: str, *options: str) -> subprocess.CompletedProcess[str]:
    env = process_env()
    env["DATABASE_URL"] = database_env()["DATABASE_URL"].rsplit("/", 1)[0] + f"/{database}"
    return subprocess.run([sys.executable, "manage.py", "audit_verify", *options], cwd=settings.BASE_DIR, env=env,
                          capture_output=True, text=True, check=False)


@pytest.fixture
def restored_databases() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        pg("dropdb", "--if-exists", name)


def test_a_restored_backup_verifies_against_the_saved_checkpoint_and_one_that_lost_the_tail_does_not(
    tmp_path: Path, restored_databases: list[str]
) -> None:
    if not is_postgres():
        pytest.skip("the drill uses PostgreSQL's pg_dump and pg_restore")
    live = connection.settings_dict["NAME"]
    events(40, "clerk")
    older = tmp_path / "older.dump"
    pg("pg_dump", "--format=custom", "--file", str(older), live)  # last night's backup
    events(25, "approver")  # today's work, then today's backup and the checkpoint kept off the server
    latest = tmp_path / "latest.dump"
    pg("pg_dump", "--format=custom", "--file", str(latest), live)
    trusted = tmp_path / "trusted-checkpoint.txt"
    saved = audit_verify(live, "--save-checkpoint", str(trusted))
    assert saved.returncode == 0, saved.stderr
    assert "leaves: 65" in saved.stdout

    for name, dump in ((f"{live}_restored", latest), (f"{live}_restored_old", older)):
        restored_databases.append(name)
        pg("dropdb", "--if-exists", name)
        pg("createdb", name)
        pg("pg_restore", "--no-owner", "--dbname", name, str(dump))

    good = audit_verify(f"{live}_restored", "--trusted-checkpoint", str(trusted))
    assert good.returncode == 0, good.stdout + good.stderr
    assert "OK:" in good.stdout and "still contains the trusted checkpoint of 65 leaves" in good.stdout

    lost_tail = audit_verify(f"{live}_restored_old", "--trusted-checkpoint", str(trusted))
    assert lost_tail.returncode != 0, "a log that lost its tail must not verify against the later checkpoint"
    assert "leaves: 40" in lost_tail.stdout
    assert "FAIL" in lost_tail.stderr and "65" in lost_tail.stderr, lost_tail.stderr
