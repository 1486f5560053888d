"""Propose a dataset's schema from a file: field names and types, a likely lookup key, and which columns
look like citizens' identifiers (for the clerk to confirm, never applied unseen).

Reads the header and at most SAMPLE_ROWS rows, keeping per column only counters and, for the columns
that may still be the key, the values seen so far (so memory is bounded by the sample).

The identifier checks are deliberately modest:

- a resident identity number (公民身份号码, GB 11643-1999): 17 digits of which 7-14 are a real date, then
  the ISO 7064 MOD 11-2 check character;
- a mainland mobile number: 11 digits starting 13-19 (an optional +86);
- a Chinese personal name: 2 to 4 Han characters starting with one of the commonest surnames, or a
  column whose header says it holds names.
"""

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ErrorCode, PlatformError

from ..models import FieldType, Sensitivity
from .readers import open_table

SAMPLE_ROWS = 5000
MATCH_SHARE = 0.9  # of a column's non-empty values, for it to be flagged
NAME_SHARE = 0.8

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID = re.compile(r"^[1-9]\d{16}[\dX]$")
_MOBILE = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$")
_HAN_NAME = re.compile(r"^[\u4e00-\u9fff]{2,4}$|^[\u4e00-\u9fff]{1,6}·[\u4e00-\u9fff]{1,8}$")
# The commonest surnames (about 85% of people), and compound ones.
_SURNAMES = set("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕"
                "丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武"
                "戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮")
_COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "夏侯", "司徒",
                      "长孙", "宇文", "轩辕", "端木", "南宫", "独孤")
_NAME_HEADERS = {"姓名", "名字", "联系人", "联系人姓名", "户主姓名", "申请人", "申请人姓名", "name", "full_name",
                 "fullname", "person_name", "citizen_name"}
_KEY_HEADER = re.compile(r"(^|_)(id|code|no|number|key|uid|uuid)$|编号|代码|编码|号码|证号|身份证|统一社会信用代码")
#: Common headers of government files and the field names they get (others: from the Latin letters).
COMMON_NAMES = {
    "身份证号": "citizen_id", "身份证号码": "citizen_id", "公民身份号码": "citizen_id", "证件号码": "id_number",
    "姓名": "full_name", "性别": "sex", "出生日期": "birth_date", "年龄": "age", "民族": "ethnicity",
    "手机号": "mobile", "手机号码": "mobile", "联系电话": "phone", "电话": "phone", "地址": "address",
    "住址": "address", "户籍地址": "registered_address", "统一社会信用代码": "credit_code", "单位名称": "organisation",
    "日期": "date", "编号": "code", "备注": "note", "金额": "amount", "数量": "quantity", "状态": "status",
}
_TRUE_FALSE = {"true", "false", "yes", "no", "y", "n", "是", "否"}
_INTEGER = re.compile(r"^[+-]?(0|[1-9]\d{0,14})$")  # a leading zero or 16+ digits: an identifier, kept as text
_DIGITS = re.compile(r"^[+-]?\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def resident_id_valid(value: str) -> bool:
    """An 18-character resident identity number with a real birth date and a valid check character."""
    value = value.strip().upper()
    if not _ID.match(value):
        return False
    try:
        dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    total = sum(int(digit) * weight for digit, weight in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17]


def mobile_valid(value: str) -> bool:
    return bool(_MOBILE.match(re.sub(r"[\s-]", "", value)))


def chinese_name_like(value: str) -> bool:
    value = value.strip()
    return bool(_HAN_NAME.match(value)) and (value[:2] in _COMPOUND_SURNAMES or value[0] in _SURNAMES)


def field_name_from(header: str, position: int) -> str:
    """A field name (^[a-z][a-z0-9_]{0,62}$) for a header: a known Chinese header's usual name, else its
    Latin letters and digits in snake_case, else ``column_<n>``."""
    header = header.strip()
    if header in COMMON_NAMES:
        return COMMON_NAMES[header]
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", unicodedata.normalize("NFKD", header))
    name = re.sub(r"[^a-z0-9]+", "_", spaced.encode("ascii", "ignore").decode().lower()).strip("_")
    if not name:
        return f"column_{position + 1}"
    return (name if name[0].isalpha() else f"f_{name}")[:63]


def _unique_names(names: list[str]) -> list[str]:
    seen: set[str] = set()
    result = []
    for name in names:
        candidate, n = name, 2
        while candidate in seen:
            suffix = f"_{n}"
            candidate, n = name[:63 - len(suffix)] + suffix, n + 1
        seen.add(candidate)
        result.append(candidate)
    return result


def _kinds(value: Any) -> set[str]:
    """The types a non-empty value could be stored as (besides text)."""
    if isinstance(value, bool):
        return {FieldType.BOOLEAN}
    if isinstance(value, int):
        return {FieldType.INTEGER, FieldType.NUMBER}
    if isinstance(value, float):
        return {FieldType.INTEGER, FieldType.NUMBER} if value.is_integer() else {FieldType.NUMBER}
    if isinstance(value, dt.datetime):
        return {FieldType.DATE} if value.time() == dt.time() else set()
    if isinstance(value, dt.date):
        return {FieldType.DATE}
    text = str(value).strip()
    if text.lower() in _TRUE_FALSE:
        return {FieldType.BOOLEAN}
    if _DIGITS.match(text):
        return {FieldType.INTEGER, FieldType.NUMBER} if _INTEGER.match(text) else set()
    if _DATE.match(text):
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            return set()
        return {FieldType.DATE}
    try:
        number = float(text)
    except ValueError:
        return set()
    return {FieldType.NUMBER} if number == number and abs(number) != float("inf") else set()


@dataclass
class _Column:
    header: str
    filled: int = 0
    kinds: set[str] = field(default_factory=lambda: {FieldType.BOOLEAN, FieldType.INTEGER, FieldType.NUMBER,
                                                     FieldType.DATE})
    ids: int = 0
    mobiles: int = 0
    names: int = 0
    texts: int = 0
    distinct: set[str] | None = field(default_factory=set)  # None once a repeat or a blank rules it out as key

    def add(self, value: Any) -> None:
        if value is None or (isinstance(value, str) and not value.strip()):
            self.distinct = None
            return
        self.filled += 1
        self.kinds &= _kinds(value)
        text = value.strip() if isinstance(value, str) else str(value)
        self.ids += resident_id_valid(text)
        self.mobiles += mobile_valid(text)
        self.names += chinese_name_like(text)
        self.texts += isinstance(value, str) and not _kinds(value) and len(text) <= 40
        if self.distinct is not None:
            if text in self.distinct:
                self.distinct = None
            else:
                self.distinct.add(text)

    def share(self, count: int) -> float:
        return count / self.filled if self.filled else 0.0


@dataclass
class ProposedField:
    name: str
    header: str
    type: str
    sensitivity: str = Sensitivity.INTERNAL
    is_lookup_key: bool = False
    is_subject_identifier: bool = False
    flags: list[str] = field(default_factory=list)  # "resident_id", "mobile", "name"


@dataclass
class Proposal:
    format: str
    encoding: str
    rows: int  # rows read (at most SAMPLE_ROWS)
    fields: list[ProposedField]
    problems: list[str]  # what the reader could not read (the file may still be proposed from)

    @property
    def key(self) -> str | None:
        return next((f.name for f in self.fields if f.is_lookup_key), None)

    @property
    def personal(self) -> bool:
        return any(f.flags for f in self.fields)


def _propose_field(column: _Column, name: str) -> ProposedField:
    proposed = ProposedField(name=name, header=column.header, type=FieldType.STRING)
    header = column.header.strip().lower()
    if column.filled and column.share(column.ids) >= MATCH_SHARE:
        proposed.flags.append("resident_id")
        proposed.is_subject_identifier = True
    elif column.filled and column.share(column.mobiles) >= MATCH_SHARE:
        proposed.flags.append("mobile")
    elif column.filled and (column.share(column.names) >= NAME_SHARE
                            or (header in _NAME_HEADERS and column.share(column.texts) >= MATCH_SHARE)):
        proposed.flags.append("name")
    if proposed.flags:
        proposed.sensitivity = Sensitivity.PERSONAL  # identifiers stay text: 0-led, 18 digits, +86
    elif column.filled:
        proposed.type = next((t for t in (FieldType.BOOLEAN, FieldType.INTEGER, FieldType.NUMBER, FieldType.DATE)
                              if t in column.kinds), FieldType.STRING)
    return proposed


def _key_score(column: _Column, proposed: ProposedField) -> int:
    if column.distinct is None or not column.filled or proposed.type not in (FieldType.STRING, FieldType.INTEGER):
        return 0
    if "resident_id" in proposed.flags:
        return 3
    return 2 if _KEY_HEADER.search(column.header.lower()) or _KEY_HEADER.search(proposed.name) else 1


def schema_propose(path: Path, fmt: str) -> Proposal:
    """The proposed schema of the file (its header, or for JSON Lines the keys of its objects). A damaged
    file (a workbook that cannot be read to the end of the sample) is refused with the reader's words."""
    columns: dict[str, _Column] = {}
    with open_table(path, fmt) as table:
        problems = [p.message for p in table.header_problems]
        for header in table.header or []:
            columns.setdefault(header, _Column(header))
        rows = 0
        for row in table.rows():
            if rows >= SAMPLE_ROWS:
                break
            rows += 1
            for header, value in row.values.items():
                if header not in columns and table.header is None:
                    columns[header] = _Column(header)
                    columns[header].distinct = None if rows > 1 else set()  # absent from earlier rows
                if header in columns:
                    columns[header].add(value)
            if table.header is None:
                for header, column in columns.items():
                    if header not in row.values:
                        column.distinct = None
        encoding = table.encoding
        if table.damaged:  # the rows read are only part of the file: a proposal from them would mislead
            raise PlatformError(ErrorCode.INVALID_INPUT, table.damaged)
    names = _unique_names([field_name_from(c.header, i) for i, c in enumerate(columns.values())])
    fields = [_propose_field(column, name) for column, name in zip(columns.values(), names, strict=True)]
    scores = [_key_score(column, f) for column, f in zip(columns.values(), fields, strict=True)]
    if scores and max(scores) > 0:
        fields[scores.index(max(scores))].is_lookup_key = True
    return Proposal(format=fmt, encoding=encoding, rows=rows, fields=fields, problems=problems)
