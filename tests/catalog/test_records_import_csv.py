"""catalog.services.records_import_csv and the admin upload page: typed rows in, all or nothing.

A file with any bad row loads nothing and comes back as a report naming each problem by line and column.
"""

import datetime as dt
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from catalog.models import Dataset, DatasetStatus, Field, FieldType, Record, Sensitivity
from catalog.services import MAX_REPORTED_ERRORS, ImportReport, RowError, field_value_parse, records_import_csv
from core.errors import PlatformError
from registry.models import Department
from tests.conftest import RECORD_KEY, audit_inserts_refused, events_but_sign_ins

pytestmark = pytest.mark.django_db

HEADER = "citizen_id,age,weight_kg,smoker,checked_on,note"


@pytest.fixture
def checkups(health: Department) -> Dataset:
    """A dataset with one field of every type."""
    dataset = Dataset.objects.create(owner=health, identifier="checkups", title="Check-ups",
                                     status=DatasetStatus.PUBLISHED, legal_basis="Basic Health Law")
    for i, (name, type_) in enumerate([
        ("citizen_id", FieldType.STRING), ("age", FieldType.INTEGER), ("weight_kg", FieldType.NUMBER),
        ("smoker", FieldType.BOOLEAN), ("checked_on", FieldType.DATE), ("note", FieldType.STRING),
    ]):
        Field.objects.create(dataset=dataset, name=name, type=type_, sensitivity=Sensitivity.PERSONAL,
                             is_lookup_key=i == 0, is_subject_identifier=i == 0, position=i)
    return dataset


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def load(dataset: Dataset, actor: Any, *lines: str) -> ImportReport:
    return records_import_csv(dataset=dataset, content=csv_bytes(*lines), actor=actor)


def errors(report: ImportReport) -> list[tuple[int, str, str]]:
    return [(e.row, e.column, e.message) for e in report.errors]


def assert_nothing_loaded(report: ImportReport, dataset: Dataset,
                          before: list[tuple[str, Any, int]] | None = None) -> None:
    assert not report.ok
    assert (report.created, report.updated) == (0, 0)
    assert records_of(dataset) == (before or [])
    assert not events_but_sign_ins().exists()


def records_of(dataset: Dataset) -> list[tuple[str, Any, int]]:
    return [(r.key, r.data, r.version) for r in Record.objects.filter(dataset=dataset).order_by("key")]


# --- Loading ---

def test_it_loads_rows_with_typed_values(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER,
                  "A001, 42 ,71.5,yes,2026-03-01,first visit",
                  "A002,7,20,false,2025-12-31,")
    assert report.ok and errors(report) == []
    assert (report.rows, report.created, report.updated) == (2, 2, 0)
    a001 = Record.objects.get(dataset=checkups, key="A001")
    assert a001.data == {"citizen_id": "A001", "age": 42, "weight_kg": 71.5, "smoker": True,
                         "checked_on": "2026-03-01", "note": "first visit"}
    assert a001.version == 1 and a001.deleted_at is None
    a002 = Record.objects.get(dataset=checkups, key="A002")
    assert a002.data == {"citizen_id": "A002", "age": 7, "weight_kg": 20.0, "smoker": False,
                         "checked_on": "2025-12-31", "note": None}


def test_it_stores_json_types_not_strings(checkups: Dataset, health_clerk: Any) -> None:
    load(checkups, health_clerk, HEADER, "A001,42,71.5,1,2026-03-01,x")
    data = Record.objects.get(key="A001").data
    assert type(data["age"]) is int and type(data["weight_kg"]) is float and data["smoker"] is True


def test_it_reads_excel_style_utf8_with_bom_and_crlf(checkups: Dataset, health_clerk: Any) -> None:
    content = "\ufeff" + HEADER + "\r\n" + 'A001,42,71.5,Y,2026-03-01,"李伟, 复查"\r\n'
    report = records_import_csv(dataset=checkups, content=content.encode(), actor=health_clerk)
    assert report.ok, errors(report)
    assert Record.objects.get(key="A001").data["note"] == "李伟, 复查"


def test_it_updates_existing_keys_and_bumps_their_version(checkups: Dataset, health_clerk: Any) -> None:
    old = Record.objects.create(dataset=checkups, key="A001", data={"citizen_id": "A001", "age": 41}, version=3,
                                updated_at=timezone.now() - dt.timedelta(days=1))
    report = load(checkups, health_clerk, HEADER, "A001,42,,,,", "A002,7,,,,")
    assert (report.rows, report.created, report.updated) == (2, 1, 1)
    old.refresh_from_db()
    assert old.version == 4
    assert old.data == {"citizen_id": "A001", "age": 42, "weight_kg": None, "smoker": None, "checked_on": None,
                        "note": None}
    assert old.updated_at > timezone.now() - dt.timedelta(minutes=1)
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
    assert other.version == 1 and other.data["vaccine"] == "hepatitis-b"
    assert Record.objects.get(dataset=checkups, key=RECORD_KEY).version == 1


def test_a_header_only_file_loads_nothing_and_is_fine(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER)
    assert report.ok and (report.rows, report.created, report.updated) == (0, 0, 0)


def test_it_records_a_records_imported_event_with_counts_and_no_values(checkups: Dataset,
                                                                       health_clerk: Any) -> None:
    Record.objects.create(dataset=checkups, key="110101199003070011", data={})
    load(checkups, health_clerk, HEADER,
         "110101199003070011,42,71.5,yes,2026-03-01,secret-note",
         "110101199003070022,7,20,no,2025-12-31,other-note")
    event = events_but_sign_ins().get()
    assert (event.action, event.outcome, event.actor_id) == ("records.imported", "ok", "health-clerk")
    assert (event.object_type, event.object_id) == ("dataset", "checkups")
    assert event.detail == {"rows": 2, "created": 1, "updated": 1}
    leaf = event.canonical_leaf().decode()
    for raw in ("110101199003070011", "110101199003070022", "secret-note", "71.5", "2026-03-01"):
        assert raw not in leaf


def test_the_records_and_their_event_commit_together(checkups: Dataset, health_clerk: Any) -> None:
    """If the audit event cannot be written, no record is written either."""
    Record.objects.create(dataset=checkups, key="A001", data={"age": 1})
    with audit_inserts_refused(), pytest.raises(DatabaseError):
        load(checkups, health_clerk, HEADER, "A001,42,,,,", "A002,7,,,,")
    assert records_of(checkups) == [("A001", {"age": 1}, 1)]
    assert not events_but_sign_ins().exists()


# --- All or nothing: every problem reported, nothing written ---

def test_a_bad_cell_loads_nothing_and_names_line_and_column(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER, "A001,42,,,,", "A002,forty,,,,", "A003,9,,,,")
    assert errors(report) == [(3, "age", "'forty' is not a whole number")]
    assert report.rows == 3
    assert_nothing_loaded(report, checkups)


def test_it_reports_every_bad_cell_of_every_row(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER,
                  "A001,4.5,heavy,maybe,01/03/2026,ok",
                  "A002,1,1,1,2026-02-30,ok")
    assert errors(report) == [
        (2, "age", "'4.5' is not a whole number"),
        (2, "weight_kg", "'heavy' is not a number"),
        (2, "smoker", "'maybe' is not yes/no (use true/false, yes/no or 1/0)"),
        (2, "checked_on", "'01/03/2026' is not a date in the form YYYY-MM-DD"),
        (3, "checked_on", "'2026-02-30' is not a date in the form YYYY-MM-DD"),
    ]
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
    report = records_import_csv(dataset=checkups, content=b"", actor=health_clerk)
    assert [(e.row, e.column) for e in report.errors] == [(1, "")]
    assert "missing columns: citizen_id, age, weight_kg, smoker, checked_on, note" in report.errors[0].message
    assert_nothing_loaded(report, checkups)


def test_a_file_that_is_not_utf8_loads_nothing(checkups: Dataset, health_clerk: Any) -> None:
    content = (HEADER + "\nA001,1,2,yes,2026-01-01,李伟\n").encode("gbk")
    report = records_import_csv(dataset=checkups, content=content, actor=health_clerk)
    assert errors(report) == [(1, "", "The file is not UTF-8 text; save it as CSV UTF-8 and upload it again.")]
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
    assert len(report.errors) == 1
    assert report.errors[0].message.startswith("The file is not valid CSV from here on: field larger than field limit")
    assert_nothing_loaded(report, checkups)


def test_it_caps_the_reported_errors_and_counts_the_rest(checkups: Dataset, health_clerk: Any) -> None:
    rows = [f"A{i:03},not-a-number,,,," for i in range(MAX_REPORTED_ERRORS + 25)]
    report = load(checkups, health_clerk, HEADER, *rows)
    assert len(report.errors) == MAX_REPORTED_ERRORS and report.more_errors == 25
    assert report.errors[-1] == RowError(MAX_REPORTED_ERRORS + 1, "age", "'not-a-number' is not a whole number")
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
    assert not Record.objects.exists() and not events_but_sign_ins().exists()


@pytest.mark.parametrize("actor", ["health_approver", "auditor"])
def test_it_refuses_a_non_clerk(checkups: Dataset, actor: str, request: pytest.FixtureRequest) -> None:
    with pytest.raises(PlatformError) as caught:
        load(checkups, request.getfixturevalue(actor), HEADER, "A001,1,,,,")
    assert (caught.value.status, caught.value.code) == (403, "forbidden")
    assert not Record.objects.exists() and not events_but_sign_ins().exists()


# --- Edge cases: key length, NUL, line numbers, repeated columns, falsy keys ---

def test_a_key_longer_than_255_characters_is_reported(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER, "A" * 256 + ",1,,,,")
    assert [(e.row, e.column) for e in report.errors] == [(2, "citizen_id")]
    assert_nothing_loaded(report, checkups)


def test_a_nul_character_in_a_cell_is_reported(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER, "A001,1,,,,bad\x00note")
    assert [(e.row, e.column) for e in report.errors] == [(2, "note")]
    assert_nothing_loaded(report, checkups)


def test_the_reported_line_counts_lines_of_a_multi_line_cell(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER, 'A001,1,,,,"two', 'lines"', "A002,x,,,,")
    assert errors(report) == [(4, "age", "'x' is not a whole number")]


def test_a_csv_error_names_the_line_it_is_on(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER, "A001,1,2,yes,2026-01-01," + "x" * 200_000)
    assert [(e.row, e.column) for e in report.errors] == [(2, "")]


def test_the_reported_line_counts_blank_lines(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER, "A001,1,,,,", "", "A002,x,,,,")
    assert errors(report) == [(4, "age", "'x' is not a whole number")]


def test_a_header_naming_a_field_twice_loads_nothing(checkups: Dataset, health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER + ",age", "A001,1,,,,,2")
    assert [(e.row, e.column) for e in report.errors] == [(1, "")]
    assert_nothing_loaded(report, checkups)


def test_an_integer_lookup_key_of_zero_is_a_key(health: Department, health_clerk: Any) -> None:
    dataset = Dataset.objects.create(owner=health, identifier="rooms", title="Rooms")
    Field.objects.create(dataset=dataset, name="room", type=FieldType.INTEGER, is_lookup_key=True)
    report = records_import_csv(dataset=dataset, content=csv_bytes("room", "0", "1"), actor=health_clerk)
    assert report.ok, errors(report)
    assert sorted(Record.objects.filter(dataset=dataset).values_list("key", flat=True)) == ["0", "1"]


# --- field_value_parse ---

@pytest.mark.parametrize(("field_type", "raw", "value"), [
    (FieldType.STRING, "  Li Wei  ", "Li Wei"),
    (FieldType.INTEGER, " -42 ", -42),
    (FieldType.NUMBER, "71.5", 71.5),
    (FieldType.NUMBER, "1e3", 1000.0),
    (FieldType.BOOLEAN, "YES", True),
    (FieldType.BOOLEAN, "y", True),
    (FieldType.BOOLEAN, "1", True),
    (FieldType.BOOLEAN, "False", False),
    (FieldType.BOOLEAN, "n", False),
    (FieldType.BOOLEAN, "0", False),
    (FieldType.DATE, "2026-03-01", "2026-03-01"),
    (FieldType.STRING, "   ", None),
    (FieldType.INTEGER, "", None),
    (FieldType.DATE, "", None),
])
def test_field_value_parse_reads_each_type(field_type: str, raw: str, value: Any) -> None:
    assert field_value_parse(field_type, raw) == value


@pytest.mark.parametrize(("field_type", "raw", "message"), [
    (FieldType.INTEGER, "4.5", "'4.5' is not a whole number"),
    (FieldType.INTEGER, "forty", "'forty' is not a whole number"),
    (FieldType.NUMBER, "1,5", "'1,5' is not a number"),
    (FieldType.NUMBER, "inf", "'inf' is not a finite number"),
    (FieldType.NUMBER, "NaN", "'NaN' is not a finite number"),
    (FieldType.NUMBER, "1e999", "'1e999' is not a finite number"),
    (FieldType.BOOLEAN, "maybe", "'maybe' is not yes/no (use true/false, yes/no or 1/0)"),
    (FieldType.DATE, "2026-02-30", "'2026-02-30' is not a date in the form YYYY-MM-DD"),
    (FieldType.DATE, "1/3/2026", "'1/3/2026' is not a date in the form YYYY-MM-DD"),
    ("uuid", "x", "unknown field type uuid"),
])
def test_field_value_parse_says_what_to_fix(field_type: str, raw: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)") + "$"):
        field_value_parse(field_type, raw)


# --- The admin upload page ---

def import_url(dataset: Dataset) -> str:
    return reverse("admin:catalog_dataset_import", args=[dataset.pk])


def upload(http: Client, dataset: Dataset, content: bytes) -> Any:
    return http.post(import_url(dataset), {"file": SimpleUploadedFile("records.csv", content, "text/csv")})


VACCINATION_HEADER = "citizen_id,full_name,vaccine,dose_date"


def test_the_upload_page_shows_the_expected_header(client: Client, health_clerk: Any,
                                                   vaccinations: Dataset) -> None:
    client.force_login(health_clerk)
    response = client.get(import_url(vaccinations))
    assert response.status_code == 200
    assert "citizen_id,full_name,vaccine,dose_date" in response.content.decode()


def test_the_upload_page_loads_a_good_file_and_redirects(client: Client, health_clerk: Any,
                                                         vaccinations: Dataset) -> None:
    client.force_login(health_clerk)
    response = upload(client, vaccinations, csv_bytes(VACCINATION_HEADER,
                                                      f"{RECORD_KEY},Li Wei,hepatitis-b,2026-04-01",
                                                      "110101199003070022,Wang Fang,measles,2026-04-02"))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:catalog_dataset_change", args=[vaccinations.pk])
    assert Record.objects.get(key=RECORD_KEY).version == 2
    assert Record.objects.get(key="110101199003070022").data["vaccine"] == "measles"
    assert events_but_sign_ins().get().action == "records.imported"
    messages = [str(m) for m in client.get(response["Location"]).context["messages"]]
    assert messages == ["Loaded 2 rows into vaccinations: 1 new, 1 updated."]


def test_the_upload_page_shows_the_report_of_a_bad_file_with_400(client: Client, health_clerk: Any,
                                                                 vaccinations: Dataset) -> None:
    client.force_login(health_clerk)
    before = records_of(vaccinations)
    response = upload(client, vaccinations, csv_bytes(VACCINATION_HEADER,
                                                      "110101199003070022,Wang Fang,measles,2026-04-02",
                                                      "110101199003070033,Zhao Lei,measles,April 2nd"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was loaded: 1 problem(s) in 2 rows." in page
    assert "<td>3</td><td>dose_date</td><td>&#x27;April 2nd&#x27; is not a date in the form YYYY-MM-DD</td>" in page
    assert records_of(vaccinations) == before
    assert not events_but_sign_ins().exists()


def test_the_upload_page_shows_a_refusal_of_the_service_as_a_form_error(client: Client, health_clerk: Any,
                                                                        vaccinations: Dataset) -> None:
    Field.objects.filter(dataset=vaccinations).update(is_lookup_key=False)
    client.force_login(health_clerk)
    response = upload(client, vaccinations, csv_bytes(VACCINATION_HEADER, "1,a,b,2026-01-01"))
    assert "mark one as the lookup key" in response.content.decode()
    assert Record.objects.filter(dataset=vaccinations).count() == 1


def test_the_upload_page_is_404_for_a_clerk_of_another_department(client: Client, police_clerk: Any,
                                                                  vaccinations: Dataset) -> None:
    client.force_login(police_clerk)
    assert client.get(import_url(vaccinations)).status_code == 404
    response = upload(client, vaccinations, csv_bytes(VACCINATION_HEADER, "110101199003070022,W,m,2026-04-02"))
    assert response.status_code == 404
    assert Record.objects.filter(dataset=vaccinations).count() == 1
    assert not events_but_sign_ins().exists()


@pytest.mark.parametrize("actor", ["health_approver", "auditor"])
def test_the_upload_page_is_403_for_those_who_may_only_look(client: Client, actor: str, vaccinations: Dataset,
                                                            request: pytest.FixtureRequest) -> None:
    client.force_login(request.getfixturevalue(actor))
    response = upload(client, vaccinations, csv_bytes(VACCINATION_HEADER, "110101199003070022,W,m,2026-04-02"))
    assert response.status_code == 403
    assert "Only clerks of Health Commission may load records into vaccinations." in response.content.decode()
    assert Record.objects.filter(dataset=vaccinations).count() == 1
    assert not events_but_sign_ins().exists()


def test_the_upload_page_needs_a_login(client: Client, vaccinations: Dataset) -> None:
    response = client.get(import_url(vaccinations))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]




@pytest.mark.parametrize("key", ["A/001", "A\x01"])
def test_a_key_that_cannot_be_part_of_the_api_address_is_reported(key: str, checkups: Dataset,
                                                                  health_clerk: Any) -> None:
    report = load(checkups, health_clerk, HEADER, f"{key},1,,,,")
    assert [(e.row, e.column) for e in report.errors] == [(2, "citizen_id")]
    assert "API address" in report.errors[0].message
    assert_nothing_loaded(report, checkups)
