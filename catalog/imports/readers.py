"""Streaming readers: a file on disk, one row at a time, never the whole file in memory.

Every reader gives the header (``None`` for JSON Lines, where each line names its keys) and then rows
as ``SourceRow``: where the row starts (line of a CSV or JSON Lines file, row of a sheet; 1 is the
header), its values by column name, and the problems the reader itself found (undecodable text,
merged or formula cells, a row that is not valid CSV or JSON). Checking the values against a schema is
not the reader's job (``services``).

CSV's encoding is detected from the file's bytes, never from the platform's locale: a UTF-8 byte order
mark; else a strict UTF-8 check of the whole file (streamed); else charset-normalizer on a sample
around the first byte that is not UTF-8, preferring GBK/GB18030 (what Chinese Excel saves) when the
sample is Chinese. A line that does not decode is a problem of its row, not the end of the file.
"""

import codecs
import csv
import datetime as dt
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson
from charset_normalizer import from_bytes
from django.utils.translation import gettext as _

from ..models import ImportFormat, ImportProblemKind

CHUNK = 1024 * 1024
SAMPLE = 64 * 1024
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "hz", "cp936"}
# Multi-byte East Asian codecs charset-normalizer confuses with GBK on short samples.
_CJK = _GB_FAMILY | {"big5", "big5hkscs", "cp950", "cp949", "euc_kr", "johab", "euc_jp", "euc_jis_2004",
                     "euc_jisx0213", "shift_jis", "shift_jis_2004", "shift_jisx0213", "cp932", "iso2022_jp"}
ENCODING_LABELS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "gbk": "GBK", "gb18030": "GB18030"}


@dataclass
class CellProblem:
    """A problem a reader or the check found: in one column ("" for the whole row), of a kind, with the value."""

    column: str
    kind: str
    message: str
    value: Any = None


@dataclass
class SourceRow:
    line: int
    values: dict[str, Any]
    problems: list[CellProblem] = field(default_factory=list)


class Table:
    """An open file of records. Use as a context manager; iterate ``rows()`` once."""

    format: str = ""
    encoding: str = ""
    header: list[str] | None = None
    header_problems: list[CellProblem]
    size: int = 0
    #: Why reading stopped before the end of the file (it is damaged), or "": the rows read are then only
    #: part of it, so a schema is not proposed from them.
    damaged: str = ""

    def __init__(self) -> None:
        self.header_problems = []

    def rows(self) -> Iterator[SourceRow]:
        raise NotImplementedError

    def progress(self) -> tuple[int, int]:
        """(done, total) of the reading, in bytes or rows; total 0 when not known."""
        return 0, 0

    def close(self) -> None:
        """Release the file."""

    def __enter__(self) -> "Table":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


# --- Format and encoding ---

def format_detect(file_name: str, head: bytes) -> str | None:
    """The format from the file's name, checked against its first bytes; None when it is none we read."""
    suffix = Path(file_name).suffix.lower()
    zipped = head.startswith(b"PK\x03\x04")
    if suffix == ".xlsx" or (zipped and suffix not in (".csv", ".txt", ".jsonl", ".ndjson")):
        return ImportFormat.XLSX if zipped else None
    if zipped or head.startswith(b"\xd0\xcf\x11\xe0"):  # a workbook (.xls is OLE2) named as text
        return None
    if suffix in (".jsonl", ".ndjson"):
        return ImportFormat.JSONL
    if suffix in (".csv", ".txt"):
        return ImportFormat.CSV
    return ImportFormat.JSONL if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else ImportFormat.CSV


def _first_non_utf8(path: Path) -> int | None:
    """Offset of the first byte that is not UTF-8 (streamed, strict), or None when the whole file is."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return offset + exc.start
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return offset
    return None


def _sample(path: Path, around: int) -> bytes:
    """SAMPLE bytes of whole lines from a little before ``around``."""
    with path.open("rb") as handle:
        start = max(0, around - SAMPLE // 4)
        handle.seek(start)
        data = handle.read(SAMPLE)
    if start:
        data = data[data.find(b"\n") + 1:]
    cut = data.rfind(b"\n")
    return data[:cut + 1] if cut > 0 else data


def _mostly_utf8(sample: bytes) -> bool:
    """UTF-8 with a few bad bytes (a pasted cell), not another encoding: valid multi-byte characters
    outnumber the bad sequences ten to one."""
    text = sample.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    return sum(1 for ch in text if ord(ch) > 127) - bad >= 10 * bad


def encoding_detect(path: Path) -> str:
    """The Python codec name of a text file's encoding, from its bytes."""
    with path.open("rb") as handle:
        head = handle.read(3)
    if head == codecs.BOM_UTF8:
        return "utf-8-sig"
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return "utf-16"
    bad = _first_non_utf8(path)
    if bad is None:
        return "utf-8"
    sample = _sample(path, bad)
    if _mostly_utf8(sample):
        return "utf-8"  # its bad lines are reported as undecodable
    matches = from_bytes(sample)
    names = [match.encoding for match in matches]
    best = names[0] if names else ""
    chinese = _decodes(sample, "gb18030") and (
        any(name in _GB_FAMILY for name in names) or best in _CJK or not names)
    if chinese:
        return "gbk" if _decodes(sample, "gbk") else "gb18030"
    return best or "utf-8"


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


# --- CSV ---

class CsvTable(Table):
    format = ImportFormat.CSV

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.encoding = encoding_detect(path)
        # GB18030 is a superset of GBK: decode with it, and name the file GBK while every line is GBK.
        self._codec = "gb18030" if self.encoding == "gbk" else self.encoding
        self._file: IO[bytes] = path.open("rb")
        self.size = os.fstat(self._file.fileno()).st_size
        self._bytes = 0
        self._line = 0
        self._bad_lines: list[int] = []
        self._reader = csv.reader(self._lines())
        if self.encoding.replace("-", "_").startswith(("utf_16", "utf_32")):
            # Excel's "Unicode text": not read line by line; the clerk saves it again in one click.
            self._reader = csv.reader(iter(()))
            self.header = []
            self.header_problems.append(CellProblem("", ImportProblemKind.UNDECODABLE, _(
                "The file is UTF-16 text (Excel's \"Unicode text\"); save it as \"CSV UTF-8\" and upload it "
                "again.")))
            return
        try:
            header = next(self._reader, [])
        except csv.Error as exc:
            self.header = []
            self.header_problems.append(CellProblem("", ImportProblemKind.MALFORMED,
                                                    _("The header is not valid CSV: %(error)s.") % {"error": exc}))
            return
        self.header = [cell.strip() for cell in header]
        if self._bad_lines:
            self._bad_lines.clear()
            self.header_problems.append(CellProblem("", ImportProblemKind.UNDECODABLE, _(
                "The header is not readable text in %(encoding)s; save the file as CSV UTF-8.")
                % {"encoding": ENCODING_LABELS.get(self.encoding, self.encoding)}))

    def _lines(self) -> Iterator[str]:
        for raw in self._file:
            self._line += 1
            self._bytes += len(raw)
            try:
                text = raw.decode(self._codec)
            except UnicodeDecodeError:
                text = raw.decode(self._codec, "replace")
                self._bad_lines.append(self._line)
            else:
                if self.encoding == "gbk" and not raw.isascii() and not _decodes(raw, "gbk"):
                    self.encoding = "gb18030"
            yield text

    def rows(self) -> Iterator[SourceRow]:
        header = self.header or []
        while True:
            line = self._reader.line_num + 1  # where the next row starts; a quoted cell may span lines
            try:
                cells = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield SourceRow(line, {}, [CellProblem("", ImportProblemKind.MALFORMED, _(
                    "The file is not valid CSV from here on: %(error)s.") % {"error": exc})])
                return
            bad = [n for n in self._bad_lines if n <= self._reader.line_num]
            self._bad_lines = [n for n in self._bad_lines if n > self._reader.line_num]
            if not cells:
                continue  # a blank line
            row = SourceRow(line, {})
            if bad:
                row.problems += self._undecodable(header, cells)
            if len(cells) != len(header):
                row.problems.append(CellProblem("", ImportProblemKind.MALFORMED, _(
                    "The row has %(cells)d cells; the header has %(columns)d columns.")
                    % {"cells": len(cells), "columns": len(header)}))
                yield row
                continue
            row.values = dict(zip(header, cells, strict=True))
            yield row

    def _undecodable(self, header: list[str], cells: list[str]) -> list[CellProblem]:
        message = _("This text is not readable in %(encoding)s (the rest of the file is); retype it or save "
                    "the file as CSV UTF-8.") % {"encoding": ENCODING_LABELS.get(self.encoding, self.encoding)}
        problems = [CellProblem(column, ImportProblemKind.UNDECODABLE, message, cell)
                    for column, cell in zip(header, cells, strict=False) if "\ufffd" in cell]
        return problems or [CellProblem("", ImportProblemKind.UNDECODABLE, message)]

    def progress(self) -> tuple[int, int]:
        return self._bytes, self.size

    def close(self) -> None:
        self._file.close()


# --- JSON Lines ---

class JsonlTable(Table):
    format = ImportFormat.JSONL
    encoding = "utf-8"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._file: IO[bytes] = path.open("rb")
        self.size = os.fstat(self._file.fileno()).st_size
        self._bytes = 0

    def rows(self) -> Iterator[SourceRow]:
        for line, raw in enumerate(self._file, start=1):
            self._bytes += len(raw)
            if line == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[3:]
            if not raw.strip():
                continue
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                kind = ImportProblemKind.MALFORMED if _decodes(raw, "utf-8") else ImportProblemKind.UNDECODABLE
                message = (_("The line is not valid JSON: %(error)s.") % {"error": exc}
                           if kind == ImportProblemKind.MALFORMED else
                           _("The line is not UTF-8 text; JSON Lines files are UTF-8."))
                yield SourceRow(line, {}, [CellProblem("", kind, message)])
                continue
            if not isinstance(value, dict):
                yield SourceRow(line, {}, [CellProblem("", ImportProblemKind.MALFORMED,
                                                       _("Each line must be one JSON object, {...}."))])
                continue
            yield SourceRow(line, value)

    def progress(self) -> tuple[int, int]:
        return self._bytes, self.size

    def close(self) -> None:
        self._file.close()


# --- XLSX ---

_CELL_REF = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")
_MERGE_REF = re.compile(rb"<(?:\w+:)?mergeCell\s[^>]*?\bref=\"([^\"]+)\"")


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - 64
    return index


def merged_ranges(path: Path, member: str) -> list[tuple[int, int, int, int, str]]:
    """The sheet's merged ranges as (first row, last row, first column, last column, "A2:B3").

    Read-only worksheets do not expose them, so the sheet's XML is streamed out of the zip and searched
    for ``<mergeCell ref=...>`` (a raw '<' cannot occur in XML text, so cell contents cannot match).
    """
    ranges = []
    tail = b""
    with zipfile.ZipFile(path) as archive, archive.open(member) as stream:
        while chunk := stream.read(CHUNK):
            data = tail + chunk
            last = 0
            for match in _MERGE_REF.finditer(data):
                last = match.end()
                ref = match.group(1).decode("ascii", "replace")
                first, _sep, second = ref.partition(":")
                a, b = _CELL_REF.match(first), _CELL_REF.match(second or first)
                if a and b:
                    ranges.append((int(a.group(2)), int(b.group(2)), _column_index(a.group(1)),
                                   _column_index(b.group(1)), ref))
            tail = data[max(last, len(data) - 512):]  # a tag cut in two by the chunk boundary
    ranges.sort()
    return ranges


class XlsxTable(Table):
    """The workbook's first sheet; row 1 is the header. Formula and merged cells are problems: a platform
    record holds values, and a merged cell leaves all but one of its cells empty."""

    format = ImportFormat.XLSX

    def __init__(self, path: Path) -> None:
        super().__init__()
        import openpyxl  # a few hundred ms to import: only when a workbook is read

        self.size = path.stat().st_size
        self._book: Any = None
        self._rows: Iterator[Any] = iter(())
        self._done = 0
        self._total = 0
        self._file: IO[bytes] = path.open("rb")  # a file object: openpyxl refuses names without .xlsx
        try:
            self._book = openpyxl.load_workbook(self._file, read_only=True, data_only=False)
            sheet = self._book.worksheets[0]
            self._merged = merged_ranges(path, sheet._worksheet_path)
            self._total = sheet.max_row or 0
            self._rows = sheet.iter_rows()
            cells = next(self._rows, ())  # the sheet's XML is parsed as it is read: a cut one fails here too
        except Exception as exc:  # openpyxl raises many kinds on a damaged or foreign file
            self.header = []
            self._rows = iter(())
            self.damaged = _("The file is not a readable XLSX workbook (%(error)s); save it from Excel as .xlsx.") % {
                "error": type(exc).__name__}
            self.header_problems.append(CellProblem("", ImportProblemKind.MALFORMED, self.damaged))
            return
        self._merge_at = 0
        self._active: list[tuple[int, int, int, int, str]] = []
        self._done = 1
        self.header = ["" if c.value is None else str(c.value).strip() for c in cells]
        while self.header and not self.header[-1]:
            self.header.pop()
        for problem in self._cell_problems(1, cells, self.header):
            problem.message = _("Header: %(problem)s") % {"problem": problem.message}
            self.header_problems.append(problem)

    def _merges_of(self, row: int) -> list[tuple[int, int, int, int, str]]:
        """Merged ranges covering ``row``: rows come in order, so a sweep over the sorted ranges."""
        while self._merge_at < len(self._merged) and self._merged[self._merge_at][0] <= row:
            self._active.append(self._merged[self._merge_at])
            self._merge_at += 1
        self._active = [r for r in self._active if r[1] >= row]
        return self._active

    def _cell_problems(self, row: int, cells: Any, header: list[str]) -> list[CellProblem]:
        def column(index: int) -> str:
            return header[index - 1] if 0 < index <= len(header) and header[index - 1] else f"#{index}"

        problems = []
        for first_row, _last_row, first_col, _last_col, ref in self._merges_of(row):
            value = cells[first_col - 1].value if row == first_row and first_col <= len(cells) else None
            problems.append(CellProblem(column(first_col), ImportProblemKind.MERGED_CELL, _(
                "Cells %(cells)s are merged; unmerge them and fill in every cell.") % {"cells": ref}, value))
        for index, cell in enumerate(cells, start=1):
            if cell.data_type == "f":
                problems.append(CellProblem(column(index), ImportProblemKind.FORMULA_CELL, _(
                    "The cell holds a formula; paste its value instead (Paste Special > Values)."), cell.value))
            elif cell.data_type == "e":
                problems.append(CellProblem(column(index), ImportProblemKind.WRONG_TYPE, _(
                    "The cell holds an Excel error; enter a value."), cell.value))
        return problems

    def rows(self) -> Iterator[SourceRow]:
        header = self.header or []
        while True:
            line = self._done + 1
            try:
                cells = next(self._rows)
            except StopIteration:
                return
            except Exception:  # the sheet's XML is cut or corrupt from here on (ParseError and the like)
                self.damaged = _("The file is damaged from line %(line)d: save it again from Excel (.xlsx) and "
                                 "upload it again.") % {"line": line}
                yield SourceRow(line, {}, [CellProblem("", ImportProblemKind.MALFORMED, self.damaged)])
                return
            self._done = line
            values = [_cell_value(c.value) if c.data_type not in ("f", "e") else None for c in cells]
            problems = self._cell_problems(line, cells, header)
            if all(v is None or v == "" for v in values) and not problems:
                continue  # an empty row
            row = SourceRow(line, {}, problems)
            if any(v is not None and v != "" for v in values[len(header):]):
                row.problems.append(CellProblem("", ImportProblemKind.MALFORMED, _(
                    "The row has values beyond the header's %(columns)d columns.") % {"columns": len(header)}))
            values += [None] * (len(header) - len(values))
            row.values = dict(zip(header, values[:len(header)], strict=True))
            yield row

    def progress(self) -> tuple[int, int]:
        return self._done, self._total

    def close(self) -> None:
        if self._book is not None:
            self._book.close()
        self._file.close()


def _cell_value(value: Any) -> Any:
    if isinstance(value, dt.time | dt.timedelta):
        return str(value)
    return value


def open_table(path: Path, fmt: str) -> Table:
    """The reader for the format (``ImportFormat``)."""
    if fmt == ImportFormat.XLSX:
        return XlsxTable(path)
    if fmt == ImportFormat.JSONL:
        return JsonlTable(path)
    return CsvTable(path)
