"""A batch of records as the pipeline sees it: columns in, per-record result and error rows out."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd
from django.utils.translation import gettext as _

from core.copy import pg_array

from .columns import Errors, is_missing, object_array, rows_mask

# The change feed's stamp (see migration customers.0003): written by the set-based statements themselves, so
# that the trigger's condition skips its PL/pgSQL call (customers.0007).
TXID = "pg_current_xact_id()::text::bigint"


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


def batch_columns(records) -> tuple[dict[str, np.ndarray], int, Errors]:
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
        errors.add(rows_mask(n, not_objects), "non_field_errors", _("Each record must be a JSON object."))
        records = [r if isinstance(r, dict) else {} for r in records]
    names = set().union(*records) if records else set()
    return {name: object_array([r.get(name) for r in records]) for name in names}, n, errors


def batch_frame(records) -> tuple[pd.DataFrame, Errors]:
    columns, n, errors = batch_columns(records)
    return pd.DataFrame(columns, index=pd.RangeIndex(n), dtype=object), errors


def reject_duplicates(keys: pd.DataFrame, errors: Errors, field_name: str) -> None:
    dup = keys.duplicated(keep=False).to_numpy()
    if dup.any():
        errors.add(dup, field_name, _("This key appears more than once in the batch; none of them was applied."))


def error_rows(errors: Errors, keys: pd.DataFrame, offset: int) -> list[dict]:
    items = errors.items
    if not items:
        return []
    out = []
    key_rows = keys.to_dict("records")
    for i, f, message in items:
        key = {k: (v if isinstance(v, str | int) else (None if is_missing(v) else str(v)))
               for k, v in key_rows[i].items()}
        out.append({"index": offset + i, "key": key, "field": f, "reason": message})
    return out


def rejections(errors: Errors, keys: pd.DataFrame, offset: int) -> BulkResult:
    return BulkResult(rejected=int(errors.bad.sum()), errors=error_rows(errors, keys, offset))


def sql_default(value):
    if isinstance(value, list):
        return pg_array(value)  # an array literal: psycopg2 would send [] as an untyped ARRAY[]
    if isinstance(value, Decimal):
        return str(value)
    return value

