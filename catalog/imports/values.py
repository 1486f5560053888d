"""A cell as a field's typed JSON value, and a value as a report may show it.

Cells arrive as text (CSV), as Python values (XLSX: numbers, dates, booleans) or as JSON values (JSON
Lines). Messages never repeat the value: a report shows the value in its own column, masked when the
field is personal, so no message can leak a citizen's data.
"""

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

import orjson
from django.utils.translation import gettext as _

from ..models import FieldType

TRUE_WORDS = {"true", "yes", "y", "1", "是"}
FALSE_WORDS = {"false", "no", "n", "0", "否"}
SHOWN_LENGTH = 60


def _whole(value: float) -> int:
    if not math.isfinite(value) or not value.is_integer():
        raise ValueError(_("Not a whole number."))
    return int(value)


def value_text(value: Any) -> str:
    """A record's value as text, the same everywhere (a preview cell, a CSV download, a template's sample, a
    lookup key in the API's URL): empty for none, true/false for yes/no, ISO 8601 for a date."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _text(raw: Any) -> str:
    """A non-text cell (a number or date typed into a spreadsheet) as the text a person would read."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer() and abs(raw) < 1e15:
        return str(int(raw))
    if isinstance(raw, dt.datetime):
        return raw.date().isoformat() if raw.time() == dt.time() else raw.isoformat(sep=" ")
    if isinstance(raw, dt.date):
        return raw.isoformat()
    if isinstance(raw, dict | list):
        raise ValueError(_("A value, not a list or an object."))
    return str(raw)


def _integer(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError(_("Not a whole number.")) from None


def _number(raw: str) -> float:
    try:
        number = float(raw)
    except ValueError:
        raise ValueError(_("Not a number.")) from None
    if not math.isfinite(number):
        raise ValueError(_("Not a finite number."))
    return number


def _boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise ValueError(_("Not yes/no: use true/false, yes/no, 是/否 or 1/0."))


def _date(raw: str) -> str:
    try:
        if len(raw) == 10:  # YYYY-MM-DD only (fromisoformat also takes 20260301)
            return dt.date.fromisoformat(raw).isoformat()
    except ValueError:
        pass
    raise ValueError(_("Not a date in the form YYYY-MM-DD."))


_TEXT: dict[str, Callable[[str], Any]] = {FieldType.STRING: str, FieldType.INTEGER: _integer,
                                          FieldType.NUMBER: _number, FieldType.BOOLEAN: _boolean,
                                          FieldType.DATE: _date}


def _parse_text(field_type: str, raw: str) -> Any:
    parse = _TEXT.get(field_type)
    if parse is None:
        raise ValueError(_("Unknown field type %(type)s.") % {"type": field_type})
    return parse(raw)


def parser_for(field_type: str) -> Callable[[Any], Any]:
    """``value_parse`` for one type, the common case (a cell of text) first: an import calls it for
    every cell of the file."""
    text = _TEXT.get(field_type)

    def parse(raw: Any) -> Any:
        if raw.__class__ is str and text is not None:
            raw = raw.strip()
            return text(raw) if raw else None
        return value_parse(field_type, raw)

    return parse


def value_parse(field_type: str, raw: Any) -> Any:
    """The field's JSON value of a cell (None when empty); ValueError says what to fix."""
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = raw.strip()
        return None if raw == "" else _parse_text(field_type, raw)
    if field_type == FieldType.STRING:
        return _text(raw)
    if isinstance(raw, bool):
        if field_type == FieldType.BOOLEAN:
            return raw
        raise ValueError(_("A yes/no value; the field's type is %(type)s.")
                         % {"type": FieldType(field_type).label if field_type in FieldType.values else field_type})
    if isinstance(raw, int | float):
        if field_type == FieldType.INTEGER:
            return raw if isinstance(raw, int) else _whole(raw)
        if field_type == FieldType.NUMBER:
            if not math.isfinite(raw):
                raise ValueError(_("Not a finite number."))
            return float(raw)
        if field_type == FieldType.BOOLEAN and raw in (0, 1):
            return bool(raw)
        return _parse_text(field_type, _text(raw))
    if isinstance(raw, dt.date):
        if field_type == FieldType.DATE:
            if isinstance(raw, dt.datetime) and raw.time() != dt.time():
                raise ValueError(_("A date and a time of day; the field holds a date only."))
            return (raw.date() if isinstance(raw, dt.datetime) else raw).isoformat()
        return _parse_text(field_type, _text(raw))
    return _parse_text(field_type, _text(raw))


def value_shown(value: Any, *, personal: bool) -> str:
    """A cell's value as a report shows it: shortened, and masked when the field is personal or a subject
    identifier (the first and last quarter kept, e.g. 1101**********0011, 李*), never the raw value."""
    if value is None:
        return ""
    if isinstance(value, dict | list):  # a JSON Lines cell holding an object: shown as its JSON
        text = orjson.dumps(value).decode()
    else:
        text = _text(value) if not isinstance(value, str) else value
    if personal:
        text = mask(text.strip())
    return text if len(text) <= SHOWN_LENGTH else text[:SHOWN_LENGTH - 1] + "…"


def mask(text: str) -> str:
    if len(text) <= 1:
        return "*" * len(text)
    if len(text) <= 3:
        return text[0] + "*" * (len(text) - 1)
    keep = max(1, len(text) // 4)
    return text[:keep] + "*" * (len(text) - 2 * keep) + text[-keep:]
