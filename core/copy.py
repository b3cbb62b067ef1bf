"""The one COPY writer: rows in PostgreSQL's COPY text format, and COPY … FROM STDIN."""

from __future__ import annotations

import io

_NONE = type(None)
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = "\\N"


def copy_field(values) -> list[str]:
    """One column (a sequence; None = NULL) as COPY text fields: text escaped, other values through ``str``
    (PostgreSQL reads True/False, ISO dates and decimals as they print).

    Column-wise with C-level passes where possible: text without tab, newline or backslash is used as it is."""
    values = values.tolist() if hasattr(values, "tolist") else list(values)
    kinds = set(map(type, values))
    nulls = _NONE in kinds
    kinds.discard(_NONE)
    if kinds <= {str}:
        text = "".join(filter(None, values))
        if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
            values = [v if v is None else v.translate(_ESCAPES) for v in values]
    elif str in kinds:  # text among other values
        values = [v if v is None else v.translate(_ESCAPES) if v.__class__ is str else str(v) for v in values]
    elif nulls:
        values = [v if v is None else str(v) for v in values]
    else:
        values = list(map(str, values))
    if nulls:
        values = [NULL if v is None else v for v in values]
    return values


def join_fields(fields) -> str:
    """Rows from columns of fields already in COPY text form (``copy_field``; numbers may stay numbers): tab-
    separated, one line each."""
    fields = list(fields)
    if not fields or not len(fields[0]):
        return ""
    try:
        return "\n".join(map("\t".join, zip(*fields))) + "\n"
    except TypeError:  # numbers among the fields: printed by %s
        template = "\t".join(["%s"] * len(fields)) + "\n"
        return "".join(map(template.__mod__, zip(*fields)))


def copy_text(columns) -> str:
    """Rows in COPY text format from columns of values (a dict of sequences, or a list of them)."""
    return join_fields(copy_field(v) for v in (columns.values() if isinstance(columns, dict) else columns))


def copy_data(cursor, table: str, columns: list[str], data: str) -> None:
    """COPY ``data`` (COPY text) into ``columns`` of ``table`` on a DB-API (psycopg2) cursor.

    The body is handed over in one read, so psycopg2 sends it with the GIL released (a COPY in a thread of
    its own then runs beside the Python work of the main thread)."""
    cols = ", ".join(f'"{c}"' for c in columns)
    body = data.encode()
    cursor.copy_expert(f"COPY {table} ({cols}) FROM STDIN", io.BytesIO(body), max(len(body), 8192))


def copy_columns(cursor, table: str, columns: dict) -> None:
    """COPY columns of values (name → sequence; None = NULL) into ``table``."""
    copy_data(cursor, table, list(columns), copy_text(columns))


def pg_array(values) -> str | None:
    """A list of text as a PostgreSQL array literal (every element quoted, ``\\`` and ``"`` escaped)."""
    if values is None:
        return None
    if not values:
        return "{}"
    text = '","'.join(values)
    if "\\" in text or '"' in text:
        return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"
    return '{"' + text + '"}'
