"""Column parsers of the ingest pipeline: a batch's column (Series, array or list) in, an object array out
(None where no value); a bad value is an error on that record and field (``Errors``), never an exception."""

from __future__ import annotations

import math
import re
from decimal import Decimal

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from customers import rules

_MONEY = re.compile(r"-?\d{1,16}(\.\d{1,2})?")
_TRUE = {"true", "1", "yes", "y", "是", "t"}
_FALSE = {"false", "0", "no", "n", "否", "f", ""}
_DATE_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
_EMAIL = re.compile(r"[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+(?:\.[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+)*"
                    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]{2,63}(?<!-)")


class Errors:
    """Field errors of a batch, by row position: the first problem found in a field is the one reported."""

    def __init__(self, n: int):
        self.n = n
        self.by_field: dict[str, dict[int, str]] = {}
        self.bad = np.zeros(n, dtype=bool)

    def add(self, mask, field_name: str, message) -> None:
        """``message``: one text for every row of ``mask``, or an array of texts by row."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        seen = self.by_field.setdefault(field_name, {})
        per_row = isinstance(message, np.ndarray)
        text = None if per_row else str(message)
        for i in np.flatnonzero(mask):
            seen.setdefault(int(i), str(message[i]) if per_row else text)
        self.bad |= mask

    @property
    def items(self) -> list[tuple[int, str, str]]:
        return sorted((i, f, m) for f, rows in self.by_field.items() for i, m in rows.items())


def is_missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def rows_mask(n: int, rows: list[int]) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    if rows:
        mask[rows] = True
    return mask


# Every parser takes a column (Series, array or list) and returns an object array: None where no value.
# Each has a fast path for the common case — every value of the expected type and none of them wrong —
# checked with a few C-level passes over the whole column (``set(map(type, …))``, one ``"".join``, a
# ``max(map(len, …))``); any doubt falls back to the loop that finds and reports every bad value, so the
# results are the same either way.
_NONE = type(None)
_NUL = "\x00"


def absent(s) -> np.ndarray:
    """None/NaN (and NaT) per value, in one C-level pass (``pd.isna`` of the object array)."""
    return pd.isna(np.asarray(s, dtype=object))


def as_objects(s) -> np.ndarray:
    """The column as a 1-d object array (lists inside stay list objects)."""
    if isinstance(s, np.ndarray) and s.dtype == object:
        return s
    if isinstance(s, pd.Series | pd.Index):
        return s.to_numpy(dtype=object)
    return np.fromiter(s, dtype=object, count=len(s))


def object_array(values) -> np.ndarray:
    return np.fromiter(values, dtype=object, count=len(values))


def parse_text(s, errors, name, *, max_length, choices=None, blank_is_missing=False, allow_blank=True):
    values = as_objects(s)
    allowed = None
    if choices is not None:
        allowed = set(choices) | ({""} if allow_blank and not blank_is_missing else set())
    check_blank = not allow_blank and not blank_is_missing
    if set(map(type, values)) <= {str, _NONE}:
        out = object_array([v if v is None else v.strip() for v in values])
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
        elif not is_missing(v):
            not_text.append(i)
    errors.add(rows_mask(n, not_text), name, _("Enter text."))
    errors.add(rows_mask(n, nul), name, _("Null characters are not allowed."))
    errors.add(rows_mask(n, too_long), name,
               _("Ensure this value has at most %(max)d characters.") % {"max": max_length})
    if check_blank:
        errors.add(rows_mask(n, blank), name, _("This field cannot be blank."))
    if allowed is not None:
        choices = allowed - {""}
        errors.add(rows_mask(n, not_choice), name,
                   _("Not a valid choice. Use one of: %(choices)s.") % {"choices": ", ".join(sorted(choices))})
    return out


def valid_email(value: str) -> bool:
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


def parse_bool(s, errors, name):
    values = as_objects(s)
    kinds = set(map(type, values))
    if kinds <= {bool, _NONE}:
        return values.copy()
    if kinds <= {str, bool, _NONE}:
        out = object_array([v if v is None or v is True or v is False else _BOOL_TEXT.get(v) for v in values])
        if absent(out).sum() == absent(values).sum():
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
    errors.add(rows_mask(len(values), bad), name, _("Enter true or false."))
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


def parse_date(s, errors, name, *, today=None, not_future_message=None):
    values = as_objects(s)
    if set(map(type, values)) <= {str, _NONE}:
        present = ~absent(values)
        days = _iso_dates(values[present])
        if (days is not None and (today is None or not (days > np.datetime64(today, "D")).any())
                and not ((days < _EARLIEST) | (days > _LATEST)).any()):
            out = np.full(len(values), None, dtype=object)
            out[present] = days.astype(object)
            return out
    return _date_checked(values, errors, name, today=today, not_future_message=not_future_message)


def _date_checked(values, errors, name, *, today, not_future_message):
    values = values.tolist()
    missing = np.array([is_missing(v) or (isinstance(v, str) and not v.strip()) for v in values], dtype=bool)
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


def parse_money(s, errors, name, *, allow_negative):
    missing = absent(s) | s.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(dtype=bool)

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


def parse_int(s, errors, name, *, maximum):
    missing = absent(s) | s.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(dtype=bool)

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


def parse_tags(s, errors, name):
    def parse(v):
        if isinstance(v, str):
            v = _TAG_SEPARATORS.split(v)
        if not isinstance(v, list) or not all(isinstance(t, str) and "\x00" not in t for t in v):
            return None
        return sorted({t.strip() for t in v if t.strip()})

    values = as_objects(s)
    n = len(values)
    out, bad, over = np.full(n, None, dtype=object), [], {}
    for i, v in enumerate(values):
        if v is None or (v.__class__ is float and math.isnan(v)):
            continue
        tags = parse(v)
        if tags is None:
            bad.append(i)
            continue
        out[i] = tags
        if problem := rules.tags_problem(tags):
            over.setdefault(problem, []).append(i)
    errors.add(rows_mask(n, bad), name, _("Give tags as a list of text (or separated by ; in a file)."))
    for problem, rows in over.items():
        errors.add(rows_mask(n, rows), name, problem)
    return out


def unknown_columns(columns, allowed, errors):
    """An error on every value of a field the kind does not have (``columns``: name → values)."""
    for name, values in columns.items():
        if name not in allowed:
            errors.add(~absent(values), str(name), _("Unknown field."))


def parse_cifs(values, errors: Errors) -> np.ndarray:
    """The key column: text, upper-cased; a record without one is an error."""
    cif = parse_text(values, errors, "cif", max_length=32, blank_is_missing=True)
    errors.add(absent(cif), "cif", _("Every record needs its CIF."))
    return object_array([v if v is None else v.upper() for v in cif])


def check_cif_format(cif: np.ndarray, errors: Errors) -> None:
    """Every record's CIF: letters, digits and dashes (``rules.normalize_cif``, over the whole column)."""
    present = ~absent(cif)
    ok = np.ones(len(cif), dtype=bool)
    ok[present] = rules.cif_checks(cif[present])
    errors.add(~ok, "cif", rules.CIF_MESSAGE)


def resolve_references(s, errors: Errors, name: str, by_id: dict, by_code: dict, message: str) -> np.ndarray:
    values = as_objects(s)

    def look(v):
        if isinstance(v, bool):
            return None
        if isinstance(v, int) or (isinstance(v, float) and v.is_integer()):
            return by_id.get(int(v))
        if isinstance(v, str):
            v = v.strip()
            return by_code.get(v) or (by_id.get(int(v)) if v.isdigit() else None)
        return None

    out = object_array([by_code.get(v) if v.__class__ is str else None for v in values])  # codes as given: one pass
    missing = absent(values)
    unresolved = np.flatnonzero(absent(out) & ~missing)
    for i in unresolved:
        out[i] = look(values[i])
    errors.add(~missing & absent(out), name, message)
    return out
