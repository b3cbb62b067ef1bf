"""The one writer of every file the app hands out (customer exports, rejected import rows, later reports): CSV with a
UTF-8 byte-order mark (so Excel opens Chinese text correctly) or Excel .xlsx, with formula cells neutralised.

**Formula (CSV) injection.** A spreadsheet treats a cell starting with ``=``, ``+``, ``-`` or ``@`` (and, in some
programs, a tab or a carriage return before them) as a formula: a customer name ``=HYPERLINK("http://…")`` or
``-2+3+cmd|' /C calc'!A0`` stored through the API or an import would run in the bank employee's spreadsheet.
Such text is written with a leading ``'`` (OWASP's advice: the spreadsheet then shows it as text). Numbers stay
numbers: a number written as a number (``Decimal``, ``int``) is never touched, and neither is text that is only a
number (``-1200.50``: a negative balance, which a spreadsheet reads as the number it is). In .xlsx every string is
also stored as a string cell, never as a formula, whatever it starts with.

Why by hand: the rule is a few lines; the libraries that do it (defusedcsv) wrap only the csv module, not openpyxl.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
BOM = codecs.BOM_UTF8.decode()


def safe_cell(value):
    """The value to write in a cell: text that a spreadsheet would read as a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_row(row: Iterable) -> list:
    return [safe_cell(v) for v in row]


class CsvWriter:
    """``csv.writer`` over a text stream, every cell made safe. The stream's encoding gives the BOM (open files
    with ``encoding="utf-8-sig"``)."""

    def __init__(self, out, **kwargs):
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row: Iterable):
        return self._writer.writerow(safe_row(row))

    def writerows(self, rows: Iterable[Iterable]) -> None:
        for row in rows:
            self.writerow(row)


class _Line:
    def write(self, value):
        return value


def csv_stream(rows: Iterable[Iterable]) -> Iterator[bytes]:
    """Rows as CSV bytes for a streaming response: the UTF-8 BOM first, then one encoded line per row."""
    writer = csv.writer(_Line())
    yield BOM.encode()
    for row in rows:
        yield writer.writerow(safe_row(row)).encode()


def xlsx_file(rows: Iterable[Iterable], *, title: str = "Sheet1", out=None):
    """Rows as an .xlsx workbook (openpyxl write-only: rows are streamed to the file, not kept in memory) in
    ``out`` (a path or binary file; a new temporary file by default, returned rewound). Strings are string
    cells (never formulas) and made safe as in CSV; characters XML cannot hold are dropped."""
    import tempfile

    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=re.sub(r"[\[\]:*?/\\]", " ", title)[:31] or "Sheet1")
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, str):
                cell = WriteOnlyCell(sheet, value=safe_cell(ILLEGAL_CHARACTERS_RE.sub("", value)))
                cell.data_type = "s"  # text, even if it looks like a formula
            else:
                cell = WriteOnlyCell(sheet, value=value)
            cells.append(cell)
        sheet.append(cells)
    target = out if out is not None else tempfile.TemporaryFile()  # noqa: SIM115 - returned to the caller
    book.save(target)
    if out is None or isinstance(out, io.IOBase):
        target.seek(0)
    return target


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def download(rows: Iterable[Iterable], *, name: str, file_format: str, title: str):
    """An HTTP download of ``rows``: ``.xlsx`` (written to a temporary file, then sent) or CSV (streamed, BOM
    first). ``name`` without the extension; ``title``: the sheet's name."""
    from django.http import FileResponse, StreamingHttpResponse

    if file_format == "xlsx":
        return FileResponse(xlsx_file(rows, title=title), as_attachment=True, filename=f"{name}.xlsx",
                            content_type=XLSX_TYPE)
    response = StreamingHttpResponse(csv_stream(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response
