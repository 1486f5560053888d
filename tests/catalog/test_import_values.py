"""catalog.imports.values: a cell (text, spreadsheet or JSON value) as the field's typed value, and masking."""

import datetime as dt
from typing import Any

import pytest

from catalog.imports.values import mask, value_parse, value_shown
from catalog.models import FieldType


@pytest.mark.parametrize(("field_type", "raw", "value"), [
    (FieldType.STRING, "  Li Wei  ", "Li Wei"),
    (FieldType.INTEGER, " -42 ", -42),
    (FieldType.NUMBER, "71.5", 71.5),
    (FieldType.NUMBER, "1e3", 1000.0),
    (FieldType.BOOLEAN, "YES", True),
    (FieldType.BOOLEAN, "y", True),
    (FieldType.BOOLEAN, "1", True),
    (FieldType.BOOLEAN, "是", True),
    (FieldType.BOOLEAN, "False", False),
    (FieldType.BOOLEAN, "n", False),
    (FieldType.BOOLEAN, "0", False),
    (FieldType.BOOLEAN, "否", False),
    (FieldType.DATE, "2026-03-01", "2026-03-01"),
    (FieldType.STRING, "   ", None),
    (FieldType.INTEGER, "", None),
    (FieldType.DATE, "", None),
    (FieldType.DATE, None, None),
    # Spreadsheet cells and JSON values
    (FieldType.INTEGER, 42, 42),
    (FieldType.INTEGER, 42.0, 42),
    (FieldType.NUMBER, 7, 7.0),
    (FieldType.BOOLEAN, True, True),
    (FieldType.BOOLEAN, 0, False),
    (FieldType.DATE, dt.datetime(2026, 3, 1), "2026-03-01"),  # noqa: DTZ001 (a spreadsheet's dates are naive)
    (FieldType.DATE, dt.date(2026, 3, 1), "2026-03-01"),
    (FieldType.STRING, 1001, "1001"),
    (FieldType.STRING, 1001.0, "1001"),
    (FieldType.STRING, dt.datetime(2026, 3, 1), "2026-03-01"),  # noqa: DTZ001
    (FieldType.STRING, True, "true"),
])
def test_value_parse_reads_each_type(field_type: str, raw: Any, value: Any) -> None:
    assert value_parse(field_type, raw) == value


@pytest.mark.parametrize(("field_type", "raw", "message"), [
    (FieldType.INTEGER, "4.5", "Not a whole number."),
    (FieldType.INTEGER, "forty", "Not a whole number."),
    (FieldType.INTEGER, 4.5, "Not a whole number."),
    (FieldType.INTEGER, True, "A yes/no value; the field's type is Integer."),
    (FieldType.NUMBER, "1,5", "Not a number."),
    (FieldType.NUMBER, "inf", "Not a finite number."),
    (FieldType.NUMBER, "NaN", "Not a finite number."),
    (FieldType.NUMBER, "1e999", "Not a finite number."),
    (FieldType.BOOLEAN, "maybe", "Not yes/no: use true/false, yes/no, 是/否 or 1/0."),
    (FieldType.BOOLEAN, 2, "Not yes/no: use true/false, yes/no, 是/否 or 1/0."),
    (FieldType.DATE, "2026-02-30", "Not a date in the form YYYY-MM-DD."),
    (FieldType.DATE, "1/3/2026", "Not a date in the form YYYY-MM-DD."),
    (FieldType.DATE, "20260301", "Not a date in the form YYYY-MM-DD."),
    (FieldType.DATE, dt.datetime(2026, 3, 1, 9, 30),  # noqa: DTZ001
     "A date and a time of day; the field holds a date only."),
    (FieldType.STRING, {"a": 1}, "A value, not a list or an object."),
    ("uuid", "x", "Unknown field type uuid."),
])
def test_value_parse_says_what_to_fix_without_repeating_the_value(field_type: str, raw: Any, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        value_parse(field_type, raw)
    assert str(caught.value) == message


@pytest.mark.parametrize(("text", "masked"), [
    ("110101199003070011", "1101**********0011"),
    ("13812345678", "13*******78"),
    ("李伟", "李*"),
    ("欧阳娜娜", "欧**娜"),
    ("x", "*"),
    ("", ""),
])
def test_personal_values_are_masked(text: str, masked: str) -> None:
    assert mask(text) == masked


def test_a_shown_value_is_shortened_and_masked_only_when_personal() -> None:
    assert value_shown("April 2nd", personal=False) == "April 2nd"
    assert value_shown("April 2nd", personal=True) == "Ap*****nd"
    assert value_shown("x" * 100, personal=False) == "x" * 59 + "…"
    assert value_shown(None, personal=True) == ""
    assert value_shown(42.0, personal=False) == "42"
