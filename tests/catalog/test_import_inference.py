"""catalog.imports.inference: a schema proposed from a file, with its likely key and citizens' identifiers."""

import datetime as dt
from pathlib import Path

import pytest

from catalog.imports.inference import (
    SAMPLE_ROWS,
    chinese_name_like,
    field_name_from,
    mobile_valid,
    resident_id_valid,
    schema_propose,
)
from catalog.models import FieldType, ImportFormat, Sensitivity
from core.errors import PlatformError
from tests.catalog.conftest_imports import damaged_xlsx_bytes, resident_id, xlsx_bytes


@pytest.mark.parametrize("number", [
    "11010519491231002X",  # the standard's own example, check character X
    "110101199003070011",
    "110101199003070118",
    "44030519900101003x",  # a lowercase x is read as X
])
def test_a_resident_id_with_a_valid_check_character_is_recognised(number: str) -> None:
    if number.endswith("x"):
        number = number[:-1] + "X"
        assert resident_id_valid(number.lower()) == resident_id_valid(number)
    else:
        assert resident_id_valid(number)


@pytest.mark.parametrize("number", [
    "110101199003070012",  # wrong check digit
    "11010519491231002Y",
    "110101199013070011",  # month 13
    "11010119900307001",  # 17 characters
    "010101199003070011",  # no region starts with 0
    "1101011990030700111",
])
def test_a_malformed_or_miscomputed_resident_id_is_not(number: str) -> None:
    assert not resident_id_valid(number)


def test_the_made_up_ids_of_these_tests_are_valid() -> None:
    assert all(resident_id_valid(resident_id(n)) for n in range(50))


@pytest.mark.parametrize(("value", "mobile"), [
    ("13812345678", True), ("+8613812345678", True), ("138 1234 5678", True), ("19912345678", True),
    ("12812345678", False), ("1381234567", False), ("010-12345678", False), ("23812345678", False),
])
def test_mainland_mobile_numbers(value: str, mobile: bool) -> None:
    assert mobile_valid(value) is mobile


@pytest.mark.parametrize(("value", "name"), [
    ("李伟", True), ("王小明", True), ("欧阳娜娜", True), ("诸葛亮", True),
    ("北京市", False), ("乙肝疫苗", False), ("张", False), ("李伟伟伟伟", False), ("Li Wei", False),
])
def test_chinese_personal_names_modestly(value: str, name: bool) -> None:
    assert chinese_name_like(value) is name


@pytest.mark.parametrize(("header", "name"), [
    ("身份证号", "citizen_id"), ("姓名", "full_name"), ("Dose Date", "dose_date"), ("doseDate", "dose_date"),
    ("  Vaccine (type) ", "vaccine_type"), ("接种单位", "column_4"), ("2026 total", "f_2026_total"),
    ("Café", "cafe"),
])
def test_field_names_follow_the_field_name_rule(header: str, name: str) -> None:
    assert field_name_from(header, 3) == name


def propose(tmp_path: Path, content: bytes, fmt: str = ImportFormat.CSV, name: str = "f.csv") -> dict:
    path = tmp_path / name
    path.write_bytes(content)
    proposal = schema_propose(path, fmt)
    return {f.header: f for f in proposal.fields} | {"": proposal}


def test_a_vaccination_file_gets_types_key_and_personal_flags(tmp_path: Path) -> None:
    lines = ["身份证号,姓名,手机号,疫苗,剂次,接种日期,体温,已复诊"]
    lines += [f"{resident_id(i)},{name},1381234{i:04d},乙肝疫苗,{i % 3},2026-04-{1 + i:02d},36.{i % 10},"
              f"{'是' if i % 2 else '否'}" for i, name in enumerate(["李伟", "王芳", "张敏", "刘洋", "陈静", "杨帆"])]
    fields = propose(tmp_path, "\n".join(lines).encode("gbk"))
    proposal = fields.pop("")
    assert proposal.encoding == "gbk" and proposal.rows == 6
    assert [(f.name, f.type, f.sensitivity, f.is_lookup_key, f.is_subject_identifier, f.flags)
            for f in fields.values()] == [
        ("citizen_id", FieldType.STRING, Sensitivity.PERSONAL, True, True, ["resident_id"]),
        ("full_name", FieldType.STRING, Sensitivity.PERSONAL, False, False, ["name"]),
        ("mobile", FieldType.STRING, Sensitivity.PERSONAL, False, False, ["mobile"]),
        ("column_4", FieldType.STRING, Sensitivity.INTERNAL, False, False, []),
        ("column_5", FieldType.INTEGER, Sensitivity.INTERNAL, False, False, []),
        ("column_6", FieldType.DATE, Sensitivity.INTERNAL, False, False, []),
        ("column_7", FieldType.NUMBER, Sensitivity.INTERNAL, False, False, []),
        ("column_8", FieldType.BOOLEAN, Sensitivity.INTERNAL, False, False, []),
    ]
    assert proposal.key == "citizen_id" and proposal.personal


def test_ids_with_wrong_check_digits_are_not_flagged(tmp_path: Path) -> None:
    bad = [resident_id(i)[:17] + ("0" if resident_id(i)[17] != "0" else "1") for i in range(5)]
    fields = propose(tmp_path, ("id,n\n" + "".join(f"{b},{i}\n" for i, b in enumerate(bad))).encode())
    assert fields["id"].flags == [] and fields["id"].sensitivity == Sensitivity.INTERNAL
    assert fields["id"].type == FieldType.STRING  # 18 digits stay text


def test_a_column_that_is_mostly_ids_is_flagged_and_a_few_are_not_enough(tmp_path: Path) -> None:
    mostly = [resident_id(i) for i in range(19)] + ["unknown"]
    few = [resident_id(i) for i in range(3)] + ["x"] * 17
    content = "a,b\n" + "".join(f"{m},{f}\n" for m, f in zip(mostly, few, strict=True))
    fields = propose(tmp_path, content.encode())
    assert fields["a"].flags == ["resident_id"] and fields["b"].flags == []


def test_the_key_is_a_unique_non_empty_identifier_column(tmp_path: Path) -> None:
    content = "batch,clinic_code,name,count\n" + "".join(f"B1,C{i:03},Clinic {i},{i}\n" for i in range(5))
    fields = propose(tmp_path, content.encode())
    assert fields[""].key == "clinic_code"


def test_without_an_identifier_header_the_first_unique_column_is_the_key(tmp_path: Path) -> None:
    content = "colour,size\nred,1\nblue,1\n"
    assert propose(tmp_path, content.encode())[""].key == "colour"


def test_a_column_with_a_blank_or_a_repeat_is_never_the_key(tmp_path: Path) -> None:
    content = "code,ref,amount\nA,X1,1.5\nB,,2.5\nA,X3,3.5\n"
    proposal = propose(tmp_path, content.encode())[""]
    assert proposal.key is None  # code repeats, ref has a blank, amount is a number


def test_numbers_with_leading_zeros_stay_text(tmp_path: Path) -> None:
    fields = propose(tmp_path, b"postcode,n\n010010,1\n310000,2\n")
    assert fields["postcode"].type == FieldType.STRING and fields["n"].type == FieldType.INTEGER


def test_a_name_header_flags_latin_names(tmp_path: Path) -> None:
    fields = propose(tmp_path, b"id,full_name\n1,Li Wei\n2,Wang Fang\n")
    assert fields["full_name"].flags == ["name"]


def test_an_xlsx_file_is_proposed_from_its_typed_cells(tmp_path: Path) -> None:
    content = xlsx_bytes([["ID", "Clinic", "Opened", "Beds", "Mobile"],
                          [1, "东城", dt.date(2020, 1, 1), 20.0, 13812345678],
                          [2, "西城", dt.date(2021, 5, 1), 35.5, 13912345678]])
    fields = propose(tmp_path, content, ImportFormat.XLSX, "f.xlsx")
    assert [(f.name, f.type) for f in list(fields.values())[:-1]] == [
        ("id", FieldType.INTEGER), ("clinic", FieldType.STRING), ("opened", FieldType.DATE),
        ("beds", FieldType.NUMBER), ("mobile", FieldType.STRING)]
    assert fields["ID"].is_lookup_key and fields["Mobile"].flags == ["mobile"]


def test_a_json_lines_file_is_proposed_from_its_keys(tmp_path: Path) -> None:
    content = b'{"code": "A1", "beds": 3, "open": true}\n{"code": "A2", "beds": 4, "open": false, "note": "x"}\n'
    fields = propose(tmp_path, content, ImportFormat.JSONL, "f.jsonl")
    assert [(f.name, f.type, f.is_lookup_key) for f in list(fields.values())[:-1]] == [
        ("code", FieldType.STRING, True), ("beds", FieldType.INTEGER, False), ("open", FieldType.BOOLEAN, False),
        ("note", FieldType.STRING, False)]


def test_repeated_names_are_made_unique(tmp_path: Path) -> None:
    proposal = propose(tmp_path, "备注,Note,note\n1,2,3\n".encode())[""]
    assert [f.name for f in proposal.fields] == ["note", "note_2", "note_3"]


def test_only_a_sample_of_rows_is_read(tmp_path: Path) -> None:
    content = "n\n" + "".join(f"{i}\n" for i in range(SAMPLE_ROWS + 10))
    assert propose(tmp_path, content.encode())[""].rows == SAMPLE_ROWS


def test_a_workbook_damaged_within_the_sample_is_refused_not_proposed_from_its_first_rows(tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    path.write_bytes(damaged_xlsx_bytes())
    with pytest.raises(PlatformError) as caught:
        schema_propose(path, ImportFormat.XLSX)
    assert caught.value.status == 400
    assert caught.value.message.startswith("The file is damaged from line ")
    assert caught.value.message.endswith(": save it again from Excel (.xlsx) and upload it again.")
