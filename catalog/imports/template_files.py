"""A dataset's import templates: the header (its field names) and one sample row, as CSV or XLSX."""

import csv
import datetime as dt
import io
from typing import Any

from django.utils.translation import gettext as _

from ..models import Dataset, Field, FieldType
from .values import value_text

SAMPLE_DATE = dt.date(2026, 1, 31)


def sample_value(field: Field) -> Any:
    """An obviously made-up value of the field's type (a template is filled in, not loaded as it is)."""
    if field.type == FieldType.INTEGER:
        return 42
    if field.type == FieldType.NUMBER:
        return 3.5
    if field.type == FieldType.BOOLEAN:
        return True
    if field.type == FieldType.DATE:
        return SAMPLE_DATE
    return _("example")


def template_csv(dataset: Dataset) -> bytes:
    """UTF-8 with a byte order mark, so that Excel opens the Chinese text right."""
    fields = list(dataset.fields.all())
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([f.name for f in fields])
    writer.writerow([value_text(sample_value(f)) for f in fields])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def template_xlsx(dataset: Dataset) -> bytes:
    """The header in bold with each field's description as a comment; text columns formatted as text, so
    an identifier typed in keeps its leading zeros and all its digits."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    fields = list(dataset.fields.all())
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = dataset.identifier[:31]
    for column, f in enumerate(fields, start=1):
        header = sheet.cell(row=1, column=column, value=f.name)
        header.font = Font(bold=True)
        if f.description:
            header.comment = Comment(f.description, _("Platform"))
        cell = sheet.cell(row=2, column=column, value=sample_value(f))
        letter = get_column_letter(column)
        sheet.column_dimensions[letter].width = max(12, len(f.name) + 4)
        if f.type == FieldType.STRING:
            cell.number_format = "@"
            sheet.column_dimensions[letter].number_format = "@"
        elif f.type == FieldType.DATE:
            cell.number_format = "yyyy-mm-dd"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
