"""catalog.imports.readers: encodings detected from the bytes, formats, and what a reader itself reports."""

from pathlib import Path

import pytest

from catalog.imports.readers import (
    CsvTable,
    encoding_detect,
    format_detect,
    merged_ranges,
    open_table,
)
from catalog.models import ImportFormat, ImportProblemKind
from tests.catalog.conftest_imports import damaged_xlsx_bytes, xlsx_bytes

ROWS = "姓名,身份证号,地址\n李伟,110101199003070011,北京市东城区景山前街4号\n王芳,110101199003070022,杭州市西湖区\n"


def write(tmp_path: Path, content: bytes, name: str = "file.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(("content", "encoding"), [
    (ROWS.encode("utf-8"), "utf-8"),
    (b"\xef\xbb\xbf" + ROWS.encode("utf-8"), "utf-8-sig"),
    (ROWS.encode("gbk"), "gbk"),
    # 𠀀 (U+20000) and € exist in GB18030 only: GBK cannot encode them.
    ((ROWS + "赵𠀀,110101199003070033,€\n").encode("gb18030"), "gb18030"),
    (b"name,age\nLi Wei,34\n", "utf-8"),
])
def test_the_encoding_is_detected_from_the_bytes(tmp_path: Path, content: bytes, encoding: str) -> None:
    assert encoding_detect(write(tmp_path, content)) == encoding


@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
def test_a_short_chinese_excel_csv_is_not_taken_for_korean_or_big5(tmp_path: Path, encoding: str) -> None:
    """charset-normalizer alone guesses cp949 or big5 for a few Chinese words; the platform's files are GB."""
    content = "citizen_id,full_name\nA001,李伟\n".encode(encoding)
    assert encoding_detect(write(tmp_path, content)) == "gbk"


@pytest.mark.parametrize("locale_encoding", ["C.UTF-8", "zh_CN.GB18030", "en_US.ISO-8859-1"])
def test_the_platforms_locale_plays_no_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            locale_encoding: str) -> None:
    monkeypatch.setenv("LANG", locale_encoding)
    monkeypatch.setenv("LC_ALL", locale_encoding)
    assert encoding_detect(write(tmp_path, ROWS.encode("gbk"))) == "gbk"
    assert encoding_detect(write(tmp_path, ROWS.encode("utf-8"))) == "utf-8"


def test_a_non_utf8_byte_far_into_the_file_is_found(tmp_path: Path) -> None:
    """The strict UTF-8 check reads the whole file, and the sample is taken where the file stops being UTF-8."""
    content = b"a,b\n" + b"x,y\n" * 300_000 + "李,伟\n".encode("gbk")
    assert encoding_detect(write(tmp_path, content)) == "gbk"


def rows_of(path: Path, fmt: str) -> list[tuple[int, dict, list[tuple[str, str]]]]:
    with open_table(path, fmt) as table:
        return [(row.line, row.values, [(p.column, p.kind) for p in row.problems]) for row in table.rows()]


def test_a_gbk_csv_reads_as_text(tmp_path: Path) -> None:
    with open_table(write(tmp_path, ROWS.encode("gbk")), ImportFormat.CSV) as table:
        assert table.header == ["姓名", "身份证号", "地址"]
        rows = list(table.rows())
    assert rows[0].values == {"姓名": "李伟", "身份证号": "110101199003070011", "地址": "北京市东城区景山前街4号"}


def test_a_gbk_file_becomes_gb18030_when_a_later_line_needs_it(tmp_path: Path) -> None:
    content = ("a,b\n" + "李伟,1\n" * 20_000 + "赵𠀀,2\n").encode("gb18030")  # beyond the sample
    with open_table(write(tmp_path, content), ImportFormat.CSV) as table:
        assert table.encoding == "gbk"
        rows = list(table.rows())
        assert table.encoding == "gb18030"
    assert rows[-1].values == {"a": "赵𠀀", "b": "2"} and not rows[-1].problems


def test_an_undecodable_line_is_a_problem_of_its_row_with_its_line(tmp_path: Path) -> None:
    """A UTF-8 file with one cell pasted in GBK: that row is reported, the others read."""
    content = ("citizen_id,full_name\n" + "".join(f"A{i:03},张伟\n" for i in range(30))).encode() + \
        b"A999," + "李伟".encode("gbk") + b"\n" + "B001,王芳\n".encode()
    assert encoding_detect(write(tmp_path, content)) == "utf-8"
    rows = rows_of(write(tmp_path, content), ImportFormat.CSV)
    assert [(line, problems) for line, _, problems in rows if problems] == [
        (32, [("full_name", ImportProblemKind.UNDECODABLE)])]
    assert rows[-1][1] == {"citizen_id": "B001", "full_name": "王芳"}


def test_an_undecodable_header_is_a_header_problem(tmp_path: Path) -> None:
    content = "姓名,年龄\n".encode("gbk") + ("张伟,3\n" * 40).encode("utf-8")
    with open_table(write(tmp_path, content), ImportFormat.CSV) as table:
        assert [p.kind for p in table.header_problems] == [ImportProblemKind.UNDECODABLE]


def test_csv_rows_say_where_they_start_across_blank_lines_and_multi_line_cells(tmp_path: Path) -> None:
    content = b'id,note\nA1,"two\nlines"\n\nA2,x\n'
    assert [(line, values) for line, values, _ in rows_of(write(tmp_path, content), ImportFormat.CSV)] == [
        (2, {"id": "A1", "note": "two\nlines"}), (5, {"id": "A2", "note": "x"})]


def test_a_csv_row_with_the_wrong_number_of_cells_is_malformed(tmp_path: Path) -> None:
    rows = rows_of(write(tmp_path, b"id,note\nA1\nA2,x,y\n"), ImportFormat.CSV)
    assert [problems for _, _, problems in rows] == [[("", ImportProblemKind.MALFORMED)]] * 2


def test_the_csv_progress_counts_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, b"id\n" + b"A\n" * 10)
    table = CsvTable(path)
    list(table.rows())
    table.close()
    assert table.progress() == (23, 23)


# --- XLSX ---

def test_xlsx_cells_keep_their_types(tmp_path: Path) -> None:
    import datetime as dt

    path = write(tmp_path, xlsx_bytes([["id", "n", "day", "ok"], ["A1", 42, dt.date(2026, 1, 2), True], [],
                                       ["A2", 4.5, None, False]]), "f.xlsx")
    rows = rows_of(path, ImportFormat.XLSX)
    day = dt.datetime(2026, 1, 2)  # noqa: DTZ001 (a spreadsheet's dates are naive)
    assert rows == [(2, {"id": "A1", "n": 42, "day": day, "ok": True}, []),
                    (4, {"id": "A2", "n": 4.5, "day": None, "ok": False}, [])]


def test_merged_and_formula_cells_are_problems_of_their_rows(tmp_path: Path) -> None:
    path = write(tmp_path, xlsx_bytes([["id", "name", "dose"], ["A1", "李伟", "=1+1"], ["A2", "王芳", 1],
                                       ["A3", None, 2]], merged=("B3:B4",)), "f.xlsx")
    rows = rows_of(path, ImportFormat.XLSX)
    assert [(line, problems) for line, _, problems in rows] == [
        (2, [("dose", ImportProblemKind.FORMULA_CELL)]),
        (3, [("name", ImportProblemKind.MERGED_CELL)]),
        (4, [("name", ImportProblemKind.MERGED_CELL)])]


def test_a_merged_header_is_a_header_problem(tmp_path: Path) -> None:
    path = write(tmp_path, xlsx_bytes([["Vaccinations 2026", None], ["id", "name"]], merged=("A1:B1",)), "f.xlsx")
    with open_table(path, ImportFormat.XLSX) as table:
        assert [p.kind for p in table.header_problems] == [ImportProblemKind.MERGED_CELL]


def test_merged_ranges_are_read_by_streaming_the_sheet_xml(tmp_path: Path) -> None:
    path = write(tmp_path, xlsx_bytes([["a", "b", "c"]] * 5, merged=("A2:B3", "C5:C6")), "f.xlsx")
    assert merged_ranges(path, "xl/worksheets/sheet1.xml") == [(2, 3, 1, 2, "A2:B3"), (5, 6, 3, 3, "C5:C6")]


def test_a_file_that_is_not_a_workbook_is_a_header_problem(tmp_path: Path) -> None:
    with open_table(write(tmp_path, b"PK\x03\x04 not really a zip", "f.xlsx"), ImportFormat.XLSX) as table:
        assert [p.kind for p in table.header_problems] == [ImportProblemKind.MALFORMED]
        assert list(table.rows()) == []


def test_a_workbook_cut_in_half_is_reported_from_the_line_it_is_damaged_and_reading_stops(tmp_path: Path) -> None:
    with open_table(write(tmp_path, damaged_xlsx_bytes(), "f.xlsx"), ImportFormat.XLSX) as table:
        assert table.header == ["citizen_id", "full_name", "vaccine", "dose_date"] and not table.damaged
        rows = list(table.rows())
    *read, last = rows
    assert len(read) > 10 and [r.line for r in read] == list(range(2, len(read) + 2))
    assert all(not r.problems for r in read)
    message = f"The file is damaged from line {len(read) + 2}: save it again from Excel (.xlsx) and upload it again."
    assert (last.line, last.values, [(p.kind, p.message) for p in last.problems]) == (
        len(read) + 2, {}, [(ImportProblemKind.MALFORMED, message)])
    assert table.damaged == message


# --- JSON Lines ---

def test_json_lines_are_objects_one_per_line(tmp_path: Path) -> None:
    content = b'{"id": "A1", "n": 1}\n\n{"id": "A2", "n": null}\n[1, 2]\n{"id": \n{"id": "\xff"}\n'
    rows = rows_of(write(tmp_path, content, "f.jsonl"), ImportFormat.JSONL)
    assert rows[:2] == [(1, {"id": "A1", "n": 1}, []), (3, {"id": "A2", "n": None}, [])]
    assert [(line, problems) for line, _, problems in rows[2:]] == [
        (4, [("", ImportProblemKind.MALFORMED)]), (5, [("", ImportProblemKind.MALFORMED)]),
        (6, [("", ImportProblemKind.UNDECODABLE)])]


# --- Formats ---

@pytest.mark.parametrize(("name", "head", "fmt"), [
    ("records.csv", b"id,name", ImportFormat.CSV),
    ("records.CSV", b"\xef\xbb\xbfid", ImportFormat.CSV),
    ("records.xlsx", b"PK\x03\x04", ImportFormat.XLSX),
    ("records", b"PK\x03\x04", ImportFormat.XLSX),
    ("records.jsonl", b'{"id": 1}', ImportFormat.JSONL),
    ("records.ndjson", b'{"id": 1}', ImportFormat.JSONL),
    ("records", b' {"id": 1}', ImportFormat.JSONL),
    ("records.xls", b"\xd0\xcf\x11\xe0", None),
    ("records.csv", b"PK\x03\x04", None),
    ("records.xlsx", b"id,name", None),
])
def test_the_format_comes_from_the_name_checked_against_the_bytes(name: str, head: bytes, fmt: str | None) -> None:
    assert format_detect(name, head) == fmt


def test_a_utf16_file_is_a_header_problem_saying_what_to_do(tmp_path: Path) -> None:
    """Excel's "Unicode text" is UTF-16: refused in words the clerk can act on, not read as garbage."""
    with open_table(write(tmp_path, ROWS.encode("utf-16")), ImportFormat.CSV) as table:
        assert [p.kind for p in table.header_problems] == [ImportProblemKind.UNDECODABLE]
        assert "CSV UTF-8" in table.header_problems[0].message
        assert list(table.rows()) == []
