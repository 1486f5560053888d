"""catalog.imports.services.records_import, the synchronous entry point: typed rows in, all or nothing.

A file with any bad row loads nothing and comes back as a report naming each problem by line and column.
(The dry run's report in detail: test_import_check.py; replace, upsert and generations:
test_import_apply.py; the admin pages: test_import_admin.py.)
"""

import datetime as dt
import hashlib
from typing import Any

import pytest
from django.db import DatabaseError
from django.utils import timezone

from audit.models import AuditEvent
from catalog.imports.services import MAX_STORED_PROBLEMS, ImportReport, imports_dir, records_import
from catalog.models import Dataset, Field, FieldType, ImportState, Record
from core.errors import PlatformError
from registry.models import Department
from tests.catalog.conftest_imports import CHECKUPS_HEADER, build_checkups, csv_bytes, records_of
from tests.conftest import RECORD_KEY, audit_inserts_refused, events_but_sign_ins

pytestmark = pytest.mark.django_db

HEADER = CHECKUPS_HEADER


@pytest.fixture
def checkups(health: Department) -> Dataset:
    return build_checkups(health)


def load(dataset: Dataset, actor: Any, *lines: str) -> ImportReport:
    return records_import(dataset=dataset, source=csv_bytes(*lines), actor=actor)


def errors(report: ImportReport) -> list[tuple[int, str, str]]:
    return [(p.line, p.column, p.message) for p in report.problems]


def assert_nothing_loaded(report: ImportReport, dataset: Dataset,
                          before: list[tuple[str, Any, int]] | None = None) -> None:
    assert not report.ok and report.job.state == ImportState.CHECKED
    assert (report.created, report.updated) == (0, 0)
    assert records_of(dataset) == (before or [])
    assert not AuditEvent.objects.filter(action="records.imported").exists()


# --- Loading ---

def test_it_loads_rows_with_typed_values(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER,
                  "A001, 42 ,71.5,yes,2026-03-01,first visit",
                  "A002,7,20,false,2025-12-31,")
    assert report.ok and errors(report) == []
    assert (report.rows, report.created, report.updated, report.deleted) == (2, 2, 0, 0)
    assert records_of(checkups) == [
        ("A001", {"citizen_id": "A001", "age": 42, "weight_kg": 71.5, "smoker": True, "checked_on": "2026-03-01",
                  "note": "first visit"}, 1),
        ("A002", {"citizen_id": "A002", "age": 7, "weight_kg": 20.0, "smoker": False, "checked_on": "2025-12-31",
                  "note": None}, 1)]


def test_it_stores_json_types_not_strings(checkups: Dataset, health_clerk: Any) -> None:
    load(checkups, health_clerk, HEADER, "A001,42,71.5,1,2026-03-01,x")
    data = Record.objects.get(key="A001").data
    assert type(data["age"]) is int and type(data["weight_kg"]) is float and data["smoker"] is True


def test_it_reads_excel_style_utf8_with_bom_and_crlf(checkups: Dataset, health_clerk: Any) -> None:
    content = "\ufeff" + HEADER + "\r\n" + 'A001,42,71.5,Y,2026-03-01,"李伟, 复查"\r\n'
    report = records_import(dataset=checkups, source=content.encode(), actor=health_clerk)
    assert report.ok, errors(report)
    assert report.job.encoding == "utf-8-sig" and report.encoding_label == "UTF-8 with BOM"
    assert Record.objects.get(key="A001").data["note"] == "李伟, 复查"


def test_a_file_saved_by_chinese_excel_in_gbk_loads(checkups: Dataset, health_clerk: Any) -> None:
    content = (HEADER + "\r\nA001,42,71.5,是,2026-03-01,李伟复查\r\n").encode("gbk")
    report = records_import(dataset=checkups, source=content, actor=health_clerk)
    assert report.ok and report.job.encoding == "gbk"
    assert Record.objects.get(key="A001").data["note"] == "李伟复查"


def test_it_updates_existing_keys_and_bumps_their_version(checkups: Dataset, health_clerk: Any) -> None:
    Record.objects.create(dataset=checkups, key="A001", data={"citizen_id": "A001", "age": 41}, version=3,
                          updated_at=timezone.now() - dt.timedelta(days=1))
    report = load(checkups, health_clerk, HEADER, "A001,42,,,,", "A002,7,,,,")
    assert (report.rows, report.created, report.updated) == (2, 1, 1)
    a001 = Record.objects.get(key="A001")
    assert a001.version == 4
    assert a001.data == {"citizen_id": "A001", "age": 42, "weight_kg": None, "smoker": None, "checked_on": None,
                         "note": None}
    assert a001.updated_at > timezone.now() - dt.timedelta(minutes=1)
    assert Record.objects.get(key="A002").version == 1


def test_it_restores_a_deleted_record_that_is_loaded_again(checkups: Dataset, health_clerk: Any) -> None:
    Record.objects.create(dataset=checkups, key="A001", data={}, deleted_at=timezone.now())
    report = load(checkups, health_clerk, HEADER, "A001,42,,,,")
    assert report.updated == 1
    record = Record.objects.get(key="A001")
    assert (record.deleted_at, record.version) == (None, 2)


def test_it_leaves_records_of_other_datasets_alone(checkups: Dataset, vaccinations: Dataset,
                                                   health_clerk: Any) -> None:
    load(checkups, health_clerk, HEADER, f"{RECORD_KEY},42,,,,")
    other = Record.objects.get(dataset=vaccinations, key=RECORD_KEY)
    assert other.version == 1 and other.data["vaccine"] == "hepatitis-b" and other.generation == 0
    assert Record.objects.get(dataset=checkups, key=RECORD_KEY).version == 1


def test_a_header_only_file_loads_nothing_and_is_fine(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER)
    assert report.ok and (report.rows, report.created, report.updated) == (0, 0, 0)


def test_it_records_the_check_and_the_import_with_counts_digest_and_no_values(checkups: Dataset,
                                                                               health_clerk: Any) -> None:
    Record.objects.create(dataset=checkups, key="110101199003070011", data={})
    content = csv_bytes(HEADER, "110101199003070011,42,71.5,yes,2026-03-01,secret-note",
                        "110101199003070022,7,20,no,2025-12-31,other-note")
    report = records_import(dataset=checkups, source=content, actor=health_clerk)
    checked, imported = events_but_sign_ins().order_by("id")
    digest = hashlib.sha256(content).hexdigest()
    assert (checked.action, checked.detail["file_digest"], checked.detail["problems"]) == (
        "records.checked", digest, 0)
    assert (imported.action, imported.outcome, imported.actor_id) == ("records.imported", "ok", "health-clerk")
    assert (imported.object_type, imported.object_id) == ("dataset", "checkups")
    assert imported.detail == {"rows": 2, "created": 1, "updated": 1, "deleted": 0, "job": report.job.pk,
                               "file_digest": digest, "format": "csv", "mode": "upsert"}
    for event in (checked, imported):
        leaf = event.canonical_leaf().decode()
        for raw in ("110101199003070011", "110101199003070022", "secret-note", "71.5", "2026-03-01"):
            assert raw not in leaf


def test_the_records_and_their_event_commit_together(checkups: Dataset, health_clerk: Any) -> None:
    """If the audit event cannot be written, no record is switched either, and what was staged is gone."""
    Record.objects.create(dataset=checkups, key="A001", data={"age": 1})
    from catalog.imports.services import import_apply, import_apply_start, import_check, import_upload

    job = import_check(job=import_upload(dataset=checkups, actor=health_clerk,
                                         source=csv_bytes(HEADER, "A001,42,,,,", "A002,7,,,,")))
    job = import_apply_start(job=job, actor=health_clerk, mode="upsert")
    with audit_inserts_refused(), pytest.raises(DatabaseError):
        import_apply(job=job)
    assert records_of(checkups) == [("A001", {"age": 1}, 1)]
    assert Record.objects.filter(dataset=checkups).count() == 1  # the staged generation was deleted
    job.refresh_from_db()
    assert job.state == ImportState.FAILED
    assert not AuditEvent.objects.filter(action="records.imported").exists()


# --- All or nothing: every problem reported, nothing written ---

def test_a_bad_cell_loads_nothing_and_names_line_and_column(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER, "A001,42,,,,", "A002,forty,,,,", "A003,9,,,,")
    assert errors(report) == [(3, "age", "Not a whole number.")]
    assert report.rows == 3 and report.problems[0].value == "forty"
    assert_nothing_loaded(report, checkups)


def test_a_bad_row_leaves_existing_records_untouched(checkups: Dataset, health_clerk: Any) -> None:
    Record.objects.create(dataset=checkups, key="A001", data={"age": 41})
    before = records_of(checkups)
    report = load(checkups, health_clerk, HEADER, "A001,42,,,,", "A002,x,,,,")
    assert_nothing_loaded(report, checkups, before)


def test_a_duplicate_key_loads_nothing(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER, "A001,1,,,,", "A002,2,,,,", " A001 ,3,,,,")
    assert errors(report) == [(4, "citizen_id", "Duplicate key: also on line 2.")]
    assert_nothing_loaded(report, checkups)


def test_an_empty_key_loads_nothing(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER, "A001,1,,,,", "  ,2,,,,")
    assert errors(report) == [(3, "citizen_id", "The lookup key may not be empty.")]
    assert_nothing_loaded(report, checkups)


def test_a_missing_header_column_loads_nothing(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, "citizen_id,age,weight_kg,checked_on,note", "A001,1,2,2026-01-01,x")
    assert errors(report) == [(1, "", "The header must name exactly the dataset's fields "
                                      "(missing columns: smoker).")]
    assert_nothing_loaded(report, checkups)


def test_an_unknown_header_column_loads_nothing(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER + ",shoe_size", "A001,1,2,yes,2026-01-01,x,44")
    assert errors(report) == [(1, "", "The header must name exactly the dataset's fields "
                                      "(columns not in the schema: shoe_size).")]
    assert_nothing_loaded(report, checkups)


def test_a_header_with_missing_and_unknown_columns_names_both(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, "citizen_id,Age,weight_kg,smoker,checked_on,note")
    assert errors(report) == [(1, "", "The header must name exactly the dataset's fields "
                                      "(missing columns: age; columns not in the schema: Age).")]


def test_an_empty_file_loads_nothing(checkups: Dataset, health_clerk: Any) -> None:
    report = records_import(dataset=checkups, source=b"", actor=health_clerk)
    assert [(p.line, p.column) for p in report.problems] == [(1, "")]
    assert "missing columns: citizen_id, age, weight_kg, smoker, checked_on, note" in report.problems[0].message
    assert_nothing_loaded(report, checkups)


def test_a_row_with_too_many_cells_loads_nothing(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER, "A001,1,2,yes,2026-01-01,x", "A002,1,2,yes,2026-01-01,x,extra")
    assert errors(report) == [(3, "", "The row has 7 cells; the header has 6 columns.")]
    assert_nothing_loaded(report, checkups)


def test_a_row_with_too_few_cells_loads_nothing(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER, "A001,1,2,yes")
    assert errors(report) == [(2, "", "The row has 4 cells; the header has 6 columns.")]
    assert_nothing_loaded(report, checkups)


def test_a_cell_beyond_the_csv_field_limit_loads_nothing(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER, "A001,1,2,yes,2026-01-01," + "x" * 200_000)
    assert len(report.problems) == 1
    assert report.problems[0].message.startswith("The file is not valid CSV from here on: field larger than field "
                                                 "limit")
    assert_nothing_loaded(report, checkups)


def test_it_caps_the_reported_errors_and_counts_the_rest(checkups: Dataset, health_clerk: Any) -> None:
    rows = [f"A{i:04},not-a-number,,,," for i in range(MAX_STORED_PROBLEMS + 25)]
    report = load(checkups, health_clerk, HEADER, *rows)
    assert len(report.problems) == MAX_STORED_PROBLEMS and report.problems_total == MAX_STORED_PROBLEMS + 25
    assert errors(report)[-1] == (MAX_STORED_PROBLEMS + 1, "age", "Not a whole number.")
    assert_nothing_loaded(report, checkups)


# --- Refusals before reading the file ---

def test_it_refuses_a_dataset_without_a_lookup_key(checkups: Dataset, health_clerk: Any) -> None:
    Field.objects.filter(dataset=checkups).update(is_lookup_key=False)
    with pytest.raises(PlatformError) as caught:
        load(checkups, health_clerk, HEADER, "A001,1,,,,")
    assert (caught.value.status, caught.value.code) == (400, "no_lookup_key")
    assert not Record.objects.exists() and not events_but_sign_ins().exists()


def test_it_refuses_a_clerk_of_another_department(checkups: Dataset, police_clerk: Any) -> None:
    with pytest.raises(PlatformError) as caught:
        load(checkups, police_clerk, HEADER, "A001,1,,,,")
    assert (caught.value.status, caught.value.code) == (403, "forbidden")
    assert caught.value.message == "Only clerks of Health Commission may load records into checkups."
    assert not Record.objects.exists() and not events_but_sign_ins().exists()


@pytest.mark.parametrize("actor", ["health_approver", "auditor"])
def test_it_refuses_a_non_clerk(checkups: Dataset, actor: str, request: pytest.FixtureRequest) -> None:
    with pytest.raises(PlatformError) as caught:
        load(checkups, request.getfixturevalue(actor), HEADER, "A001,1,,,,")
    assert (caught.value.status, caught.value.code) == (403, "forbidden")
    assert not Record.objects.exists() and not events_but_sign_ins().exists()


def test_it_refuses_a_file_larger_than_the_limit(checkups: Dataset, health_clerk: Any, settings: Any) -> None:
    settings.IMPORT_MAX_UPLOAD_BYTES = 1024 * 1024
    imports_dir().mkdir(parents=True, exist_ok=True)
    before = set(imports_dir().iterdir())
    with pytest.raises(PlatformError) as caught:
        load(checkups, health_clerk, HEADER, *[f"A{i:06},1,,,,{'x' * 100}" for i in range(10_000)])
    assert caught.value.message == "The file is larger than 1 MB; split it into several files."
    assert set(imports_dir().iterdir()) == before  # what was saved of it is gone


def test_it_refuses_an_old_excel_file(checkups: Dataset, health_clerk: Any) -> None:
    with pytest.raises(PlatformError) as caught:
        records_import(dataset=checkups, source=b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", actor=health_clerk,
                       file_name="records.xls")
    assert caught.value.code == "invalid_input" and ".xlsx" in caught.value.message


# --- Edge cases: key length, NUL, line numbers, repeated columns, falsy keys ---

def test_a_key_longer_than_255_characters_is_reported(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER, "A" * 256 + ",1,,,,")
    assert [(p.line, p.column) for p in report.problems] == [(2, "citizen_id")]
    assert_nothing_loaded(report, checkups)


def test_a_nul_character_in_a_cell_is_reported(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER, "A001,1,,,,bad\x00note")
    assert [(p.line, p.column) for p in report.problems] == [(2, "note")]
    assert_nothing_loaded(report, checkups)


def test_the_reported_line_counts_lines_of_a_multi_line_cell(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER, 'A001,1,,,,"two', 'lines"', "A002,x,,,,")
    assert errors(report) == [(4, "age", "Not a whole number.")]


def test_a_csv_error_names_the_line_it_is_on(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER, "A001,1,2,yes,2026-01-01," + "x" * 200_000)
    assert [(p.line, p.column) for p in report.problems] == [(2, "")]


def test_the_reported_line_counts_blank_lines(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER, "A001,1,,,,", "", "A002,x,,,,")
    assert errors(report) == [(4, "age", "Not a whole number.")]


def test_a_header_naming_a_field_twice_loads_nothing(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER + ",age", "A001,1,,,,,2")
    assert [(p.line, p.column) for p in report.problems] == [(1, "")]
    assert_nothing_loaded(report, checkups)


def test_an_integer_lookup_key_of_zero_is_a_key(health: Department, health_clerk: Any) -> None:
    dataset = Dataset.objects.create(owner=health, identifier="rooms", title="Rooms")
    Field.objects.create(dataset=dataset, name="room", type=FieldType.INTEGER, is_lookup_key=True)
    report = records_import(dataset=dataset, source=csv_bytes("room", "0", "1"), actor=health_clerk)
    assert report.ok, errors(report)
    assert sorted(Record.objects.filter(dataset=dataset).values_list("key", flat=True)) == ["0", "1"]


@pytest.mark.parametrize("key", ["A/001", "A\x01"])
def test_a_key_that_cannot_be_part_of_the_api_address_is_reported(key: str, checkups: Dataset,
                                                                  health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER, f"{key},1,,,,")
    assert [(p.line, p.column) for p in report.problems] == [(2, "citizen_id")]
    assert "API address" in report.problems[0].message
    assert_nothing_loaded(report, checkups)
