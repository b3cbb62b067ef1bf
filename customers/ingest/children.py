"""Monthly snapshots and product holdings: the child records of a customer that core banking sends, keyed by
CIF + a key of their own. One upsert serves every kind; what differs between kinds is data (``ChildKind``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from django.db import connection, models, transaction
from django.utils.translation import gettext as _

from core.copy import copy_columns
from core.errors import NotPermitted
from customers.models import FinancialSnapshot, Holding
from org.permissions import can

from .batch import TXID, BulkResult, batch_frame, error_rows, reject_duplicates, sql_default
from .columns import Errors, absent, parse_cifs, parse_date, parse_int, parse_money, parse_text, unknown_columns
from .scope import Scope


@dataclass(frozen=True)
class ChildKind:
    """One kind of child record: its model, its key beside the CIF, the fields a record may give and how they are
    parsed, what a new row must have, and what else follows a write."""

    model: type[models.Model]
    key: str  # the key column beside the customer: unique together with customer_id
    key_type: str  # its PostgreSQL type, for the locking query
    fields: list[str]  # what a record may give, the CIF and the key included
    parse: Callable[[pd.DataFrame, Callable, Errors, date], dict[str, pd.Series]]  # key and given fields
    required_new: tuple[str, ...] = ()  # fields a new row needs
    after_write: Callable | None = None  # (cursor, ids of the customers whose rows changed)

    @property
    def table(self) -> str:
        return self.model._meta.db_table


SNAPSHOT_MONEY = {"aum": False, "aum_avg": False, "deposits": False, "wealth": False, "funds": False,
                  "loans": False, "credit_limit": False, "credit_used": True, "fee_income": True,
                  "contribution": True, "loan_interest": True}  # field → may be negative
SNAPSHOT_INT = {"txn_count": 2_147_483_647, "products_held": 32_767}
HOLDING_TEXT = {f.name: (f.max_length, [c[0] for c in f.choices] if f.choices else None)
                for f in Holding._meta.fields
                if f.get_internal_type() == "CharField"}


def _as_dates(frame, values) -> pd.Series:
    return pd.Series(values, index=frame.index, dtype=object)


def _parse_snapshot(frame: pd.DataFrame, col: Callable, errors: Errors, today: date) -> dict[str, pd.Series]:
    period = _as_dates(frame, parse_date(col("period"), errors, "period", today=today,
                                         not_future_message=_("The period cannot be in the future.")))
    errors.add(period.isna().to_numpy(), "period", _("Give the period as the first day of its month."))
    errors.add(period.map(lambda d: d is not None and d.day != 1).to_numpy(dtype=bool), "period",
               _("A period is given as the first day of its month."))
    out = {"period": period}
    for name, negative_ok in SNAPSHOT_MONEY.items():
        if name in frame.columns:
            out[name] = parse_money(frame[name], errors, name, allow_negative=negative_ok)
    for name, maximum in SNAPSHOT_INT.items():
        if name in frame.columns:
            out[name] = parse_int(frame[name], errors, name, maximum=maximum)
    if "last_txn_date" in frame.columns:
        out["last_txn_date"] = _as_dates(frame, parse_date(frame["last_txn_date"], errors, "last_txn_date",
                                                           today=today))
    return out


def _parse_holding(frame: pd.DataFrame, col: Callable, errors: Errors, today: date) -> dict[str, pd.Series]:
    out = {}
    for name, (max_length, choices) in HOLDING_TEXT.items():
        if name in frame.columns or name == "account_no":
            out[name] = pd.Series(parse_text(col(name), errors, name, max_length=max_length, choices=choices,
                                             blank_is_missing=name in ("account_no", "product_risk", "status"),
                                             allow_blank=Holding._meta.get_field(name).blank), index=frame.index)
    errors.add(out["account_no"].isna().to_numpy(), "account_no", _("Every holding needs its account number."))
    if "balance" in frame.columns:
        out["balance"] = parse_money(frame["balance"], errors, "balance", allow_negative=True)
    for name in ("opened_on", "matures_on"):
        if name in frame.columns:
            out[name] = _as_dates(frame, parse_date(frame[name], errors, name))
    return out


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


SNAPSHOTS = ChildKind(model=FinancialSnapshot, key="period", key_type="date",
                      fields=["cif", "period", *SNAPSHOT_MONEY, *SNAPSHOT_INT, "last_txn_date"],
                      parse=_parse_snapshot, after_write=_refresh_latest_figures)
HOLDINGS = ChildKind(model=Holding, key="account_no", key_type="text",
                     fields=["cif", *HOLDING_TEXT, "balance", "opened_on", "matures_on"],
                     parse=_parse_holding, required_new=("product_code", "product_name", "product_type"))


def snapshots_upsert(records, *, actor, today: date, offset: int = 0, source: str = "api",
                     dry_run: bool = False) -> BulkResult:
    """Create or update monthly snapshots by CIF + period; the customers' latest figures follow."""
    return _child_upsert(SNAPSHOTS, records, actor=actor, today=today, offset=offset, dry_run=dry_run)


def holdings_upsert(records, *, actor, today: date, offset: int = 0, source: str = "api",
                    dry_run: bool = False) -> BulkResult:
    """Create or update product holdings by CIF + account number."""
    return _child_upsert(HOLDINGS, records, actor=actor, today=today, offset=offset, dry_run=dry_run)


def _customer_ids(cur, parsed, errors, scope) -> pd.Series:
    cifs = sorted({c for c in parsed["cif"] if isinstance(c, str)})
    cur.execute("SELECT cif, id, branch_id FROM customers_customer WHERE cif = ANY(%s)", [cifs])
    found = {cif: (cid, bid) for cif, cid, bid in cur.fetchall()}
    ids = parsed["cif"].map(lambda c: found.get(c, (None, None))[0])
    branches = parsed["cif"].map(lambda c: found.get(c, (None, None))[1])
    unknown = ids.isna().to_numpy() | ~scope.allows(branches)
    errors.add(parsed["cif"].notna().to_numpy() & unknown, "cif", _("No customer with this CIF in your scope."))
    return ids


def _child_upsert(kind: ChildKind, records, *, actor, today: date, offset: int, dry_run: bool) -> BulkResult:
    if not can(actor, "customers.bulk_upsert"):
        raise NotPermitted()
    frame, errors = batch_frame(records)
    if not len(frame):
        return BulkResult()
    unknown_columns(frame, set(kind.fields), errors)
    col = lambda name: frame[name] if name in frame.columns else pd.Series([None] * len(frame), dtype=object)
    parsed = pd.DataFrame(index=frame.index)
    parsed["cif"] = pd.Series(parse_cifs(col("cif"), errors), index=frame.index)  # as before: pandas' text dtype
    for name, values in kind.parse(frame, col, errors, today).items():
        parsed[name] = values
    keys = parsed[["cif", kind.key]]
    reject_duplicates(keys, errors, kind.key)
    provided = [c for c in parsed.columns if c not in ("cif", kind.key)]
    result = BulkResult()
    with transaction.atomic(), connection.cursor() as cur:
        parsed["customer_id"] = _customer_ids(cur, parsed, errors, Scope.of(actor))
        existing = _locked_existing(cur, kind, parsed.loc[~errors.bad, ["customer_id", kind.key]].dropna())
        is_new = np.array([(cid, k) not in existing for cid, k in zip(parsed["customer_id"], parsed[kind.key])])
        for name in kind.required_new:
            missing = parsed[name].isna().to_numpy() if name in parsed else np.ones(len(parsed), dtype=bool)
            errors.add(is_new & missing, name, _("A new holding needs this field."))
        good = ~errors.bad
        result.rejected = int(errors.bad.sum())
        result.errors = error_rows(errors, keys, offset)
        if good.any():
            rows = parsed.loc[good, ["customer_id", kind.key, *provided]].copy()
            rows["customer_id"] = rows["customer_id"].astype(int)
            result.created, result.updated, touched = _write(cur, kind, rows, provided)
            if kind.after_write is not None and touched:
                kind.after_write(cur, touched)
        result.unchanged = int(good.sum()) - result.created - result.updated
        if dry_run:
            transaction.set_rollback(True)
    return result


def _locked_existing(cur, kind: ChildKind, pairs: pd.DataFrame) -> set[tuple]:
    """The (customer id, key) pairs of ``pairs`` that exist, locked in key order (new rows are inserted in the same
    order, so overlapping batches queue instead of deadlocking)."""
    if not len(pairs):
        return set()
    cur.execute(f"SELECT customer_id, {kind.key} FROM {kind.table} WHERE (customer_id, {kind.key}) IN "
                f"(SELECT * FROM unnest(%s::bigint[], %s::{kind.key_type}[])) "
                f"ORDER BY customer_id, {kind.key} FOR UPDATE",
                [pairs["customer_id"].astype(int).tolist(), pairs[kind.key].tolist()])
    return {(cid, k) for cid, k in cur.fetchall()}


def _write(cur, kind: ChildKind, rows: pd.DataFrame, provided: list[str]) -> tuple[int, int, list[int]]:
    """Insert the new rows (defaults for what a record leaves out), then update the others with only what each
    record gives, where it changes something: a row another writer creates meanwhile keeps its values. Returns
    (created, updated, ids of the customers whose rows changed)."""
    key_name, table, model = kind.key, kind.table, kind.model
    data_cols = [f.column for f in model._meta.fields if f.column not in ("id", "customer_id", key_name)]
    defaults = {f.column: sql_default(f.get_default()) for f in model._meta.fields}
    tmp_cols = ", ".join(["customer_id", key_name, *provided])
    cur.execute(f"CREATE TEMP TABLE tmp_bulk ON COMMIT DROP AS SELECT {tmp_cols} FROM {table} WITH NO DATA")
    copy_columns(cur, "tmp_bulk", {c: np.where(absent(v), None, v)  # pandas' NaN → NULL
                                   for c, v in ((c, rows[c].to_numpy(dtype=object)) for c in rows.columns)})
    values = ", ".join(f"COALESCE(t.{c}, %({c})s)" if c in provided else f"%({c})s" for c in data_cols)
    sets = ", ".join(f"{c} = COALESCE(t.{c}, x.{c})" for c in provided)
    changed = " OR ".join(f"(t.{c} IS NOT NULL AND t.{c} IS DISTINCT FROM x.{c})" for c in provided) or "FALSE"
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
    """, {c: defaults[c] for c in data_cols})
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
    cur.execute("DROP TABLE tmp_bulk")
    return len(created_ids), updated, sorted(set(created_customers) | set(updated_customers))
