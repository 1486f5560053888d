"""The dry run (catalog.imports.services.import_check): every row typed, every problem reported, nothing loaded.

Each kind of bad row comes back as (line, column, value, problem); values of personal fields are masked.
"""

import datetime as dt
from typing import Any

import pytest
from django.db import connection

from audit.models import AuditEvent
from catalog.imports.services import MAX_STORED_PROBLEMS, import_check, import_upload, imports_dir
from catalog.models import Dataset, ImportJob, ImportMode, ImportRow, ImportState, Record
from registry.models import Department
from tests.catalog.conftest_imports import (
    CHECKUPS_HEADER,
    VACCINATION_HEADER,
    build_checkups,
    csv_bytes,
    damaged_xlsx_bytes,
    xlsx_bytes,
)
from tests.conftest import events_but_sign_ins

pytestmark = pytest.mark.django_db


@pytest.fixture
def checkups(health: Department) -> Dataset:
    return build_checkups(health)


def check(dataset: Dataset, actor: Any, content: bytes, file_name: str = "records.csv",
          mode: str = ImportMode.UPSERT) -> ImportJob:
    job = import_upload(dataset=dataset, actor=actor, source=content, file_name=file_name, mode=mode)
    return import_check(job=job)


def report(job: ImportJob) -> list[tuple[int, str, str, str]]:
    return [(p.line, p.column, p.value, p.kind) for p in job.problem_rows.all()]


def assert_nothing_loaded(dataset: Dataset) -> None:
    assert not Record.objects.filter(dataset=dataset).exists()
    dataset.refresh_from_db()
    assert dataset.records_generation == 0


# --- A clean file ---

def test_a_clean_file_is_checked_staged_and_nothing_is_loaded(checkups: Dataset, health_clerk: Any) -> None:
    job = check(checkups, health_clerk, csv_bytes(CHECKUPS_HEADER, "A001,42,71.5,yes,2026-03-01,first",
                                                  "A002,7,20,no,2025-12-31,"))
    assert (job.state, job.rows, job.problems, job.existing, job.encoding) == (ImportState.CHECKED, 2, 0, 0, "utf-8")
    assert sorted(ImportRow.objects.filter(job=job).values_list("line", "key")) == [(2, "A001"), (3, "A002")]
    assert ImportRow.objects.get(job=job, key="A001").data == {
        "citizen_id": "A001", "age": 42, "weight_kg": 71.5, "smoker": True, "checked_on": "2026-03-01",
        "note": "first"}
    assert_nothing_loaded(checkups)


def test_the_check_counts_the_keys_already_loaded(checkups: Dataset, health_clerk: Any) -> None:
    Record.objects.create(dataset=checkups, key="A001", data={})
    job = check(checkups, health_clerk, csv_bytes(CHECKUPS_HEADER, "A001,1,,,,", "A002,2,,,,"))
    assert (job.rows, job.existing) == (2, 1)


def test_the_uploaded_file_is_deleted_once_checked(checkups: Dataset, health_clerk: Any) -> None:
    job = import_upload(dataset=checkups, actor=health_clerk, source=csv_bytes(CHECKUPS_HEADER, "A001,1,,,,"))
    assert (imports_dir() / job.stored_name).exists()
    import_check(job=job)
    assert not (imports_dir() / job.stored_name).exists()


def test_the_check_records_a_records_checked_event_with_the_files_digest(checkups: Dataset,
                                                                          health_clerk: Any) -> None:
    import hashlib

    content = csv_bytes(CHECKUPS_HEADER, "110101199003070011,1,,,,secret-note", "A002,x,,,,")
    job = check(checkups, health_clerk, content, "体检.csv", ImportMode.REPLACE)
    event = events_but_sign_ins().get()
    assert (event.action, event.actor_id, event.object_id) == ("records.checked", "health-clerk", "checkups")
    assert event.detail == {"job": job.pk, "file_digest": hashlib.sha256(content).hexdigest(), "format": "csv",
                            "encoding": "utf-8", "rows": 2, "problems": 1, "mode": "replace"}
    leaf = event.canonical_leaf().decode()
    assert "110101199003070011" not in leaf and "secret-note" not in leaf


def test_the_checked_event_never_keeps_the_file_name(checkups: Dataset, health_clerk: Any) -> None:
    """Clerks name files after people or their ID numbers; the permanent log keeps the digest only."""
    job = check(checkups, health_clerk, csv_bytes(CHECKUPS_HEADER, "A001,1,,,,"), "王芳-110101199003070011.csv")
    assert job.file_name == "王芳-110101199003070011.csv"  # the job row, which is not permanent, keeps it
    leaf = AuditEvent.objects.get(action="records.checked").canonical_leaf().decode()
    assert "王芳" not in leaf and "110101199003070011" not in leaf and "file_name" not in leaf


def test_a_second_delivery_of_the_check_finds_the_job_claimed(checkups: Dataset, health_clerk: Any) -> None:
    job = check(checkups, health_clerk, csv_bytes(CHECKUPS_HEADER, "A001,1,,,,"))
    again = import_check(job=job)
    assert again.state == ImportState.CHECKED
    assert AuditEvent.objects.filter(action="records.checked").count() == 1


# --- Each kind of bad row ---

def test_wrong_types_are_reported_by_line_and_column(checkups: Dataset, health_clerk: Any) -> None:
    job = check(checkups, health_clerk, csv_bytes(CHECKUPS_HEADER, "A001,forty,7O.5,maybe,March 1st,",
                                                  "A002,4,,,,"))
    assert report(job) == [(2, "age", "forty", "wrong_type"), (2, "weight_kg", "7O.5", "wrong_type"),
                           (2, "smoker", "maybe", "wrong_type"), (2, "checked_on", "March 1st", "wrong_type")]
    assert (job.state, job.rows, job.problems) == (ImportState.CHECKED, 2, 4)
    assert not ImportRow.objects.filter(job=job).exists()  # a file with problems is never applied
    assert_nothing_loaded(checkups)


def test_a_missing_key_is_a_missing_required_value(checkups: Dataset, health_clerk: Any) -> None:
    job = check(checkups, health_clerk, csv_bytes(CHECKUPS_HEADER, "A001,1,,,,", "  ,2,,,,"))
    assert report(job) == [(3, "citizen_id", "", "missing_value")]
    assert job.problem_rows.get().message == "The lookup key may not be empty."


def test_a_duplicate_key_names_the_line_that_has_it_first(checkups: Dataset, health_clerk: Any) -> None:
    job = check(checkups, health_clerk, csv_bytes(CHECKUPS_HEADER, "A001,1,,,,", "A002,2,,,,", " A001 ,3,,,,",
                                                  "A002,4,,,,", "A001,5,,,,"))
    assert [(p.line, p.column, p.kind, p.other_line, p.message) for p in job.problem_rows.all()] == [
        (4, "citizen_id", "duplicate_key", 2, "Duplicate key: also on line 2."),
        (5, "citizen_id", "duplicate_key", 3, "Duplicate key: also on line 3."),
        (6, "citizen_id", "duplicate_key", 2, "Duplicate key: also on line 2.")]
    assert job.problems == 3


def test_a_key_that_cannot_be_part_of_the_api_address_is_unusable(checkups: Dataset, health_clerk: Any) -> None:
    job = check(checkups, health_clerk, csv_bytes(CHECKUPS_HEADER, "A/001,1,,,,", "A" * 256 + ",1,,,,"))
    assert [(p.line, p.kind) for p in job.problem_rows.all()] == [(2, "invalid_key"), (3, "invalid_key")]


def test_a_wrong_header_stops_the_check_at_line_1(checkups: Dataset, health_clerk: Any) -> None:
    job = check(checkups, health_clerk, csv_bytes("citizen_id,Age,weight_kg,checked_on,note,shoe", "A001,1,2,,,"))
    assert [(p.line, p.kind, p.message) for p in job.problem_rows.all()] == [
        (1, "wrong_header", "The header must name exactly the dataset's fields (missing columns: age, smoker; "
                            "columns not in the schema: Age, shoe).")]
    assert job.rows == 0


def test_a_header_naming_a_field_twice_is_a_wrong_header(checkups: Dataset, health_clerk: Any) -> None:
    job = check(checkups, health_clerk, csv_bytes(CHECKUPS_HEADER + ",age", "A001,1,,,,,2"))
    assert "columns named twice: age" in job.problem_rows.get().message


def test_an_empty_file_is_a_wrong_header(checkups: Dataset, health_clerk: Any) -> None:
    job = check(checkups, health_clerk, b"")
    assert [(p.line, p.kind) for p in job.problem_rows.all()] == [(1, "wrong_header")]
    assert "missing columns: citizen_id, age, weight_kg, smoker, checked_on, note" in job.problem_rows.get().message


def test_malformed_rows_are_reported(checkups: Dataset, health_clerk: Any) -> None:
    job = check(checkups, health_clerk, csv_bytes(CHECKUPS_HEADER, "A001,1,2", "A002,1,,,,,extra", "A003,1,,,,a\x00b",
                                                  "A004,1,,,," + "x" * 200_000))
    assert [(p.line, p.column, p.kind) for p in job.problem_rows.all()] == [
        (2, "", "malformed"), (3, "", "malformed"), (4, "note", "malformed"), (5, "", "malformed")]
    assert job.problem_rows.last().message.startswith("The file is not valid CSV from here on: field larger than")


def test_a_gbk_csv_is_decoded_and_its_bad_rows_reported(checkups: Dataset, health_clerk: Any) -> None:
    """Saved by Chinese Excel: GBK, CRLF. It is read, not refused; its one bad row is reported."""
    content = (CHECKUPS_HEADER + "\r\nA001,42,71.5,是,2026-03-01,李伟复查\r\nA002,四十,,否,,王芳\r\n").encode("gbk")
    job = check(checkups, health_clerk, content)
    assert (job.encoding, job.rows) == ("gbk", 2)
    assert report(job) == [(3, "age", "四十", "wrong_type")]


def test_undecodable_text_is_reported_on_its_line(checkups: Dataset, health_clerk: Any) -> None:
    lines = [CHECKUPS_HEADER] + [f"A{i:03},{i},,,,复查记录{i}" for i in range(20)]
    content = csv_bytes(*lines) + b"B001,1,,,," + "李伟".encode("gbk") + b"\n"
    job = check(checkups, health_clerk, content)
    assert job.encoding == "utf-8"
    problems = list(job.problem_rows.all())
    assert [(p.line, p.column, p.kind) for p in problems] == [(22, "note", "undecodable")]
    assert "*" in problems[0].value  # the note is personal: masked even when unreadable


def test_an_xlsx_with_merged_and_formula_cells_is_reported(checkups: Dataset, health_clerk: Any) -> None:
    content = xlsx_bytes([CHECKUPS_HEADER.split(","),
                          ["A001", 42, 71.5, True, dt.date(2026, 3, 1), "ok"],
                          ["A002", "=40+2", 70, False, dt.date(2026, 3, 2), "merged"],
                          ["A003", 7, 20, False, dt.date(2026, 3, 3), None]], merged=("F3:F4",))
    job = check(checkups, health_clerk, content, "records.xlsx")
    assert (job.format, job.rows) == ("xlsx", 3)
    assert report(job) == [(3, "note", "m****d", "merged_cell"), (3, "age", "=40+2", "formula_cell"),
                           (4, "note", "", "merged_cell")]


def test_a_workbook_cut_in_half_is_a_problem_from_the_damaged_line_not_a_failed_check(vaccinations: Dataset,
                                                                                    health_clerk: Any) -> None:
    job = check(vaccinations, health_clerk, damaged_xlsx_bytes(), "records.xlsx")
    assert job.state == ImportState.CHECKED and job.error == ""
    problem = job.problem_rows.get()
    assert (problem.line, problem.column, problem.kind) == (job.rows + 1, "", "malformed")
    assert problem.message == (f"The file is damaged from line {job.rows + 1}: save it again from Excel (.xlsx) "
                               "and upload it again.")
    assert not ImportRow.objects.filter(job=job).exists()  # a file with problems is never applied


def test_a_clean_xlsx_is_typed_from_its_cells(checkups: Dataset, health_clerk: Any) -> None:
    content = xlsx_bytes([CHECKUPS_HEADER.split(","), ["A001", 42, 71.5, True, dt.date(2026, 3, 1), "ok"]])
    job = check(checkups, health_clerk, content, "records.xlsx")
    assert job.problems == 0
    assert ImportRow.objects.get(job=job).data == {"citizen_id": "A001", "age": 42, "weight_kg": 71.5,
                                                   "smoker": True, "checked_on": "2026-03-01", "note": "ok"}


def test_json_lines_are_checked_key_by_key(checkups: Dataset, health_clerk: Any) -> None:
    content = (b'{"citizen_id": "A001", "age": 42, "smoker": true, "checked_on": "2026-03-01"}\n'
               b'{"citizen_id": "A002", "age": "x", "shoe": 44}\n'
               b'{"age": 3}\n')
    job = check(checkups, health_clerk, content, "records.jsonl")
    assert report(job) == [(2, "shoe", "4*", "wrong_header"), (2, "age", "x", "wrong_type"),
                           (3, "citizen_id", "", "missing_value")]


def test_an_object_in_a_json_lines_cell_is_a_row_problem_not_a_failed_check(checkups: Dataset,
                                                                            health_clerk: Any) -> None:
    job = check(checkups, health_clerk, b'{"citizen_id": "A001", "note": {"a": [1]}}\n', "records.jsonl")
    assert job.state == ImportState.CHECKED
    assert report(job) == [(1, "note", '{"*****]}', "wrong_type")]  # its JSON, masked like any note


def test_a_json_lines_file_with_a_missing_key_means_null(checkups: Dataset, health_clerk: Any) -> None:
    job = check(checkups, health_clerk, b'{"citizen_id": "A001"}\n', "records.jsonl")
    assert job.problems == 0
    assert ImportRow.objects.get(job=job).data == {"citizen_id": "A001", "age": None, "weight_kg": None,
                                                   "smoker": None, "checked_on": None, "note": None}


# --- Values in the report ---

def test_values_of_personal_fields_are_masked_in_the_report(vaccinations: Dataset, health_clerk: Any) -> None:
    job = check(vaccinations, health_clerk, csv_bytes(VACCINATION_HEADER, "110101199003070022,王芳,measles,April",
                                                      "110101199003070022,李伟,measles,2026-04-02"))
    assert report(job) == [(2, "dose_date", "April", "wrong_type"),
                           (3, "citizen_id", "1101**********0022", "duplicate_key")]
    assert not job.problem_rows.filter(value__contains="110101199003070022").exists()


def test_a_header_given_as_the_fields_descriptions_is_understood(vaccinations: Dataset, health_clerk: Any) -> None:
    """A schema proposed from a file keeps its Chinese headers as descriptions; the next file uses them."""
    for name, description in [("citizen_id", "身份证号"), ("full_name", "姓名")]:
        vaccinations.fields.filter(name=name).update(description=description)
    job = check(vaccinations, health_clerk, csv_bytes("身份证号,姓名,vaccine,dose_date",
                                                      "110101199003070022,王芳,measles,2026-04-02"))
    assert job.problems == 0
    assert ImportRow.objects.get(job=job).data["full_name"] == "王芳"
    job = check(vaccinations, health_clerk, csv_bytes("身份证号,姓名,vaccine,dose_date",
                                                      "110101199003070033,李伟,measles,bad"))
    assert report(job) == [(2, "dose_date", "bad", "wrong_type")]


def test_columns_mapped_by_position_override_the_header(vaccinations: Dataset, health_clerk: Any) -> None:
    job = import_upload(dataset=vaccinations, actor=health_clerk, source=csv_bytes(
        "证号,名,苗,日期,备注", "110101199003070022,王芳,measles,2026-04-02,ignored"),
        columns=["citizen_id", "full_name", "vaccine", "dose_date", ""])
    job = import_check(job=job)
    assert job.problems == 0
    assert ImportRow.objects.get(job=job).data == {"citizen_id": "110101199003070022", "full_name": "王芳",
                                                   "vaccine": "measles", "dose_date": "2026-04-02"}


def test_the_report_keeps_the_first_problems_and_counts_them_all(checkups: Dataset, health_clerk: Any) -> None:
    rows = [f"A{i:04},x,,,," for i in range(MAX_STORED_PROBLEMS + 25)] + ["A0000,1,,,,"]
    job = check(checkups, health_clerk, csv_bytes(CHECKUPS_HEADER, *rows))
    assert job.problems == MAX_STORED_PROBLEMS + 26  # the duplicate key counted too
    assert job.problem_rows.count() == MAX_STORED_PROBLEMS


def test_a_check_that_fails_leaves_a_failed_job_with_its_event(checkups: Dataset, health_clerk: Any) -> None:
    job = import_upload(dataset=checkups, actor=health_clerk, source=csv_bytes(CHECKUPS_HEADER, "A001,1,,,,"))
    table = ImportRow._meta.db_table
    with connection.cursor() as cursor:  # the staging table refuses the row, as a full disk would
        if connection.vendor == "postgresql":
            cursor.execute("CREATE FUNCTION test_refuse_row() RETURNS trigger AS $$ BEGIN "
                           "RAISE EXCEPTION 'disk full'; END; $$ LANGUAGE plpgsql")
            cursor.execute(f"CREATE TRIGGER test_refuse_row BEFORE INSERT ON {table} "
                           "FOR EACH ROW EXECUTE FUNCTION test_refuse_row()")
        else:
            cursor.execute(f"CREATE TRIGGER test_refuse_row BEFORE INSERT ON {table} "
                           "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    with pytest.raises(Exception, match="disk full"):
        import_check(job=job)
    job.refresh_from_db()
    assert job.state == ImportState.FAILED
    assert job.error.startswith("An unexpected error stopped it (")  # the kind of error, never its text
    event = AuditEvent.objects.get(action="records.import_failed")
    assert event.detail == {"job": job.pk, "reason": job.error, "file_digest": job.file_digest}
    assert not (imports_dir() / job.stored_name).exists()
