"""Shared by the import tests (imported explicitly): a dataset with a field of every type, file builders."""

import datetime as dt
import io
from pathlib import Path
from typing import Any

from catalog.models import Dataset, DatasetStatus, Field, FieldType, Record, Sensitivity
from registry.models import Department

CHECKUPS_HEADER = "citizen_id,age,weight_kg,smoker,checked_on,note"
VACCINATION_HEADER = "citizen_id,full_name,vaccine,dose_date"


def build_checkups(owner: Department) -> Dataset:
    """A dataset with one field of every type; the key is a personal subject identifier."""
    dataset = Dataset.objects.create(owner=owner, identifier="checkups", title="Check-ups",
                                     status=DatasetStatus.PUBLISHED, legal_basis="Basic Health Law",
                                     personal_data=True)
    for i, (name, type_, sensitivity) in enumerate([
        ("citizen_id", FieldType.STRING, Sensitivity.PERSONAL), ("age", FieldType.INTEGER, Sensitivity.INTERNAL),
        ("weight_kg", FieldType.NUMBER, Sensitivity.INTERNAL), ("smoker", FieldType.BOOLEAN, Sensitivity.INTERNAL),
        ("checked_on", FieldType.DATE, Sensitivity.INTERNAL), ("note", FieldType.STRING, Sensitivity.PERSONAL),
    ]):
        Field.objects.create(dataset=dataset, name=name, type=type_, sensitivity=sensitivity, is_lookup_key=i == 0,
                             is_subject_identifier=i == 0, position=i)
    return dataset


def csv_bytes(*lines: str, encoding: str = "utf-8") -> bytes:
    return ("\n".join(lines) + "\n").encode(encoding)


def xlsx_bytes(rows: list[list[Any]], merged: tuple[str, ...] = ()) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    for cells in merged:
        sheet.merge_cells(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def records_of(dataset: Dataset) -> list[tuple[str, Any, int]]:
    """The served records: (key, data, version)."""
    dataset.refresh_from_db()
    return [(r.key, r.data, r.version) for r in Record.objects.filter(
        dataset=dataset, generation=dataset.records_generation).order_by("key")]


def resident_id(serial: int, birth: dt.date = dt.date(1990, 3, 7), region: str = "110101") -> str:
    """A well-formed (made-up) resident identity number: region, birth date, serial, check character."""
    body = f"{region}{birth:%Y%m%d}{serial % 1000:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def big_vaccinations_csv(path: Path, rows: int, *, include: str = "") -> Path:
    """A CSV of ``rows`` vaccination records for the ``vaccinations`` dataset's schema, about 115 bytes a
    row (440,000 rows is about 50 MB, the upload limit); ``include`` is the key of the last row."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(VACCINATION_HEADER + "\n")
        for i in range(rows):
            key = include if include and i == rows - 1 else f"2201011990{i:08d}"
            handle.write(f"{key},李伟{i % 97} Zhang Wei Li Hua Wang Fang,"
                         f"hepatitis-b dose {i % 3} at Dongcheng District clinic,2026-04-{1 + i % 28:02d}\n")
    return path


def damaged_xlsx_bytes(rows: int = 400) -> bytes:
    """A vaccinations workbook whose sheet XML is cut in half (a copy interrupted, a bad disk): a valid zip,
    a header and the first rows readable, then broken XML. Large enough that the XML parser, which reads
    16 KiB at a time, meets the cut while the rows are read, not when the header is."""
    import zipfile

    content = xlsx_bytes([VACCINATION_HEADER.split(","), *[
        [f"2201011990{i:08d}", f"Name {i}", "measles", "2026-04-01"] for i in range(rows)]])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as cut:
        for member in source.infolist():
            data = source.read(member.filename)
            cut.writestr(member, data[:len(data) // 2] if member.filename == "xl/worksheets/sheet1.xml" else data)
    return out.getvalue()
