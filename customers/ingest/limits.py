"""What an import file may hold (``Limits``, from the settings) and the file-level error that refuses it."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from core.errors import ValidationFailed


class ImportFileError(ValidationFailed):
    """The file as a whole cannot be imported (format, encoding, columns); nothing was written."""

    code = "import_file_error"

    def __init__(self, message):
        super().__init__(message, field="file")


@dataclass(frozen=True)
class Limits:
    """What a file may hold, checked while it is read (never taken from what the file says about itself: an
    xlsx's ``<dimension>`` tag or its zip directory can lie). Each is a setting; see README."""

    rows: int = 2_000_000  # CRM_IMPORT_MAX_ROWS: data rows
    columns: int = 200  # CRM_IMPORT_MAX_COLUMNS
    line_bytes: int = 64 * 1024  # CRM_IMPORT_MAX_LINE_KB: one line of a CSV file, one row of a sheet (characters)
    cells: int = 10_000_000  # CRM_IMPORT_MAX_XLSX_CELLS: cells of an Excel sheet, counted as they are read
    unzipped_bytes: int = 1024 * 1024 * 1024  # CRM_IMPORT_MAX_UNZIPPED_MB: an .xlsx is a zip; its unpacked size

    @classmethod
    def from_settings(cls) -> Limits:
        from django.conf import settings

        d = cls()
        return cls(rows=getattr(settings, "CRM_IMPORT_MAX_ROWS", d.rows),
                   columns=getattr(settings, "CRM_IMPORT_MAX_COLUMNS", d.columns),
                   line_bytes=getattr(settings, "CRM_IMPORT_MAX_LINE_KB", d.line_bytes // 1024) * 1024,
                   cells=getattr(settings, "CRM_IMPORT_MAX_XLSX_CELLS", d.cells),
                   unzipped_bytes=getattr(settings, "CRM_IMPORT_MAX_UNZIPPED_MB", d.unzipped_bytes >> 20) << 20)


def too_many_rows(limits: Limits) -> ImportFileError:
    return ImportFileError(_("The file has more than %(limit)d data rows: import it in parts of at most %(limit)d "
                             "rows.") % {"limit": limits.rows})


def too_many_columns(limits: Limits, n: int) -> ImportFileError:
    return ImportFileError(_("The file has %(n)d columns; at most %(limit)d can be read. Remove the columns that "
                             "are not needed.") % {"n": n, "limit": limits.columns})


def line_too_long(limits: Limits, line: int) -> ImportFileError:
    return ImportFileError(_("Line %(line)d is longer than %(limit)d KB, which no record of the CRM needs: check "
                             "that the file is the right one and its values are separated.")
                           % {"line": line, "limit": limits.line_bytes // 1024})
