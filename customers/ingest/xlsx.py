"""Reading the first sheet of an Excel .xlsx file as text rows, every limit checked while reading (a zip bomb, a
false ``<dimension>`` tag, too many cells)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from django.utils.translation import gettext as _

from .limits import ImportFileError, Limits, line_too_long, too_many_columns, too_many_rows


class _CountingZip(zipfile.ZipFile):
    """A zip archive that counts the bytes it unpacks and stops past a limit: the sizes in a zip's directory are
    checked first, and this counts what is really read (a zip bomb can lie in its directory)."""

    def __init__(self, path, *, limit: int):
        super().__init__(path)
        self.limit, self.unpacked = limit, 0

    def open(self, name, mode="r", pwd=None, **kwargs):
        handle = super().open(name, mode, pwd, **kwargs)
        return _CountedReader(handle, self) if mode == "r" else handle


class _UnpackedTooLarge(Exception):
    pass


class _CountedReader(io.RawIOBase):
    def __init__(self, handle, archive: _CountingZip):
        self.handle, self.archive = handle, archive

    def readable(self):
        return True

    def _count(self, data: bytes) -> bytes:
        self.archive.unpacked += len(data)
        if self.archive.unpacked > self.archive.limit:
            raise _UnpackedTooLarge
        return data

    def read(self, size=-1):
        return self._count(self.handle.read(size))

    def read1(self, size=-1):
        return self._count(self.handle.read1(size))

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self):
        self.handle.close()
        super().close()


def _cell_text(value) -> str:
    """A cell as the text a CSV file would hold (pandas' reading of a sheet with ``dtype=str``)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_sheet(path: Path, limits: Limits) -> list[list[str]]:
    """The first sheet's rows as text, streamed (openpyxl read-only) with every limit checked while reading: the
    zip's unpacked size (declared, then counted), the real number of cells, columns, rows and row length. The
    sheet's ``<dimension>`` tag is ignored (``reset_dimensions``): a false one would pad every row to 16,384
    columns, or cut rows off."""
    from openpyxl.reader.excel import ExcelReader

    unreadable = _("This is not a readable Excel .xlsx file (%(error)s).")
    try:
        with zipfile.ZipFile(path) as archive:
            declared = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as e:
        raise ImportFileError(unreadable % {"error": type(e).__name__}) from None
    too_large = ImportFileError(_("The Excel file unpacks to more than %(limit)d MB; save it as CSV (or split it) "
                                  "and upload it again.") % {"limit": limits.unzipped_bytes >> 20})
    if declared > limits.unzipped_bytes:
        raise too_large
    rows: list[list[str]] = []
    cells = 0
    try:
        reader = ExcelReader(str(path), read_only=True, data_only=True)
        reader.archive.close()
        reader.archive = _CountingZip(path, limit=limits.unzipped_bytes)
        try:
            reader.read()
            book = reader.wb
            if not book.worksheets:
                return rows
            sheet = book.worksheets[0]
            sheet.reset_dimensions()
            for values in sheet.iter_rows(values_only=True):
                cells += len(values)
                if cells > limits.cells:
                    raise ImportFileError(
                        _("The Excel sheet has more than %(limit)d cells (counted while reading it); save it as CSV "
                          "(or split it) and upload it again.") % {"limit": limits.cells})
                if len(values) > limits.columns:
                    raise too_many_columns(limits, len(values))
                if len(rows) > limits.rows:  # the header is one of the rows
                    raise too_many_rows(limits)
                row = [_cell_text(v) for v in values]
                if sum(map(len, row)) > limits.line_bytes:
                    raise line_too_long(limits, len(rows) + 1)
                rows.append(row)
        finally:
            reader.archive.close()
    except _UnpackedTooLarge:
        raise too_large from None
    except ImportFileError:
        raise
    except Exception as e:  # noqa: BLE001  openpyxl raises many kinds (zip, XML, key errors) for a damaged file
        raise ImportFileError(unreadable % {"error": type(e).__name__}) from None
    return rows
