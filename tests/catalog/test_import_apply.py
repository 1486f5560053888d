"""Applying a checked file: replace all or upsert by key, as a new records generation switched in one
transaction. Nothing is ever half-applied, and one import at a time per dataset."""

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent
from catalog.imports import staging
from catalog.imports.services import (
    import_apply,
    import_apply_start,
    import_check,
    import_discard,
    import_upload,
    records_import,
)
from catalog.models import Dataset, ImportJob, ImportMode, ImportRow, ImportState, Record
from catalog.selectors import record_get
from core.errors import PlatformError
from registry.versions import access_version
from tests.catalog.conftest_imports import VACCINATION_HEADER, csv_bytes, records_of
from tests.conftest import RECORD_KEY

pytestmark = pytest.mark.django_db

OTHER = "110101199003070022"
THIRD = "110101199003070033"


def checked(dataset: Dataset, actor: Any, *lines: str) -> ImportJob:
    return import_check(job=import_upload(dataset=dataset, actor=actor, source=csv_bytes(VACCINATION_HEADER, *lines)))


def apply(job: ImportJob, actor: Any, mode: str) -> ImportJob:
    return import_apply(job=import_apply_start(job=job, actor=actor, mode=mode))


@pytest.fixture
def loaded(vaccinations: Dataset, health_clerk: Any) -> Dataset:
    """Three records in generation 1, the middle one deleted."""
    report = records_import(dataset=vaccinations, actor=health_clerk, source=csv_bytes(
        VACCINATION_HEADER, f"{RECORD_KEY},Li Wei,hepatitis-b,2026-03-01", f"{OTHER},Wang Fang,measles,2026-03-02",
        f"{THIRD},Zhao Lei,measles,2026-03-03"))
    assert report.ok
    Record.objects.filter(dataset=vaccinations, key=OTHER).update(deleted_at=timezone.now())
    vaccinations.refresh_from_db()
    return vaccinations


def test_upsert_replaces_the_files_keys_and_keeps_the_others(loaded: Dataset, health_clerk: Any) -> None:
    job = apply(checked(loaded, health_clerk, f"{RECORD_KEY},Li Wei,measles,2026-04-01",
                        "110101199003070044,Chen Jing,measles,2026-04-04"), health_clerk, ImportMode.UPSERT)
    assert (job.state, job.created, job.updated, job.deleted) == (ImportState.APPLIED, 1, 1, 0)
    records = {key: (data["vaccine"], version) for key, data, version in records_of(loaded)}
    assert records == {RECORD_KEY: ("measles", 3), OTHER: ("measles", 1), THIRD: ("measles", 1),
                       "110101199003070044": ("measles", 1)}
    assert record_get(dataset=loaded, key=OTHER) is None  # still deleted: copied as it was
    assert record_get(dataset=loaded, key=THIRD).data["full_name"] == "Zhao Lei"


def test_replace_all_makes_the_file_the_whole_dataset(loaded: Dataset, health_clerk: Any) -> None:
    job = apply(checked(loaded, health_clerk, f"{RECORD_KEY},Li Wei,measles,2026-04-01",
                        f"{OTHER},Wang Fang,rabies,2026-04-02"), health_clerk, ImportMode.REPLACE)
    # THIRD was live and is gone; OTHER was deleted and is loaded again.
    assert (job.created, job.updated, job.deleted) == (0, 2, 1)
    assert [(key, version) for key, _data, version in records_of(loaded)] == [(RECORD_KEY, 3), (OTHER, 2)]
    assert record_get(dataset=loaded, key=THIRD) is None
    assert record_get(dataset=loaded, key=OTHER).data["vaccine"] == "rabies"


def test_the_switch_serves_the_new_generation_and_the_old_one_is_deleted(loaded: Dataset, health_clerk: Any) -> None:
    before = loaded.records_generation
    version = access_version()
    job = apply(checked(loaded, health_clerk, f"{RECORD_KEY},Li Wei,measles,2026-04-01"), health_clerk,
                ImportMode.REPLACE)
    loaded.refresh_from_db()
    assert loaded.records_generation == job.generation > before
    assert set(Record.objects.filter(dataset=loaded).values_list("generation", flat=True)) == {job.generation}
    assert access_version() > version  # the exchange's memory of the dataset is dropped
    assert not ImportRow.objects.filter(job=job).exists()


def test_the_imported_event_names_mode_counts_and_digest(loaded: Dataset, health_clerk: Any) -> None:
    job = apply(checked(loaded, health_clerk, f"{RECORD_KEY},Li Wei,measles,2026-04-01"), health_clerk,
                ImportMode.REPLACE)
    event = AuditEvent.objects.filter(action="records.imported").latest("id")
    assert event.detail == {"rows": 1, "created": 0, "updated": 1, "deleted": 1, "job": job.pk,
                            "file_digest": job.file_digest, "format": "csv", "mode": "replace"}


def test_the_clerk_who_applies_is_the_actor(loaded: Dataset, health_clerk: Any, health_admin_clerk: Any) -> None:
    job = checked(loaded, health_clerk, f"{RECORD_KEY},Li Wei,measles,2026-04-01")
    apply(job, health_admin_clerk, ImportMode.UPSERT)
    assert AuditEvent.objects.filter(action="records.imported").latest("id").actor_id == "health-admin"


@pytest.fixture
def health_admin_clerk(health: Any) -> Any:
    from registry.models import Role
    from tests.conftest import make_user

    return make_user("health-admin", health, Role.CLERK)


# --- Refusals ---

def test_a_file_with_problems_cannot_be_applied(loaded: Dataset, health_clerk: Any) -> None:
    job = checked(loaded, health_clerk, f"{RECORD_KEY},Li Wei,measles,April")
    with pytest.raises(PlatformError) as caught:
        import_apply_start(job=job, actor=health_clerk, mode=ImportMode.UPSERT)
    assert caught.value.code == "invalid_input"
    assert caught.value.message == ("The file has 1 problem(s); fix them and upload it again. Nothing of it is "
                                    "loaded.")


def test_a_second_import_into_the_same_dataset_is_refused_with_409(loaded: Dataset, health_clerk: Any) -> None:
    first = checked(loaded, health_clerk, f"{RECORD_KEY},Li Wei,measles,2026-04-01")
    second = checked(loaded, health_clerk, f"{RECORD_KEY},Li Wei,rabies,2026-04-02")
    import_apply_start(job=first, actor=health_clerk, mode=ImportMode.UPSERT)
    with pytest.raises(PlatformError) as caught:
        import_apply_start(job=second, actor=health_clerk, mode=ImportMode.UPSERT)
    assert (caught.value.status, caught.value.code) == (409, "conflict")
    assert caught.value.message == ("Another file is being loaded into vaccinations; wait until it has finished, "
                                    "then load this one.")
    second.refresh_from_db()
    assert second.state == ImportState.CHECKED  # it can be applied afterwards
    import_apply(job=first)
    assert apply(second, health_clerk, ImportMode.UPSERT).state == ImportState.APPLIED
    assert record_get(dataset=Dataset.objects.get(pk=loaded.pk), key=RECORD_KEY).data["vaccine"] == "rabies"


def test_imports_into_other_datasets_are_not_held_up(loaded: Dataset, health_clerk: Any, health: Any) -> None:
    from tests.conftest import build_dataset

    other = build_dataset(health, identifier="boosters")
    import_apply_start(job=checked(loaded, health_clerk, f"{RECORD_KEY},Li Wei,measles,2026-04-01"),
                       actor=health_clerk, mode=ImportMode.UPSERT)
    assert apply(checked(other, health_clerk, f"{RECORD_KEY},Li Wei,measles,2026-04-01"), health_clerk,
                 ImportMode.UPSERT).state == ImportState.APPLIED


def test_the_same_job_cannot_be_applied_twice(loaded: Dataset, health_clerk: Any) -> None:
    job = apply(checked(loaded, health_clerk, f"{RECORD_KEY},Li Wei,measles,2026-04-01"), health_clerk,
                ImportMode.UPSERT)
    with pytest.raises(PlatformError) as caught:
        import_apply_start(job=job, actor=health_clerk, mode=ImportMode.UPSERT)
    assert caught.value.status == 409
    assert import_apply(job=job).state == ImportState.APPLIED  # a second delivery of the task does nothing
    assert AuditEvent.objects.filter(action="records.imported").count() == 2  # the fixture's and this one


def test_only_the_owning_departments_clerks_apply(loaded: Dataset, health_clerk: Any, police_clerk: Any,
                                                  health_approver: Any) -> None:
    job = checked(loaded, health_clerk, f"{RECORD_KEY},Li Wei,measles,2026-04-01")
    for actor in (police_clerk, health_approver):
        with pytest.raises(PlatformError) as caught:
            import_apply_start(job=job, actor=actor, mode=ImportMode.UPSERT)
        assert caught.value.status == 403
    job.refresh_from_db()
    assert job.state == ImportState.CHECKED


def test_an_import_that_stopped_long_ago_is_released(loaded: Dataset, health_clerk: Any) -> None:
    """A worker that died while applying: its job is failed, what it staged deleted, the dataset free again."""
    stuck = import_apply_start(job=checked(loaded, health_clerk, f"{RECORD_KEY},Li Wei,measles,2026-04-01"),
                               actor=health_clerk, mode=ImportMode.UPSERT)
    Record.objects.create(dataset=loaded, generation=loaded.records_generation + 1, key="half", data={})
    ImportJob.objects.filter(pk=stuck.pk).update(generation=loaded.records_generation + 1,
                                                 heartbeat_at=timezone.now() - dt.timedelta(minutes=11))
    job = apply(checked(loaded, health_clerk, f"{RECORD_KEY},Li Wei,rabies,2026-04-02"), health_clerk,
                ImportMode.UPSERT)
    stuck.refresh_from_db()
    assert stuck.state == ImportState.FAILED and "made no progress for 10 minutes" in stuck.error
    assert job.state == ImportState.APPLIED and not Record.objects.filter(key="half").exists()
    assert AuditEvent.objects.get(action="records.import_failed").detail["job"] == stuck.pk


# --- Nothing half-applied ---

@contextmanager
def record_inserts_refused_for(key: str) -> Iterator[None]:
    """The database refuses to stage the record with this key (a real trigger), as a full disk would."""
    table = Record._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("CREATE FUNCTION test_refuse_key() RETURNS trigger AS $$ BEGIN IF NEW.key = "
                           f"'{key}' THEN RAISE EXCEPTION 'disk full'; END IF; RETURN NEW; END; $$ LANGUAGE plpgsql")
            cursor.execute(f"CREATE TRIGGER test_refuse_key BEFORE INSERT ON {table} FOR EACH ROW "
                           "EXECUTE FUNCTION test_refuse_key()")
        else:
            cursor.execute(f"CREATE TRIGGER test_refuse_key BEFORE INSERT ON {table} WHEN NEW.key = '{key}' "
                           "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER test_refuse_key" + (f" ON {table}" if connection.vendor == "postgresql"
                                                             else ""))
            if connection.vendor == "postgresql":
                cursor.execute("DROP FUNCTION test_refuse_key()")


def test_a_failure_while_staging_leaves_the_served_records_untouched(loaded: Dataset, health_clerk: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(staging, "BATCH", 2)  # several batches commit before the failure
    before = records_of(loaded)
    generation = loaded.records_generation
    rows = [f"1101011990030700{i:02d},Name {i},measles,2026-04-01" for i in range(40, 50)]
    job = checked(loaded, health_clerk, *rows)
    job = import_apply_start(job=job, actor=health_clerk, mode=ImportMode.REPLACE)
    with record_inserts_refused_for("110101199003070047"), pytest.raises(Exception, match="disk full"):
        import_apply(job=job)
    loaded.refresh_from_db()
    assert loaded.records_generation == generation and records_of(loaded) == before
    assert set(Record.objects.filter(dataset=loaded).values_list("generation", flat=True)) == {generation}
    job.refresh_from_db()
    assert job.state == ImportState.FAILED and not ImportRow.objects.filter(job=job).exists()
    event = AuditEvent.objects.get(action="records.import_failed")
    assert event.detail == {"job": job.pk, "reason": job.error, "file_digest": job.file_digest}
    assert "disk full" not in job.error  # a database error's text can quote a row's values
    # The dataset can be loaded again.
    assert apply(checked(loaded, health_clerk, *rows), health_clerk, ImportMode.REPLACE).state == ImportState.APPLIED


def test_a_large_upsert_is_staged_in_many_batches(loaded: Dataset, health_clerk: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(staging, "BATCH", 3)
    rows = [f"2201011990{i:08d},Name {i},measles,2026-04-01" for i in range(20)]
    apply(checked(loaded, health_clerk, *rows), health_clerk, ImportMode.UPSERT)
    job = apply(checked(loaded, health_clerk, *rows[:7]), health_clerk, ImportMode.UPSERT)
    assert (job.created, job.updated, job.progress_done, job.progress_total) == (0, 7, 23, 23)
    assert len(records_of(loaded)) == 23
    assert sorted(v for _k, _d, v in records_of(loaded)).count(2) == 8  # the 7, and RECORD_KEY from before


def test_a_file_checked_before_the_dataset_changed_must_be_checked_again(loaded: Dataset,
                                                                       health_clerk: Any) -> None:
    from catalog.services import dataset_update

    job = checked(loaded, health_clerk, f"{RECORD_KEY},Li Wei,measles,2026-04-01")
    dataset_update(actor=health_clerk, dataset=loaded, description="Now with the booster doses too.")
    with pytest.raises(PlatformError) as caught:
        import_apply_start(job=job, actor=health_clerk, mode=ImportMode.UPSERT)
    assert caught.value.status == 409 and "upload the file again" in caught.value.message


def test_a_version_published_while_loading_fails_the_import_and_keeps_the_served_records(loaded: Dataset,
                                                                                       health_clerk: Any) -> None:
    """The check typed the rows for the version it saw; a new version published meanwhile (here: between
    the start of the apply and its work) must not be switched to rows checked against the old one."""
    from catalog.services import FieldSpec, dataset_update

    before, generation = records_of(loaded), loaded.records_generation
    job = import_apply_start(job=checked(loaded, health_clerk, f"{RECORD_KEY},Li Wei,measles,2026-04-01"),
                             actor=health_clerk, mode=ImportMode.REPLACE)
    assert job.dataset_version == loaded.version == 1
    fields = [FieldSpec(f.name, f.type, f.sensitivity, f.is_lookup_key, f.is_subject_identifier, f.description)
              for f in loaded.fields.all()]
    dataset_update(actor=health_clerk, dataset=loaded, fields=[*fields, FieldSpec("batch")],
                   note="The vaccine's batch number is recorded too.")
    with pytest.raises(PlatformError) as caught:
        import_apply(job=job)
    assert caught.value.status == 409
    job.refresh_from_db()
    assert job.state == ImportState.FAILED
    assert job.error == ("The dataset's schema changed while the file was being loaded (a new version was "
                         "published); nothing of it was loaded. Upload the file again to check it against the new "
                         "schema.")
    loaded.refresh_from_db()
    assert (loaded.version, loaded.records_generation) == (2, generation) and records_of(loaded) == before
    assert set(Record.objects.filter(dataset=loaded).values_list("generation", flat=True)) == {generation}
    assert not ImportRow.objects.filter(job=job).exists()
    assert AuditEvent.objects.get(action="records.import_failed").detail == {
        "job": job.pk, "reason": job.error, "file_digest": job.file_digest}


# --- Discarding ---

def test_a_checked_file_can_be_discarded(loaded: Dataset, health_clerk: Any) -> None:
    job = checked(loaded, health_clerk, f"{RECORD_KEY},Li Wei,measles,2026-04-01")
    assert import_discard(job=job, actor=health_clerk).state == ImportState.DISCARDED
    assert not ImportRow.objects.filter(job=job).exists()
    with pytest.raises(PlatformError) as caught:
        import_apply_start(job=job, actor=health_clerk, mode=ImportMode.UPSERT)
    assert caught.value.status == 409
