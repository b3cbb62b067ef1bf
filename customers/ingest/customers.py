"""The customer pipeline: create or update customers by CIF, one batch at a time, set-based.

One pipeline serves the bulk API (≤ 5,000 JSON records a request) and file imports (CSV/Excel, any
size, in batches):

1. **parse** every column at once (``columns``): types, lengths, choices, dates, money; a bad value is an
   error on that record and field, never an exception;
2. **lock and read** the existing rows the batch names (``FOR UPDATE``, in key order, so two
   overlapping batches queue instead of deadlocking), and merge the batch over them;
3. **check** the merged records with the same rules as a hand-entered record (``rules.customer_record_problems``)
   and the writer's scope;
4. **write** the good records with COPY into a temporary table, one ``INSERT … ON CONFLICT DO NOTHING``
   for the new ones and one ``UPDATE … WHERE <something changed>`` for the others: unchanged records are
   not touched (no new history row, no change-feed entry), created/updated ones are counted from
   ``RETURNING``; the profile history rows are written by the same statements (old → new for updates; for a
   new customer an entry marked ``created`` whose values are rebuilt when shown, see
   ``selectors.customer_history``).

Why by hand: no maintained library does validated, audited, set-based upserts into PostgreSQL
(django-import-export and ``bulk_update`` work row by row; figures in bench/README.md).

A record that is null or absent in a field keeps the stored value (send "" to clear a text field).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils.translation import gettext as _

from core.copy import copy_columns, pg_array
from core.errors import NotPermitted
from customers import rules
from customers.constants import AUDITED_FIELDS, CustomerKind, LifecycleStage
from customers.models import Customer
from org.access import actor_ids
from org.constants import Role
from org.models import Branch, User
from org.permissions import can

from .batch import TXID, BulkResult, batch_columns, reject_duplicates, rejections, sql_default
from .columns import (
    Errors,
    absent,
    check_cif_format,
    object_array,
    parse_bool,
    parse_cifs,
    parse_date,
    parse_tags,
    parse_text,
    resolve_references,
    unknown_columns,
    valid_email,
)
from .scope import Scope

CUSTOMER_TEXT = {  # field → (max_length, choices or None)
    f.name: (f.max_length, [c[0] for c in f.choices] if f.choices else None)
    for f in Customer._meta.fields
    if f.get_internal_type() in ("CharField", "TextField", "EmailField") and f.name not in ("name_bigrams",)
}
CUSTOMER_TEXT["notes"] = (2000, None)
CUSTOMER_TEXT["mobile"] = (20, None)  # normalised below to 11 digits
CUSTOMER_BOOL = ["consent_sms", "consent_email", "consent_phone", "consent_app", "do_not_contact", "lunar_birthday"]
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


def _parse_customers(columns: dict[str, np.ndarray], n: int, errors: Errors, *, today: date,
                     lookups: OrgLookups) -> tuple[dict[str, np.ndarray], list[str]]:
    """(parsed columns by model field, the fields the batch gives): types, lengths, choices, references."""
    unknown_columns(columns, CUSTOMER_FIELDS_SET, errors)
    out = {"cif": parse_cifs(columns.get("cif", np.full(n, None, dtype=object)), errors)}
    check_cif_format(out["cif"], errors)
    provided = ["cif"]
    for name in CUSTOMER_FIELDS[1:]:
        if name not in columns:
            continue
        s = columns[name]
        if name in CUSTOMER_TEXT:
            max_length, choices = CUSTOMER_TEXT[name]
            out[name] = parse_text(s, errors, name, max_length=max_length, choices=choices,
                              allow_blank=Customer._meta.get_field(name).blank)
            if name == "email":  # the same rule as Django's EmailValidator (which is tried on what fails here)
                bad = np.fromiter((isinstance(v, str) and v != "" and not valid_email(v) for v in out[name]),
                                  dtype=bool, count=n)
                errors.add(bad, name, _("Enter a valid email address."))
                out[name][bad] = None
        elif name in CUSTOMER_BOOL:
            out[name] = parse_bool(s, errors, name)
        elif name == "birth_date":
            out[name] = parse_date(s, errors, name, today=today, not_future_message=rules.BIRTH_DATE_FUTURE_MESSAGE)
        elif name == "risk_assessed_on":
            out[name] = parse_date(s, errors, name, today=today, not_future_message=rules.ASSESSMENT_FUTURE_MESSAGE)
        elif name == "branch":
            branches = lookups.branch_ids
            out["branch_id"] = resolve_references(s, errors, "branch", {v: v for v in branches.values()}, branches,
                                        _("Unknown branch: give its code or id."))
            name = "branch_id"
        elif name == "rm":
            rms = lookups.rm_ids
            out["rm_id"] = resolve_references(s, errors, "rm", {v: v for v in rms.values()}, rms,
                                    _("Unknown relationship manager: give an active RM's username or id."))
            name = "rm_id"
        elif name == "tags":
            out[name] = parse_tags(s, errors, name)
        provided.append(name)
    return out, provided


def _check_customers(m: dict[str, np.ndarray], errors: Errors, *, today: date, scope: Scope,
                     is_new: np.ndarray, lookups: OrgLookups) -> None:
    """The rules over merged records (stored values with the batch's values on top): a new customer's name and
    branch, the record rules (``rules.customer_record_problems``, which normalise ``m``) and the writer's scope."""
    errors.add(rules.blank(m["name"]), "name", _("A new customer needs a name."))
    errors.add(absent(m["branch_id"]) & is_new, "branch", _("A new customer needs a home branch."))
    for field_name, mask, message in rules.customer_record_problems(m, today=today):
        errors.add(mask, field_name, message)

    # Scope: the writer may place customers only in its own branches; the RM must work there.
    has_branch = ~absent(m["branch_id"])
    errors.add(has_branch & ~scope.allows(m["branch_id"]), "branch",
               _("You cannot create or change customers of this branch."))
    errors.add(~scope.keeps(m["rm_id"]), "rm", _("You can only keep customers in your own book."))
    with_rm = ~absent(m["rm_id"])
    if with_rm.any():
        rm_branch, paths = lookups.staff_paths, lookups.branch_paths
        works = {}  # by (rm, branch): a batch has few distinct pairs
        for pair in set(zip(m["rm_id"][with_rm], m["branch_id"][with_rm])):
            r, b = pair
            works[pair] = (paths.get(b) or "").startswith(rm_branch.get(r) or "\0")
        works_there = [(not has) or works[(r, b)] for has, r, b in zip(with_rm, m["rm_id"], m["branch_id"])]
        errors.add(~np.array(works_there, dtype=bool), "rm", rules.RM_BRANCH_MESSAGE)


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
    # (selectors.customer_history); building a 28-field JSON object per new row was a large share of a batch in
    # every form tried (jsonb_build_object, to_jsonb of the row, row_to_json). For updates, the JSON text of the
    # changed fields only ('"field":[old, new]', NULL for the others, which concat_ws skips), parsed once:
    # cheaper than one jsonb_build_object of every field with the unchanged ones stripped afterwards, itself
    # cheaper than concatenating one small object per field with || (each || copies the object built so far).
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
                     dry_run: bool = False) -> BulkResult:
    """Create or update customers by CIF (one batch: a list of dicts or a DataFrame of raw values).

    Good records are stored even when others are rejected; each rejection names the record's key, the field
    and the reason (``index`` counted from ``offset``). ``dry_run`` checks and counts, then rolls back."""
    if not can(actor, "customers.bulk_upsert"):
        raise NotPermitted()
    columns, n, errors = batch_columns(records)
    if not n:
        return BulkResult()
    scope, lookups = Scope.of(actor), OrgLookups.load()
    parsed, provided, keys = parse_batch(columns, n, errors, today=today, lookups=lookups)
    with transaction.atomic(), connection.cursor() as cur:
        existing = _locked_existing_customers(cur, sorted({c for c in parsed["cif"] if c is not None}))
        merged, base, is_new = merged_and_checked(parsed, provided, existing, errors, today=today, scope=scope,
                                                   lookups=lookups)
        good = ~errors.bad
        result = rejections(errors, keys, offset)
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
                    rows[c] = np.where(absent(parsed[c]), None, merged[c])[good]
                else:
                    rows[c] = np.full(int(good.sum()), None, dtype=object)
            array_literals(rows)
            if "name" in given_cols:
                given_cols.append("name_bigrams")
            all_cols = list(rows)
            # (jit off: the temporary table's estimates push big batches over jit_above_cost, and compiling
            # then costs more than it saves; sent with the CREATE so the statement count stays the same)
            cur.execute("SET LOCAL jit = off; CREATE TEMP TABLE tmp_bulk ON COMMIT DROP AS "
                        f"SELECT {', '.join(chr(34) + c + chr(34) for c in all_cols)} "
                        "FROM customers_customer WITH NO DATA")
            copy_columns(cur, "tmp_bulk", rows)
            actor_id, key_id = actor_ids(actor)
            audited = [c for c in given_cols if c in AUDITED]
            insert_sql, update_sql = _customer_sql(audited, given_cols, all_cols)
            params = {"actor": actor_id, "key": key_id, "source": source,
                      **{f"d_{c}": sql_default(DEFAULTS.get(c, [])) for c in all_cols}}
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


def parse_batch(columns, n: int, errors: Errors, *, today: date, lookups: OrgLookups):
    """(parsed columns, fields given, keys): the batch parsed, a CIF given twice rejected."""
    parsed, provided = _parse_customers(columns, n, errors, today=today, lookups=lookups)
    keys = pd.DataFrame({"cif": parsed["cif"]}, dtype=object)
    reject_duplicates(keys, errors, "cif")
    return parsed, provided, keys


def merged_and_checked(parsed, provided, existing, errors: Errors, *, today: date, scope: Scope,
                        lookups: OrgLookups) -> tuple[dict, dict, np.ndarray]:
    """Merge the batch over the stored records and check the result: (merged, base, is_new)."""
    stored_index = {cif: i for i, cif in enumerate(existing["cif"])}
    position = object_array([stored_index.get(c) for c in parsed["cif"]])
    is_new = absent(position)
    # The writer must be allowed to change what is stored now, not only what it sends.
    stored_branch = _stored(existing, "branch_id", position, is_new)
    errors.add(~is_new & ~scope.allows(stored_branch), "cif", _("You cannot create or change this customer."))
    merged, base = _merge(parsed, provided, existing, position, is_new)
    _check_customers(merged, errors, today=today, scope=scope, is_new=is_new, lookups=lookups)
    return merged, base, is_new


@functools.lru_cache(maxsize=1 << 16)
def _bigrams_literal(name: str | None) -> str | None:
    """``rules.bigrams(name)`` as a PostgreSQL array literal (cached: personal names repeat a lot)."""
    return None if name is None else pg_array(rules.bigrams(name))


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
    return {c: object_array([r[i] for r in rows]) for i, c in enumerate(cols)}


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
            empty = absent(stored)
        else:
            stored, empty = np.empty(n, dtype=object), slice(None)
        if isinstance(default, list):  # one shared, never-modified list (numpy would broadcast a list)
            stored[empty] = object_array([default] * len(stored[empty]))
        else:
            stored[empty] = default
        base[c] = stored
        merged[c] = np.where(absent(parsed[c]), stored, parsed[c]) if c in provided else stored
    return merged, base


def array_literals(rows: dict[str, np.ndarray]) -> None:
    """The name's bigrams and the tags as PostgreSQL array literals, for COPY."""
    rows["name_bigrams"] = object_array([_bigrams_literal(v) for v in rows["name"]])
    rows["tags"] = object_array([pg_array(v) for v in rows["tags"]])
