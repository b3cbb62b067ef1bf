"""Set-based upserts from core banking: customers, monthly snapshots, product holdings.

One pipeline serves the bulk API (≤ 5,000 JSON records a request) and file imports (CSV/Excel, any
size, in batches):

1. **parse** every column at once (pandas): types, lengths, choices, dates, money; a bad value is an
   error on that record and field, never an exception;
2. **lock and read** the existing rows the batch names (``FOR UPDATE``, in key order, so two
   overlapping batches queue instead of deadlocking), and merge the batch over them;
3. **check** the merged records with the same rules as a hand-entered record (vectorised versions
   of ``customers.rules``) and the writer's scope;
4. **write** the good records with COPY into a temporary table, one ``INSERT … ON CONFLICT DO NOTHING``
   for the new ones and one ``UPDATE … WHERE <something changed>`` for the others: unchanged records are
   not touched (no new history row, no change-feed entry), created/updated ones are counted from
   ``RETURNING``; the profile history rows are written by the same statements (old → new for updates; for a new customer an entry marked
   ``created`` whose values are rebuilt when shown, see ``selectors.customer_history``).

Why by hand: no maintained library does validated, audited, set-based upserts into PostgreSQL
(django-import-export and bulk_update work row by row: ≈ 1,000 rows/s here against ≈ 40,000).

A record that is null or absent in a field keeps the stored value (send "" to clear a text field).
"""

from __future__ import annotations

import functools
import io
import math
import queue
import re
import threading
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils.translation import gettext as _

from org.api.authentication import ApiClient
from org.constants import Role
from org.models import Branch, User

from . import rules
from .constants import AUDITED_FIELDS, CustomerKind, IdType, LifecycleStage
from .models import Customer, FinancialSnapshot, Holding

MAX_BATCH = 5000
_MONEY = re.compile(r"-?\d{1,16}(\.\d{1,2})?")
_TRUE = {"true", "1", "yes", "y", "是", "t"}
_FALSE = {"false", "0", "no", "n", "否", "f", ""}
_DATE_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
_EMAIL = re.compile(r"[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+(?:\.[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+)*"
                    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]{2,63}(?<!-)")


@dataclass
class BulkResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[dict] = field(default_factory=list)

    def add(self, other: BulkResult) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejected += other.rejected
        self.errors.extend(other.errors)

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "rejected": self.rejected, "errors": self.errors}


class Errors:
    """Field errors of a batch, by row position: the first problem found in a field is the one reported."""

    def __init__(self, n: int):
        self.n = n
        self.by_field: dict[str, dict[int, str]] = {}
        self.bad = np.zeros(n, dtype=bool)

    def add(self, mask, field_name: str, message: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        seen = self.by_field.setdefault(field_name, {})
        text = str(message)
        for i in np.flatnonzero(mask):
            seen.setdefault(int(i), text)
        self.bad |= mask

    @property
    def items(self) -> list[tuple[int, str, str]]:
        return sorted((i, f, m) for f, rows in self.by_field.items() for i, m in rows.items())


# --------------------------------------------------------------------------------------------------
# Column parsing
# --------------------------------------------------------------------------------------------------
def _is_missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _rows_mask(n: int, rows: list[int]) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    if rows:
        mask[rows] = True
    return mask


# Every parser takes a column (Series, array or list) and returns an object array: None where no value.
# Each has a fast path for the common case — every value of the expected type and none of them wrong —
# checked with a few C-level passes over the whole column (``set(map(type, …))``, one ``"".join``, a
# ``max(map(len, …))``); any doubt falls back to the loop that finds and reports every bad value, so the
# results are the same either way. (A 5,000-record batch: 28 columns parsed in ≈ 20 ms instead of ≈ 100.)
_NONE = type(None)
_NUL = "\x00"


def _missing(s) -> np.ndarray:
    """None/NaN (and NaT) per value, in one C-level pass (``pd.isna`` of the object array)."""
    return pd.isna(np.asarray(s, dtype=object))


def _values(s) -> np.ndarray:
    """The column as a 1-d object array (lists inside stay list objects)."""
    if isinstance(s, np.ndarray) and s.dtype == object:
        return s
    if isinstance(s, pd.Series | pd.Index):
        return s.to_numpy(dtype=object)
    return np.fromiter(s, dtype=object, count=len(s))


def _objects(values) -> np.ndarray:
    return np.fromiter(values, dtype=object, count=len(values))


def _text(s, errors, name, *, max_length, choices=None, blank_is_missing=False, allow_blank=True):
    values = _values(s)
    allowed = None
    if choices is not None:
        allowed = set(choices) | ({""} if allow_blank and not blank_is_missing else set())
    check_blank = not allow_blank and not blank_is_missing
    if set(map(type, values)) <= {str, _NONE}:
        out = _objects([v if v is None else v.strip() for v in values])
        present = [v for v in out if v is not None]
        distinct = set(present)
        if blank_is_missing and "" in distinct:
            out[out == ""] = None
            distinct.discard("")
            present = [v for v in present if v]
        if not (_NUL in "".join(distinct) or (present and max(map(len, distinct)) > max_length)
                or (check_blank and "" in distinct) or (allowed is not None and not distinct <= allowed)):
            return out
    return _text_checked(values, errors, name, max_length=max_length, allowed=allowed, check_blank=check_blank,
                         blank_is_missing=blank_is_missing)


def _text_checked(values, errors, name, *, max_length, allowed, check_blank, blank_is_missing):
    n = len(values)
    out = np.full(n, None, dtype=object)
    # A value's first problem, in this order, is the one reported.
    not_text, nul, too_long, blank, not_choice = [], [], [], [], []
    for i, v in enumerate(values):
        if isinstance(v, str):
            v = v.strip()
            if blank_is_missing and not v:
                continue
            if _NUL in v:
                nul.append(i)
                continue
            out[i] = v
            if len(v) > max_length:
                too_long.append(i)
            elif check_blank and not v:
                blank.append(i)
            elif allowed is not None and v not in allowed:
                not_choice.append(i)
        elif not _is_missing(v):
            not_text.append(i)
    errors.add(_rows_mask(n, not_text), name, _("Enter text."))
    errors.add(_rows_mask(n, nul), name, _("Null characters are not allowed."))
    errors.add(_rows_mask(n, too_long), name,
               _("Ensure this value has at most %(max)d characters.") % {"max": max_length})
    if check_blank:
        errors.add(_rows_mask(n, blank), name, _("This field cannot be blank."))
    if allowed is not None:
        choices = allowed - {""}
        errors.add(_rows_mask(n, not_choice), name,
                   _("Not a valid choice. Use one of: %(choices)s.") % {"choices": ", ".join(sorted(choices))})
    return out


def _valid_email(value: str) -> bool:
    if _EMAIL.fullmatch(value):
        return True
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def _spellings(words) -> set[str]:
    return {w for word in words for w in (word, word.upper(), word.capitalize())}


_BOOL_TEXT = {**dict.fromkeys(_spellings(_TRUE), True), **dict.fromkeys(_spellings(_FALSE), False)}


def _bool(s, errors, name):
    values = _values(s)
    kinds = set(map(type, values))
    if kinds <= {bool, _NONE}:
        return values.copy()
    if kinds <= {str, bool, _NONE}:
        out = _objects([v if v is None or v is True or v is False else _BOOL_TEXT.get(v) for v in values])
        if _missing(out).sum() == _missing(values).sum():
            return out
    out, bad = np.full(len(values), None, dtype=object), []
    for i, v in enumerate(values):
        if v is None:
            continue
        if v is True or v is False:
            out[i] = v
            continue
        if isinstance(v, str):
            parsed = _BOOL_TEXT.get(v.strip().lower())
        elif isinstance(v, float) and math.isnan(v):
            continue
        elif isinstance(v, int) and v in (0, 1):
            parsed = bool(v)
        else:
            parsed = None
        if parsed is None:
            bad.append(i)
        else:
            out[i] = parsed
    errors.add(_rows_mask(len(values), bad), name, _("Enter true or false."))
    return out


_DIGIT_POSITIONS = [0, 1, 2, 3, 5, 6, 8, 9]


def _iso_dates(values: np.ndarray) -> np.ndarray | None:
    """datetime64[D] of a column of ``YYYY-MM-DD`` strings, or None if any value is something else."""
    if set(map(len, values)) - {10}:
        return None
    try:
        raw = np.frombuffer("".join(values).encode("ascii"), dtype=np.uint8).reshape(-1, 10)
    except UnicodeEncodeError:
        return None
    digits = raw[:, _DIGIT_POSITIONS].astype(np.int64) - 48
    if (raw[:, 4] != 45).any() or (raw[:, 7] != 45).any() or (digits < 0).any() or (digits > 9).any():
        return None
    days, real = rules.dates_from_parts(digits[:, 0] * 1000 + digits[:, 1] * 100 + digits[:, 2] * 10 + digits[:, 3],
                                        digits[:, 4] * 10 + digits[:, 5], digits[:, 6] * 10 + digits[:, 7])
    return days if real.all() else None


_EARLIEST, _LATEST = np.datetime64(rules.EARLIEST_DATE, "D"), np.datetime64(rules.LATEST_DATE, "D")


def _date(s, errors, name, *, today=None, not_future_message=None):
    values = _values(s)
    if set(map(type, values)) <= {str, _NONE}:
        present = ~_missing(values)
        days = _iso_dates(values[present])
        if (days is not None and (today is None or not (days > np.datetime64(today, "D")).any())
                and not ((days < _EARLIEST) | (days > _LATEST)).any()):
            out = np.full(len(values), None, dtype=object)
            out[present] = days.astype(object)
            return out
    return _date_checked(values, errors, name, today=today, not_future_message=not_future_message)


def _date_checked(values, errors, name, *, today, not_future_message):
    values = values.tolist()
    missing = np.array([_is_missing(v) or (isinstance(v, str) and not v.strip()) for v in values], dtype=bool)
    text = pd.Series([v.strip()[:10] if isinstance(v, str) else None for v in values], dtype=object)
    parsed = pd.to_datetime(text.where(~missing, None), format="%Y-%m-%d", errors="coerce")
    shape_ok = np.array([isinstance(v, str) and _DATE_SHAPE.fullmatch(v.strip()) is not None for v in values],
                        dtype=bool)
    # By the year, before pandas: it cannot represent years before 1677 (0199-01-01 would be "not a date").
    year = pd.to_numeric(text.str[:4], errors="coerce").to_numpy()
    out_of_bounds = ~missing & shape_ok & ((year < rules.EARLIEST_DATE.year) | (year > rules.LATEST_DATE.year))
    bad = ~missing & ~out_of_bounds & (parsed.isna().to_numpy() | ~shape_ok)
    errors.add(bad, name, _("Enter a valid date as YYYY-MM-DD."))
    errors.add(out_of_bounds, name, rules.DATE_BOUNDS_MESSAGE)
    bad = bad | out_of_bounds
    if today is not None:
        errors.add(~bad & ~missing & (parsed > pd.Timestamp(today)).fillna(False).to_numpy(dtype=bool), name,
                   not_future_message or _("This date cannot be in the future."))
    return parsed.dt.date.where(~(bad | missing), None).to_numpy(dtype=object)


def _money(s, errors, name, *, allow_negative):
    missing = _missing(s) | s.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(dtype=bool)

    def as_text(v):
        if isinstance(v, bool):
            return None
        if isinstance(v, int | Decimal):
            return str(v)
        if isinstance(v, float):
            return None if math.isnan(v) else repr(v)
        if isinstance(v, str):
            return v.strip().replace(",", "")
        return None

    text = s.map(as_text)
    ok = text.map(lambda v: isinstance(v, str) and _MONEY.fullmatch(v) is not None).to_numpy(dtype=bool)
    errors.add(~missing & ~ok, name, _("Enter an amount in yuan with at most 2 decimal places."))
    if not allow_negative:
        negative = ok & text.map(lambda v: isinstance(v, str) and v.startswith("-")).to_numpy(dtype=bool)
        errors.add(~missing & negative, name, _("This amount cannot be negative."))
    return text.where(ok & ~missing, None)


def _int(s, errors, name, *, maximum):
    missing = _missing(s) | s.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(dtype=bool)

    def parse(v):
        if isinstance(v, bool):
            return None
        if isinstance(v, int):
            return v
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, str) and v.strip().isdigit():
            return int(v.strip())
        return None

    values = [parse(v) for v in s]
    ok = np.array([v is not None and 0 <= v <= maximum for v in values], dtype=bool)
    errors.add(~missing & ~ok, name, _("Enter a whole number from 0 to %(max)d.") % {"max": maximum})
    return pd.Series([v if good else None for v, good in zip(values, ok & ~missing)], index=s.index, dtype=object)


_TAG_SEPARATORS = re.compile(r"[;,，；|]")


def _tags(s, errors, name):
    def parse(v):
        if isinstance(v, str):
            v = _TAG_SEPARATORS.split(v)
        if not isinstance(v, list) or not all(isinstance(t, str) and "\x00" not in t for t in v):
            return None
        return sorted({t.strip() for t in v if t.strip()})

    values = _values(s)
    n = len(values)
    out, bad, too_many = np.full(n, None, dtype=object), [], []
    for i, v in enumerate(values):
        if v is None or (v.__class__ is float and math.isnan(v)):
            continue
        tags = parse(v)
        if tags is None:
            bad.append(i)
            continue
        out[i] = tags
        if len(tags) > 20 or any(len(t) > 30 for t in tags):
            too_many.append(i)
    errors.add(_rows_mask(n, bad), name, _("Give tags as a list of text (or separated by ; in a file)."))
    errors.add(_rows_mask(n, too_many), name, _("At most 20 tags of at most 30 characters."))
    return out


# --------------------------------------------------------------------------------------------------
# Scope of the writer
# --------------------------------------------------------------------------------------------------
@dataclass
class Scope:
    all_branches: bool
    branch_ids: frozenset[int]

    @classmethod
    def of(cls, actor) -> Scope:
        if isinstance(actor, ApiClient):
            root = actor.branch
        elif actor.is_superuser or actor.role == Role.HEAD_OFFICE:
            root = None
        else:
            return cls(False, frozenset())  # bulk writes are for integration keys and head office
        if root is None:
            return cls(True, frozenset())
        ids = Branch.objects.filter(path__startswith=root.path).values_list("id", flat=True)
        return cls(False, frozenset(ids))

    def allows(self, branch_ids) -> np.ndarray:
        if self.all_branches:
            return np.ones(len(branch_ids), dtype=bool)
        return np.fromiter((b in self.branch_ids for b in _values(branch_ids)), dtype=bool, count=len(branch_ids))


def _actor_ids(actor):
    if isinstance(actor, ApiClient):
        return None, actor.api_key.pk
    return actor.pk, None


def _duplicates(keys: pd.DataFrame, errors: Errors, field_name: str) -> None:
    dup = keys.duplicated(keep=False).to_numpy()
    if dup.any():
        errors.add(dup, field_name, _("This key appears more than once in the batch; none of them was applied."))


def _error_rows(errors: Errors, keys: pd.DataFrame, offset: int) -> list[dict]:
    items = errors.items
    if not items:
        return []
    out = []
    key_rows = keys.to_dict("records")
    for i, f, message in items:
        key = {k: (v if isinstance(v, str | int) else (None if _is_missing(v) else str(v)))
               for k, v in key_rows[i].items()}
        out.append({"index": offset + i, "key": key, "field": f, "reason": message})
    return out


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(columns: dict[str, np.ndarray]) -> str:
    """Rows in PostgreSQL's COPY text format: tab-separated, ``\\N`` for NULL, backslash escapes.

    Column by column with C-level passes where possible (text without tab, newline or backslash is used as it
    is; numbers, dates and booleans through ``map(str, …)``: PostgreSQL reads True/False), then one ``join``
    per row: about half the time of Python's csv writer for the same rows.
    """
    fields = []
    for values in columns.values():
        values = values.tolist()
        kinds = set(map(type, values))
        nulls = _NONE in kinds
        kinds.discard(_NONE)
        if kinds <= {str}:
            text = "".join(filter(None, values))
            if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
                values = [v if v is None else v.translate(_COPY_ESCAPES) for v in values]
        elif str in kinds:  # text among other values
            values = [v if v is None else v.translate(_COPY_ESCAPES) if v.__class__ is str else str(v)
                      for v in values]
        elif nulls:
            values = [v if v is None else str(v) for v in values]
        else:
            values = list(map(str, values))
        if nulls:
            values = ["\\N" if v is None else v for v in values]
        fields.append(values)
    if not fields or not fields[0]:
        return ""
    return "\n".join(map("\t".join, zip(*fields))) + "\n"


def _copy_data(cursor, table: str, columns: list[str], data: str) -> None:
    cols = ", ".join(f'"{c}"' for c in columns)
    body = data.encode()
    # One read of the whole body: psycopg2 then sends it with the GIL released (the initial load's COPY thread).
    cursor.copy_expert(f"COPY {table} ({cols}) FROM STDIN", io.BytesIO(body), max(len(body), 8192))


def _copy_columns(cursor, table: str, columns: dict[str, np.ndarray]) -> None:
    """COPY object-array columns (None = NULL) into ``table``."""
    _copy_data(cursor, table, list(columns), _copy_text(columns))


def _pg_array(values) -> str | None:
    """A list of text as a PostgreSQL array literal (every element quoted, ``\\`` and ``"`` escaped)."""
    if values is None:
        return None
    if not values:
        return "{}"
    text = '","'.join(values)
    if "\\" in text or '"' in text:
        return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"
    return '{"' + text + '"}'



def _columns(records) -> tuple[dict[str, np.ndarray], int, Errors]:
    """The batch (a list of dicts or a DataFrame) as one object array per field given (a field is given if any
    record has it); a record that is not an object is an error."""
    if isinstance(records, pd.DataFrame):
        n = len(records)
        return {str(c): records[c].to_numpy(dtype=object) for c in records.columns}, n, Errors(n)
    records = records if isinstance(records, list) else list(records)
    n = len(records)
    errors = Errors(n)
    if not all(r.__class__ is dict for r in records):
        not_objects = [i for i, r in enumerate(records) if not isinstance(r, dict)]
        errors.add(_rows_mask(n, not_objects), "non_field_errors", _("Each record must be a JSON object."))
        records = [r if isinstance(r, dict) else {} for r in records]
    names = set().union(*records) if records else set()
    return {name: _objects([r.get(name) for r in records]) for name in names}, n, errors


def _frame(records) -> tuple[pd.DataFrame, Errors]:
    columns, n, errors = _columns(records)
    return pd.DataFrame(columns, index=pd.RangeIndex(n), dtype=object), errors


def _unknown_columns(columns, allowed, errors):
    """An error on every value of a field the kind does not have (``columns``: name → values)."""
    for name, values in columns.items():
        if name not in allowed:
            errors.add(~_missing(values), str(name), _("Unknown field."))


def _cifs(values, errors: Errors) -> np.ndarray:
    """The key column: text, upper-cased; a record without one is an error."""
    cif = _text(values, errors, "cif", max_length=32, blank_is_missing=True)
    errors.add(_missing(cif), "cif", _("Every record needs its CIF."))
    return _objects([v if v is None else v.upper() for v in cif])


def _check_cif_format(cif: np.ndarray, errors: Errors) -> None:
    """Every record's CIF: letters, digits and dashes (``rules.normalize_cif``, over the whole column)."""
    present = ~_missing(cif)
    ok = np.ones(len(cif), dtype=bool)
    ok[present] = rules.cif_checks(cif[present])
    errors.add(~ok, "cif", rules.CIF_MESSAGE)


def _array_literals(rows: dict[str, np.ndarray]) -> None:
    """The name's bigrams and the tags as PostgreSQL array literals, for COPY."""
    rows["name_bigrams"] = _objects([_bigrams_literal(v) for v in rows["name"]])
    rows["tags"] = _objects([_pg_array(v) for v in rows["tags"]])


# --------------------------------------------------------------------------------------------------
# Customers
# --------------------------------------------------------------------------------------------------
CUSTOMER_TEXT = {  # field → (max_length, choices or None)
    f.name: (f.max_length, [c[0] for c in f.choices] if f.choices else None)
    for f in Customer._meta.fields
    if f.get_internal_type() in ("CharField", "TextField", "EmailField") and f.name not in ("name_bigrams",)
}
CUSTOMER_TEXT["notes"] = (2000, None)
CUSTOMER_TEXT["mobile"] = (20, None)  # normalised below to 11 digits
CUSTOMER_BOOL = ["consent_sms", "consent_email", "consent_phone", "consent_app", "do_not_contact"]
CUSTOMER_DATE = ["birth_date", "risk_assessed_on"]
CUSTOMER_FIELDS = ["cif", *[f for f in CUSTOMER_TEXT if f != "cif"], *CUSTOMER_BOOL, *CUSTOMER_DATE,
                   "branch", "rm", "tags"]
CUSTOMER_FIELDS_SET = frozenset(CUSTOMER_FIELDS)
AUDITED = [f for f in AUDITED_FIELDS if f != "cif"]  # the CIF is the key: given by every record, never changed
DEFAULTS = {**{f: "" for f in CUSTOMER_TEXT}, **{f: False for f in CUSTOMER_BOOL},
            **{f: None for f in CUSTOMER_DATE}, "kind": CustomerKind.INDIVIDUAL,
            "lifecycle_stage": LifecycleStage.DEVELOPMENT, "branch_id": None, "rm_id": None, "tags": []}


@dataclass
class OrgLookups:
    """The organisation data the customer rules read, in four small queries: branches by code and their
    paths, active RMs by username, and every staff member's branch path (is an RM working in the customer's
    branch?). Loaded per batch, or once for a whole file import."""

    branch_ids: dict[str, int]
    branch_paths: dict[int, str]
    rm_ids: dict[str, int]
    staff_paths: dict[int, str]

    @classmethod
    def load(cls) -> OrgLookups:
        branches = list(Branch.objects.values_list("code", "id", "path"))
        return cls(branch_ids={code: pk for code, pk, _p in branches},
                   branch_paths={pk: path for _c, pk, path in branches},
                   rm_ids=dict(User.objects.filter(role=Role.RM, is_active=True).values_list("username", "id")),
                   staff_paths=dict(User.objects.values_list("id", "branch__path")))


def _resolve(s, errors: Errors, name: str, by_id: dict, by_code: dict, message: str) -> np.ndarray:
    values = _values(s)

    def look(v):
        if isinstance(v, bool):
            return None
        if isinstance(v, int) or (isinstance(v, float) and v.is_integer()):
            return by_id.get(int(v))
        if isinstance(v, str):
            v = v.strip()
            return by_code.get(v) or (by_id.get(int(v)) if v.isdigit() else None)
        return None

    out = _objects([by_code.get(v) if v.__class__ is str else None for v in values])  # codes as given: one pass
    missing = _missing(values)
    unresolved = np.flatnonzero(_missing(out) & ~missing)
    for i in unresolved:
        out[i] = look(values[i])
    errors.add(~missing & _missing(out), name, message)
    return out


def _parse_customers(columns: dict[str, np.ndarray], n: int, errors: Errors, *, today: date,
                     lookups: OrgLookups) -> tuple[dict[str, np.ndarray], list[str]]:
    """(parsed columns by model field, the fields the batch gives): types, lengths, choices, references."""
    _unknown_columns(columns, CUSTOMER_FIELDS_SET, errors)
    out = {"cif": _cifs(columns.get("cif", np.full(n, None, dtype=object)), errors)}
    _check_cif_format(out["cif"], errors)
    provided = ["cif"]
    for name in CUSTOMER_FIELDS[1:]:
        if name not in columns:
            continue
        s = columns[name]
        if name in CUSTOMER_TEXT:
            max_length, choices = CUSTOMER_TEXT[name]
            out[name] = _text(s, errors, name, max_length=max_length, choices=choices,
                              allow_blank=Customer._meta.get_field(name).blank)
            if name == "email":  # the same rule as Django's EmailValidator (which is tried on what fails here)
                bad = np.fromiter((isinstance(v, str) and v != "" and not _valid_email(v) for v in out[name]),
                                  dtype=bool, count=n)
                errors.add(bad, name, _("Enter a valid email address."))
                out[name][bad] = None
        elif name in CUSTOMER_BOOL:
            out[name] = _bool(s, errors, name)
        elif name == "birth_date":
            out[name] = _date(s, errors, name, today=today,
                              not_future_message=_("The birth date cannot be in the future."))
        elif name == "risk_assessed_on":
            out[name] = _date(s, errors, name, today=today,
                              not_future_message=_("The assessment date cannot be in the future."))
        elif name == "branch":
            branches = lookups.branch_ids
            out["branch_id"] = _resolve(s, errors, "branch", {v: v for v in branches.values()}, branches,
                                        _("Unknown branch: give its code or id."))
            name = "branch_id"
        elif name == "rm":
            rms = lookups.rm_ids
            out["rm_id"] = _resolve(s, errors, "rm", {v: v for v in rms.values()}, rms,
                                    _("Unknown relationship manager: give an active RM's username or id."))
            name = "rm_id"
        elif name == "tags":
            out[name] = _tags(s, errors, name)
        provided.append(name)
    return out, provided


def _compact_upper(values) -> np.ndarray:
    """Text values without spaces, upper-cased ("" for None): ID numbers and credit codes."""
    values = _filled(values)
    joined = "".join(values)
    if " " not in joined and joined.upper() == joined:
        return values  # the usual batch: nothing to change (checked in two C-level passes)
    return _objects([v.replace(" ", "").upper() for v in values])


def _filled(values) -> np.ndarray:
    """Text values with None as ""."""
    values = values.copy()
    values[_missing(values)] = ""
    return values


def _check_customers(m: dict[str, np.ndarray], errors: Errors, *, today: date, scope: Scope,
                     is_new: np.ndarray, lookups: OrgLookups) -> None:
    """Rules of DOMAIN.md §2 over merged records (stored values with the batch's values on top); normalises
    mobiles, ID numbers and credit codes in ``m`` and fills birth date and gender in from the ID."""
    individual = m["kind"] == CustomerKind.INDIVIDUAL
    errors.add(_filled(m["name"]) == "", "name", _("A new customer needs a name."))
    errors.add(_missing(m["branch_id"]) & is_new, "branch", _("A new customer needs a home branch."))

    mobiles, ok = rules.normalize_mobiles(m["mobile"])
    errors.add(~ok, "mobile", _("Enter a mainland mobile number: 11 digits starting 13–19 (a +86 prefix is fine)."))
    m["mobile"] = np.where(ok, _objects(mobiles), m["mobile"])

    # Resident IDs: checksum, real birth date not in the future, agreement with birth date and gender.
    ids = _compact_upper(m["id_number"])
    resident_type = m["id_type"] == IdType.RESIDENT_ID
    if 15 in set(map(len, ids)):
        legacy = resident_type & np.fromiter((len(v) == 15 and v.isdigit() and v.isascii() for v in ids),
                                             dtype=bool, count=len(ids))
        ids[legacy] = [rules.resident_id_from_15(v) for v in ids[legacy]]
    m["id_number"] = ids
    resident = resident_type & (ids != "")
    if resident.any():
        ok_format, ok_date, ok_not_future, ok_check, born_d, genders = rules.resident_id_checks(ids, today=today)
        errors.add(resident & ~ok_format, "id_number",
                   _("A resident ID has 18 characters: 17 digits and a digit or X (or 15 digits)."))
        errors.add(resident & ~ok_date, "id_number", _("Digits 7–14 of the ID are not a real birth date."))
        errors.add(resident & ~ok_not_future, "id_number", _("The birth date in the ID is in the future."))
        errors.add(resident & ~ok_check, "id_number",
                   _("The ID's check character is wrong: please check the number for a typo."))
        good = individual & resident & ok_check & ok_date & ok_not_future
        given_birth = m["birth_date"]
        no_birth = _missing(given_birth)
        errors.add(good & ~no_birth & (given_birth != born_d), "birth_date",
                   _("The birth date does not match the ID number."))
        has_gender = (m["gender"] == "M") | (m["gender"] == "F")
        errors.add(good & has_gender & (m["gender"] != genders), "gender", _("The gender does not match the ID number."))
        m["birth_date"] = np.where(good & no_birth, born_d, given_birth)
        m["gender"] = np.where(good & ~has_gender, genders, m["gender"])
    # The other ID types: each to its documented format (rules.ID_NUMBER_RULES), one regex pass per type.
    other_type = (ids != "") & ~resident_type
    if other_type.any():
        ids[other_type] = [rules.compact_id_number(v) for v in ids[other_type]]  # (few rows: a loop is cheap)
        ok_format, ok_check = rules.id_number_format_checks(m["id_type"], ids)
        for id_type, message in rules.ID_FORMAT_MESSAGES.items():
            errors.add(other_type & (m["id_type"] == id_type) & ~ok_format, "id_number", message)
        errors.add(other_type & ~ok_check, "id_number", rules.FOREIGN_PR_CHECK_MESSAGE)
    errors.add((ids != "") & (_filled(m["id_type"]) == ""), "id_type", _("Choose the type of the ID document."))

    m["credit_code"] = codes = _compact_upper(m["credit_code"])
    corporate = ~individual
    has_code = m["credit_code"] != ""
    errors.add(individual & has_code, "credit_code", _("Only corporate customers have a credit code."))
    errors.add(corporate & ~has_code, "credit_code", _("A corporate customer needs its unified social credit code."))
    if corporate.any():
        ok_format, ok_check = rules.credit_code_checks(codes)
        errors.add(corporate & has_code & ~ok_format, "credit_code",
                   _("A unified social credit code has 18 characters from 0-9 and A-Y without I, O, S, V and Z."))
        errors.add(corporate & ok_format & ~ok_check, "credit_code",
                   _("The credit code's check character is wrong: please check the code for a typo."))

    errors.add((_filled(m["risk_level"]) != "") & _missing(m["risk_assessed_on"]),
               "risk_assessed_on", _("Give the date of the risk assessment."))

    # Scope: the writer may place customers only in its own branches; the RM must work there.
    has_branch = ~_missing(m["branch_id"])
    errors.add(has_branch & ~scope.allows(m["branch_id"]), "branch",
               _("You cannot create or change customers of this branch."))
    with_rm = ~_missing(m["rm_id"])
    if with_rm.any():
        rm_branch, paths = lookups.staff_paths, lookups.branch_paths
        works = {}  # by (rm, branch): a batch has few distinct pairs
        for pair in set(zip(m["rm_id"][with_rm], m["branch_id"][with_rm])):
            r, b = pair
            works[pair] = (paths.get(b) or "").startswith(rm_branch.get(r) or "\0")
        works_there = [(not has) or works[(r, b)] for has, r, b in zip(with_rm, m["rm_id"], m["branch_id"])]
        errors.add(~np.array(works_there, dtype=bool), "rm",
                   _("This relationship manager does not work in the customer's branch."))


# The change feed's stamp (see migration customers.0003): written by the set-based statements themselves, so
# that the trigger's condition skips its PL/pgSQL call (customers.0007).
TXID = "pg_current_xact_id()::text::bigint"


def _customer_sql(given_audited: list[str], given_cols: list[str], all_cols: list[str]) -> tuple[str, str]:
    """Two statements: create the new customers, then update the others with what each record gives.

    ``tmp_bulk`` holds, per record, the values it gives (checked and normalised) and NULL for what it
    leaves out. New rows take the defaults for NULLs; existing rows keep their stored value. Inserting
    with ON CONFLICT DO NOTHING first and updating after (instead of one INSERT … DO UPDATE) means a
    customer that another writer creates at the same moment is then *updated* with this record's
    values only: the other writer's fields are never overwritten with defaults.
    """
    q = lambda c: f'"{c}"'
    # The creation entry stores no values: they are the customer's values with the later entries undone
    # (selectors.customer_history). Building a 28-field JSON object per new row cost PostgreSQL 30-50 µs a
    # row (≈ 220 ms of a 5,000-record batch, ≈ 40 s of a 1M-row import) in every form tried
    # (jsonb_build_object, to_jsonb of the row, row_to_json).
    # For updates, the JSON text of the changed fields only ('"field":[old, new]', NULL for the others, which
    # concat_ws skips), parsed once: ≈ 35 % cheaper than one jsonb_build_object of every field with the
    # unchanged ones stripped afterwards (30 vs 47 ms for 5,000 rows, identical values), itself half the cost
    # of concatenating one small object per field with || (each || copies the object built so far).
    changed = "('{' || concat_ws(',', " + ", ".join(
        f"CASE WHEN t.{q(c)} IS NOT NULL AND o.{q(c)} IS DISTINCT FROM t.{q(c)} "
        f"THEN '\"{c}\":' || jsonb_build_array(o.{q(c)}, t.{q(c)})::text END"
        for c in given_audited
    ) + ") || '}')::jsonb" if given_audited else "'{}'::jsonb"
    cols = ", ".join(q(c) for c in all_cols)
    values = ", ".join(f"COALESCE(t.{q(c)}, %(d_{c})s)" if c != "cif" else "t.cif" for c in all_cols)
    insert = f"""
        WITH ins AS (
            INSERT INTO customers_customer AS c ({cols}, aum_latest, created_at, updated_at, change_txid)
            SELECT {values}, 0, now(), now(), {TXID} FROM tmp_bulk t
            WHERE NOT EXISTS (SELECT 1 FROM customers_customer x WHERE x.cif = t.cif)
            ORDER BY t.cif
            ON CONFLICT (cif) DO NOTHING
            RETURNING c.id, c.cif
        ), hist AS (
            INSERT INTO customers_customerchange (customer_id, at, actor_id, api_key_id, source, changes, created)
            SELECT ins.id, now(), %(actor)s, %(key)s, %(source)s, '{{}}'::jsonb, TRUE FROM ins
        )
        SELECT coalesce(array_agg(id), '{{}}') FROM ins
    """
    old_cols = ", ".join(["c.id", "c.cif", *(f"c.{q(c)}" for c in given_cols)])  # what the update compares
    sets = "".join(f"{q(c)} = COALESCE(t.{q(c)}, o.{q(c)}), " for c in given_cols)
    differs = " OR ".join(f"(t.{q(c)} IS NOT NULL AND t.{q(c)} IS DISTINCT FROM o.{q(c)})"
                          for c in given_cols) or "FALSE"
    update = f"""
        WITH old AS (
            SELECT {old_cols} FROM customers_customer c JOIN tmp_bulk t ON t.cif = c.cif
            WHERE NOT EXISTS (SELECT 1 FROM unnest(%(created)s::bigint[]) AS n(id) WHERE n.id = c.id)
            ORDER BY c.cif FOR UPDATE OF c
        ), up AS (
            UPDATE customers_customer c SET {sets}updated_at = now(), change_txid = {TXID}
            FROM tmp_bulk t JOIN old o ON o.cif = t.cif
            WHERE c.id = o.id AND ({differs})
            RETURNING c.id, c.cif
        ), hist AS (
            INSERT INTO customers_customerchange (customer_id, at, actor_id, api_key_id, source, changes, created)
            SELECT up.id, now(), %(actor)s, %(key)s, %(source)s, {changed}, FALSE
            FROM up JOIN tmp_bulk t ON t.cif = up.cif JOIN old o ON o.id = up.id
        )
        SELECT count(*) FROM up
    """
    return insert, update


def customers_upsert(records, *, actor, today: date, source: str = "api", offset: int = 0,
                     dry_run: bool = False, initial_load: InitialLoad | None = None) -> BulkResult:
    """Create or update customers by CIF (one batch: a list of dicts or a DataFrame of raw values).

    ``initial_load``: the batch belongs to the initial load of an empty customer table (see ``InitialLoad``).
    """
    columns, n, errors = _columns(records)
    if not n:
        return BulkResult()
    if initial_load is not None:
        return initial_load.add(columns, n, errors, today=today, offset=offset)
    scope, lookups = Scope.of(actor), OrgLookups.load()
    parsed, provided, keys = _parse_batch(columns, n, errors, today=today, lookups=lookups)
    with transaction.atomic(), connection.cursor() as cur:
        existing = _locked_existing_customers(cur, sorted({c for c in parsed["cif"] if c is not None}))
        merged, base, is_new = _merged_and_checked(parsed, provided, existing, errors, today=today, scope=scope,
                                                   lookups=lookups)
        good = ~errors.bad
        result = _rejections(errors, keys, offset)
        if good.any():
            given_cols = [c for c in provided if c != "cif"]
            derived = [c for c in ("birth_date", "gender") if c not in given_cols]
            given_cols += derived  # filled in from the ID number
            # What each record gives: its own non-null values, plus values derived from them; NULL = keep.
            rows = {"cif": merged["cif"][good]}
            for c in AUDITED:
                if c in derived:
                    rows[c] = np.where(merged[c] == base[c], None, merged[c])[good]
                elif c in given_cols:
                    rows[c] = np.where(_missing(parsed[c]), None, merged[c])[good]
                else:
                    rows[c] = np.full(int(good.sum()), None, dtype=object)
            _array_literals(rows)
            if "name" in given_cols:
                given_cols.append("name_bigrams")
            all_cols = list(rows)
            # (jit off: the temporary table's estimates push big batches over jit_above_cost, and compiling
            # then costs more than it saves; sent with the CREATE so the statement count stays the same)
            cur.execute("SET LOCAL jit = off; CREATE TEMP TABLE tmp_bulk ON COMMIT DROP AS "
                        f"SELECT {', '.join(chr(34) + c + chr(34) for c in all_cols)} "
                        "FROM customers_customer WITH NO DATA")
            _copy_columns(cur, "tmp_bulk", rows)
            actor_id, key_id = _actor_ids(actor)
            audited = [c for c in given_cols if c in AUDITED]
            insert_sql, update_sql = _customer_sql(audited, given_cols, all_cols)
            params = {"actor": actor_id, "key": key_id, "source": source,
                      **{f"d_{c}": _sql_default(DEFAULTS.get(c, [])) for c in all_cols}}
            created_ids = []  # when every record's customer exists: they are locked (above), none can vanish
            if is_new[good].any():
                cur.execute(insert_sql, params)
                created_ids = cur.fetchone()[0]
            result.created = len(created_ids)
            if result.created < len(rows["cif"]):  # else every record was a new customer: nothing to update
                cur.execute(update_sql, {**params, "created": created_ids})
                result.updated = cur.fetchone()[0]
            cur.execute("DROP TABLE tmp_bulk")
        result.unchanged = int(good.sum()) - result.created - result.updated
        if dry_run:
            transaction.set_rollback(True)
    return result


def _parse_batch(columns, n: int, errors: Errors, *, today: date, lookups: OrgLookups):
    """(parsed columns, fields given, keys): the batch parsed, a CIF given twice rejected."""
    parsed, provided = _parse_customers(columns, n, errors, today=today, lookups=lookups)
    keys = pd.DataFrame({"cif": parsed["cif"]}, dtype=object)
    _duplicates(keys, errors, "cif")
    return parsed, provided, keys


def _rejections(errors: Errors, keys: pd.DataFrame, offset: int) -> BulkResult:
    return BulkResult(rejected=int(errors.bad.sum()), errors=_error_rows(errors, keys, offset))


def _merged_and_checked(parsed, provided, existing, errors: Errors, *, today: date, scope: Scope,
                        lookups: OrgLookups) -> tuple[dict, dict, np.ndarray]:
    """Merge the batch over the stored records and check the result: (merged, base, is_new)."""
    stored_index = {cif: i for i, cif in enumerate(existing["cif"])}
    position = _objects([stored_index.get(c) for c in parsed["cif"]])
    is_new = _missing(position)
    # The writer must be allowed to change what is stored now, not only what it sends.
    stored_branch = _stored(existing, "branch_id", position, is_new)
    errors.add(~is_new & ~scope.allows(stored_branch), "cif", _("You cannot create or change this customer."))
    merged, base = _merge(parsed, provided, existing, position, is_new)
    _check_customers(merged, errors, today=today, scope=scope, is_new=is_new, lookups=lookups)
    return merged, base, is_new


class InitialLoad:
    """Writes the initial load of an empty customer table (``importing``), batch by batch, inside the load's
    transaction: the same parsing and rules as every batch, then the good records go straight into the customer
    and history tables with COPY (PostgreSQL's fastest way in; no temporary table, no conflict checks).

    The caller guarantees what makes that safe: the table was empty and is locked exclusively, and keys that
    appear twice in the file were rejected beforehand, so every record is new. (Were one not, re-adding the CIF's
    unique constraint at the end would fail the whole load.) Ids are reserved from the table's sequence once.

    The COPYs run in a thread of their own on the load's connection, so PostgreSQL stores one batch while Python
    checks the next (both cores busy: of a 1M-row load, the ≈ 17-20 s of COPY run beside the Python work instead of
    after it). Meanwhile the batches need no database: the organisation data is read once (``OrgLookups``), and
    nothing else may use the connection until ``close()``.
    """

    def __init__(self, *, actor, source: str, rows_total: int):
        self.actor, self.source = actor, source
        self.scope, self.lookups = Scope.of(actor), OrgLookups.load()
        actor_id, key_id = _actor_ids(actor)
        reserved = max(rows_total, 1)
        with connection.cursor() as cur:
            cur.execute("SELECT setval(pg_get_serial_sequence('customers_customer', 'id'), "
                        "nextval(pg_get_serial_sequence('customers_customer', 'id')) + %s), now(), "
                        f"{TXID}", [reserved])
            last, now, txid = cur.fetchone()
            # What is the same for every row is not sent 1M times: for the load, those columns default to it.
            self._constants = {
                "customers_customer": {"aum_latest": 0, "created_at": now, "updated_at": now, "change_txid": txid},
                "customers_customerchange": {"at": now, "actor_id": actor_id, "api_key_id": key_id,
                                             "source": source, "changes": "{}", "created": True},
            }
            self._saved_defaults = _column_defaults(cur, self._constants)
            for table, values in self._constants.items():
                for column, value in values.items():
                    cur.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" SET DEFAULT %s', [value])
        self.next_id, self.last_id = last - reserved, last
        self._raw = connection.connection  # psycopg2's connection (thread-safe); Django's wrapper stays here
        self._queue: queue.Queue = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write, name="initial-load-copy", daemon=True)
        self._thread.start()

    def add(self, columns, n: int, errors: Errors, *, today: date, offset: int) -> BulkResult:
        self._raise_if_failed()
        parsed, provided, keys = _parse_batch(columns, n, errors, today=today, lookups=self.lookups)
        nothing_stored = {c: np.empty(0, dtype=object) for c in ["cif", *CHECKED]}  # every record is new
        merged, _base, _is_new = _merged_and_checked(parsed, provided, nothing_stored, errors, today=today,
                                                     scope=self.scope, lookups=self.lookups)
        good = ~errors.bad
        result = _rejections(errors, keys, offset)
        count = int(good.sum())
        if count:
            if self.next_id + count > self.last_id:
                raise RuntimeError("initial load: more records than the file was counted to have")
            first = self.next_id + 1
            self.next_id += count
            ids = _objects(range(first, first + count))
            rows = {"id": ids, "cif": merged["cif"][good], **{c: merged[c][good] for c in AUDITED}}
            _array_literals(rows)
            history_ids = "\n".join(map(str, range(first, first + count))) + "\n"  # one creation entry each
            self._queue.put([("customers_customer", list(rows), _copy_text(rows)),
                             ("customers_customerchange", ["customer_id"], history_ids)])
        result.created = count
        return result

    def close(self) -> None:
        """Wait for the last COPY and put the columns' defaults back; raise what failed in the thread (the
        caller's transaction then rolls back, defaults included)."""
        self.stop()
        self._raise_if_failed()
        with connection.cursor() as cur:
            for (table, column), default in self._saved_defaults.items():
                action = "DROP DEFAULT" if default is None else f"SET DEFAULT {default}"
                cur.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" {action}')

    def stop(self) -> None:
        """Wait for the thread to finish what it was given, so the connection is the caller's again."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _raise_if_failed(self):
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _write(self):
        with self._raw.cursor() as cur:
            while (work := self._queue.get()) is not None:
                if self._error is not None:
                    continue  # drain: the load has failed
                try:
                    for table, cols, data in work:
                        _copy_data(cur, table, cols, data)
                except BaseException as e:  # noqa: BLE001  handed to the loading thread, which raises it
                    self._error = e


def _column_defaults(cur, columns: dict[str, dict]) -> dict[tuple[str, str], str | None]:
    """The default expression of each named column (None: no default), as PostgreSQL prints it."""
    out = {}
    for table, names in columns.items():
        cur.execute("SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a "
                    "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
                    "WHERE a.attrelid = %s::regclass AND a.attname = ANY(%s)", [table, list(names)])
        out.update({(table, name): default for name, default in cur.fetchall()})
    return out


@functools.lru_cache(maxsize=1 << 16)
def _bigrams_literal(name: str | None) -> str | None:
    """``rules.bigrams(name)`` as a PostgreSQL array literal (cached: personal names repeat a lot)."""
    return None if name is None else _pg_array(rules.bigrams(name))


# The stored values the rules need (the merged record is checked; a field the batch leaves out keeps its
# stored value, which is never rewritten): fetched and locked in CIF order, so that two overlapping
# batches queue instead of deadlocking.
CHECKED = ["kind", "name", "gender", "birth_date", "id_type", "id_number", "credit_code", "mobile", "risk_level",
           "risk_assessed_on", "branch_id", "rm_id"]


def _locked_existing_customers(cur, cifs: list[str]) -> dict[str, np.ndarray]:
    cols = ["cif", *CHECKED]
    rows = []
    if cifs:
        cur.execute(f"SELECT {', '.join(chr(34) + c + chr(34) for c in cols)} FROM customers_customer "
                    "WHERE cif = ANY(%s) ORDER BY cif FOR UPDATE", [cifs])
        rows = cur.fetchall()
    return {c: _objects([r[i] for r in rows]) for i, c in enumerate(cols)}


def _stored(existing: dict[str, np.ndarray], c: str, position: np.ndarray, is_new: np.ndarray) -> np.ndarray:
    """The stored value of field ``c`` for each record (None for new customers)."""
    out = np.full(len(position), None, dtype=object)
    if (~is_new).any():
        out[~is_new] = existing[c][position[~is_new].astype(np.int64)]
    return out


def _merge(parsed, provided, existing, position, is_new) -> tuple[dict, dict]:
    """(merged, base): stored values (or defaults for new customers), and the same with the batch's
    non-null values on top; the rules check the merged records."""
    n = len(position)
    merged, base = {"cif": parsed["cif"]}, {}
    any_stored = not is_new.all()
    for c in AUDITED:
        default = DEFAULTS[c]
        if any_stored and c in existing:
            stored = _stored(existing, c, position, is_new)
            empty = _missing(stored)
        else:
            stored, empty = np.empty(n, dtype=object), slice(None)
        if isinstance(default, list):  # one shared, never-modified list (numpy would broadcast a list)
            stored[empty] = _objects([default] * len(stored[empty]))
        else:
            stored[empty] = default
        base[c] = stored
        merged[c] = np.where(_missing(parsed[c]), stored, parsed[c]) if c in provided else stored
    return merged, base


# --------------------------------------------------------------------------------------------------
# Snapshots and holdings: keyed by CIF + period / CIF + account number
# --------------------------------------------------------------------------------------------------
SNAPSHOT_MONEY = {"aum": False, "aum_avg": False, "deposits": False, "wealth": False, "funds": False,
                  "loans": False, "credit_limit": False, "credit_used": True, "fee_income": True,
                  "contribution": True}
SNAPSHOT_INT = {"txn_count": 2_147_483_647, "products_held": 32_767}
SNAPSHOT_FIELDS = ["cif", "period", *SNAPSHOT_MONEY, *SNAPSHOT_INT, "last_txn_date"]

HOLDING_TEXT = {f.name: (f.max_length, [c[0] for c in f.choices] if f.choices else None)
                for f in Holding._meta.fields
                if f.get_internal_type() == "CharField"}
HOLDING_FIELDS = ["cif", *HOLDING_TEXT, "balance", "opened_on", "matures_on"]
HOLDING_REQUIRED_NEW = ["product_code", "product_name", "product_type"]


def _customer_ids(cur, parsed, errors, scope) -> pd.Series:
    cifs = sorted({c for c in parsed["cif"] if isinstance(c, str)})
    cur.execute("SELECT cif, id, branch_id FROM customers_customer WHERE cif = ANY(%s)", [cifs])
    found = {cif: (cid, bid) for cif, cid, bid in cur.fetchall()}
    ids = parsed["cif"].map(lambda c: found.get(c, (None, None))[0])
    branches = parsed["cif"].map(lambda c: found.get(c, (None, None))[1])
    unknown = ids.isna().to_numpy() | ~scope.allows(branches)
    errors.add(parsed["cif"].notna().to_numpy() & unknown, "cif", _("No customer with this CIF in your scope."))
    return ids


def _child_upsert(kind, records, *, actor, today: date, offset: int, dry_run: bool) -> BulkResult:
    frame, errors = _frame(records)
    if not len(frame):
        return BulkResult()
    fields = SNAPSHOT_FIELDS if kind == "snapshot" else HOLDING_FIELDS
    _unknown_columns(frame, set(fields), errors)
    col = lambda name: frame[name] if name in frame.columns else pd.Series([None] * len(frame), dtype=object)
    parsed = pd.DataFrame(index=frame.index)
    as_text = lambda values: pd.Series(values, index=frame.index)  # as before: pandas' text dtype
    as_dates = lambda values: pd.Series(values, index=frame.index, dtype=object)
    parsed["cif"] = as_text(_cifs(col("cif"), errors))
    if kind == "snapshot":
        key_name, table, model = "period", "customers_financialsnapshot", FinancialSnapshot
        period = as_dates(_date(col("period"), errors, "period", today=today,
                                not_future_message=_("The period cannot be in the future.")))
        errors.add(period.isna().to_numpy(), "period", _("Give the period as the first day of its month."))
        errors.add(period.map(lambda d: d is not None and d.day != 1).to_numpy(dtype=bool), "period",
                   _("A period is given as the first day of its month."))
        parsed["period"] = period
        for name, negative_ok in SNAPSHOT_MONEY.items():
            if name in frame.columns:
                parsed[name] = _money(frame[name], errors, name, allow_negative=negative_ok)
        for name, maximum in SNAPSHOT_INT.items():
            if name in frame.columns:
                parsed[name] = _int(frame[name], errors, name, maximum=maximum)
        if "last_txn_date" in frame.columns:
            parsed["last_txn_date"] = as_dates(_date(frame["last_txn_date"], errors, "last_txn_date", today=today))
    else:
        key_name, table, model = "account_no", "customers_holding", Holding
        for name, (max_length, choices) in HOLDING_TEXT.items():
            if name in frame.columns or name == "account_no":
                parsed[name] = as_text(_text(col(name), errors, name, max_length=max_length, choices=choices,
                                             blank_is_missing=name in ("account_no", "product_risk", "status"),
                                             allow_blank=Holding._meta.get_field(name).blank))
        errors.add(parsed["account_no"].isna().to_numpy(), "account_no", _("Every holding needs its account number."))
        if "balance" in frame.columns:
            parsed["balance"] = _money(frame["balance"], errors, "balance", allow_negative=True)
        for name in ("opened_on", "matures_on"):
            if name in frame.columns:
                parsed[name] = as_dates(_date(frame[name], errors, name))
    keys = parsed[["cif", key_name]]
    _duplicates(keys, errors, key_name)
    provided = [c for c in parsed.columns if c not in ("cif", key_name)]
    result = BulkResult()
    with transaction.atomic(), connection.cursor() as cur:
        scope = Scope.of(actor)
        parsed["customer_id"] = _customer_ids(cur, parsed, errors, scope)
        good_keys = ~errors.bad
        # Lock what exists, in key order; new rows are inserted in the same order.
        pairs = parsed.loc[good_keys, ["customer_id", key_name]].dropna()
        existing = set()
        if len(pairs):
            key_type = _pg_type(key_name)
            cur.execute(f"SELECT customer_id, {key_name} FROM {table} WHERE (customer_id, {key_name}) IN "
                        f"(SELECT * FROM unnest(%s::bigint[], %s::{key_type}[])) "
                        f"ORDER BY customer_id, {key_name} FOR UPDATE",
                        [pairs["customer_id"].astype(int).tolist(), pairs[key_name].tolist()])
            existing = {(cid, k) for cid, k in cur.fetchall()}
        is_new = np.array([(cid, k) not in existing for cid, k in zip(parsed["customer_id"], parsed[key_name])])
        if kind == "holding":
            for name in HOLDING_REQUIRED_NEW:
                missing = parsed[name].isna().to_numpy() if name in parsed else np.ones(len(parsed), dtype=bool)
                errors.add(is_new & missing, name, _("A new holding needs this field."))
        good = ~errors.bad
        result.rejected = int(errors.bad.sum())
        result.errors = _error_rows(errors, keys, offset)
        if good.any():
            rows = parsed.loc[good, ["customer_id", key_name, *provided]].copy()
            rows["customer_id"] = rows["customer_id"].astype(int)
            data_cols = [f.column for f in model._meta.fields
                         if f.column not in ("id", "customer_id", key_name)]
            defaults = {f.column: _sql_default(f.get_default()) for f in model._meta.fields}
            tmp_cols = ", ".join(["customer_id", key_name, *provided])
            cur.execute(f"CREATE TEMP TABLE tmp_bulk ON COMMIT DROP AS SELECT {tmp_cols} FROM {table} WITH NO DATA")
            _copy_columns(cur, "tmp_bulk", {c: np.where(_missing(v), None, v)  # pandas' NaN → NULL
                                            for c, v in ((c, rows[c].to_numpy(dtype=object)) for c in rows.columns)})
            # Insert the new rows (defaults for what a record leaves out), then update the others with
            # only what each record gives: a row another writer creates meanwhile keeps its values.
            values = ", ".join(f"COALESCE(t.{c}, %({c})s)" if c in provided else f"%({c})s" for c in data_cols)
            sets = ", ".join(f"{c} = COALESCE(t.{c}, x.{c})" for c in provided)
            changed = " OR ".join(f"(t.{c} IS NOT NULL AND t.{c} IS DISTINCT FROM x.{c})"
                                  for c in provided) or "FALSE"
            params = {c: defaults[c] for c in data_cols}
            cur.execute(f"""
                WITH ins AS (
                    INSERT INTO {table} AS x (customer_id, {key_name}, {', '.join(data_cols)})
                    SELECT t.customer_id, t.{key_name}, {values} FROM tmp_bulk t
                    WHERE NOT EXISTS (SELECT 1 FROM {table} e
                                      WHERE e.customer_id = t.customer_id AND e.{key_name} = t.{key_name})
                    ORDER BY t.customer_id, t.{key_name}
                    ON CONFLICT (customer_id, {key_name}) DO NOTHING
                    RETURNING x.id, x.customer_id
                )
                SELECT coalesce(array_agg(id), '{{}}'), coalesce(array_agg(DISTINCT customer_id), '{{}}') FROM ins
            """, params)
            created_ids, created_customers = cur.fetchone()
            updated, updated_customers = 0, []
            if sets and len(created_ids) < len(rows):
                cur.execute(f"""
                    WITH up AS (
                        UPDATE {table} x SET {sets}
                        FROM tmp_bulk t
                        WHERE x.customer_id = t.customer_id AND x.{key_name} = t.{key_name}
                          AND NOT EXISTS (SELECT 1 FROM unnest(%(created)s::bigint[]) AS n(id) WHERE n.id = x.id)
                          AND ({changed})
                        RETURNING x.customer_id
                    )
                    SELECT count(*), coalesce(array_agg(DISTINCT customer_id), '{{}}') FROM up
                """, {"created": created_ids})
                updated, updated_customers = cur.fetchone()
            touched = sorted(set(created_customers) | set(updated_customers))
            result.created, result.updated = len(created_ids), updated
            cur.execute("DROP TABLE tmp_bulk")
            if kind == "snapshot" and touched:
                _refresh_latest_figures(cur, touched)
        result.unchanged = int(good.sum()) - result.created - result.updated
        if dry_run:
            transaction.set_rollback(True)
    return result


def _pg_type(key_name):
    return "date" if key_name == "period" else "text"


def _sql_default(value):
    if isinstance(value, list):
        return _pg_array(value)  # an array literal: psycopg2 would send [] as an untyped ARRAY[]
    if isinstance(value, Decimal):
        return str(value)
    return value


def _refresh_latest_figures(cur, customer_ids: list[int]) -> None:
    """Keep Customer.aum_latest / last_txn_date equal to the latest snapshot's (one statement)."""
    # Lock the customers first, in id order, in a statement of its own: the UPDATE then reads the snapshots
    # with a fresh view that includes those of a concurrent batch that held these rows and has committed
    # (else it would put back the latest figure as it was before that batch: a lost update).
    cur.execute("SELECT 1 FROM customers_customer WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE",
                [sorted(customer_ids)])
    cur.execute(f"""
        UPDATE customers_customer c SET aum_latest = s.aum, last_txn_date = s.last_txn_date, updated_at = now(),
            change_txid = {TXID}
        FROM (SELECT DISTINCT ON (customer_id) customer_id, aum, last_txn_date
              FROM customers_financialsnapshot WHERE customer_id = ANY(%s)
              ORDER BY customer_id, period DESC) s
        WHERE c.id = s.customer_id
          AND (c.aum_latest, c.last_txn_date) IS DISTINCT FROM (s.aum, s.last_txn_date)
    """, [sorted(customer_ids)])


def snapshots_upsert(records, *, actor, today: date, offset: int = 0, source: str = "api",
                     dry_run: bool = False) -> BulkResult:
    return _child_upsert("snapshot", records, actor=actor, today=today, offset=offset, dry_run=dry_run)


def holdings_upsert(records, *, actor, today: date, offset: int = 0, source: str = "api",
                    dry_run: bool = False) -> BulkResult:
    return _child_upsert("holding", records, actor=actor, today=today, offset=offset, dry_run=dry_run)


UPSERTS = {"customers": customers_upsert, "snapshots": snapshots_upsert, "holdings": holdings_upsert}
