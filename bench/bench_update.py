"""Updating 20,000 existing customers: set-based (COPY into a temporary table + one UPDATE … FROM, and the
project's bulk pipeline) against Django's ``bulk_update(objs, fields, batch_size=1000)``, same rows, same run.

    psql -h 127.0.0.1 -U postgres -c 'create database crm_bench_bulk template crm_bench'   # a scratch copy
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_bulk .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_bulk .venv/bin/python bench/bench_update.py

20,000 customers spread over the whole table (a fixed random sample) get new values in the seven fields
core banking typically changes (mobile, email, address, lifecycle stage, risk level and its date, tags)
plus ``updated_at``; every round gives every row values it does not have yet, so each method really
writes 20,000 rows. Each method runs ``--rounds`` times (interleaved; median reported), in one
transaction per run, commit included. Values are prepared before the clock starts; the objects given to
``bulk_update`` are loaded before it too (its cost here is the write alone).

1. ``bulk_update``: ``Customer.objects.bulk_update(objs, fields, batch_size=1000)`` — 20 statements of
   ``UPDATE … SET f = CASE WHEN id = … THEN … (× 1,000) END … WHERE id IN (…)``.
2. set-based SQL: ``COPY`` (id + the fields, text format) into a temporary table, one
   ``UPDATE customers_customer c SET … FROM tmp t WHERE c.id = t.id`` (a nested loop over the primary key).
3. the bulk pipeline (``customers.ingest.customers.customers_upsert``, what the bulk API and the file import run):
   records keyed by CIF, parsed and validated, locked, merged, one ``INSERT … ON CONFLICT DO UPDATE``,
   profile-history rows written; 4 batches of 5,000.
"""

import argparse
import statistics
import time
from datetime import date

import common
import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from core.copy import copy_data, copy_text, pg_array
from customers.ingest.batch import TXID
from customers.ingest.customers import customers_upsert
from customers.models import Customer
from demo.customers import MOBILE_PREFIXES
from org.models import ApiKey
from org.services import api_key_create

FIELDS = ["mobile", "email", "address", "lifecycle_stage", "risk_level", "risk_assessed_on", "tags"]
STAGES = ["prospect", "development", "growth", "maturity", "decline", "terminated"]
TAGS = ["代发工资", "房贷客户", "理财偏好", "基金定投", "私行潜客", "新市民"]
TARGET = 25


def sample_ids(n, seed):
    with connection.cursor() as cur:
        cur.execute("SELECT min(id), max(id) FROM customers_customer WHERE cif LIKE 'CIF%%'")
        lo, hi = cur.fetchone()
    rng = np.random.default_rng(seed)
    ids = set()
    while len(ids) < n:
        cand = rng.integers(lo, hi + 1, size=2 * n).tolist()
        found = Customer.objects.filter(id__in=cand, cif__startswith="CIF").values_list("id", flat=True)
        ids.update(found)
    return sorted(rng.choice(sorted(ids), size=n, replace=False).tolist())


def values_for(rows, round_no):
    """New values for every row (differing from what round ``round_no - 1`` wrote)."""
    rng = np.random.default_rng([5, round_no])
    n = len(rows)
    prefixes = np.asarray(MOBILE_PREFIXES, dtype=object)[rng.integers(0, len(MOBILE_PREFIXES), n)]
    mobiles = (prefixes + np.char.zfill(rng.integers(0, 10**8, n).astype(str), 8).astype(object)).tolist()
    out = []
    for i, (pk, cif, address) in enumerate(rows):
        base = address.split("（")[0]
        out.append({
            "id": pk, "cif": cif,
            "mobile": mobiles[i],
            "email": f"r{round_no}c{pk}@163.com",
            "address": f"{base}（{round_no}号楼）",
            "lifecycle_stage": STAGES[(pk + round_no) % len(STAGES)],
            "risk_level": f"C{(pk + round_no) % 5 + 1}",
            "risk_assessed_on": date(2026, 1 + round_no % 9, 1 + round_no % 27),
            "tags": sorted({TAGS[round_no % len(TAGS)], f"批次{round_no}"}),
        })
    return out


def run_bulk_update(values):
    objs = list(Customer.objects.filter(id__in=[v["id"] for v in values]).order_by("id"))
    by_id = {v["id"]: v for v in values}
    now = timezone.now()
    for o in objs:
        for f in FIELDS:
            setattr(o, f, by_id[o.id][f])
        o.updated_at = now
    t0 = time.perf_counter()
    with transaction.atomic():
        n = Customer.objects.bulk_update(objs, [*FIELDS, "updated_at"], batch_size=1000)
    elapsed = time.perf_counter() - t0
    assert n == len(values), n
    return elapsed


def run_set_based(values, explain=False):
    t0 = time.perf_counter()
    columns = {c: [v[c] for v in values] for c in ["id", *FIELDS]}  # the project's COPY writer (core.copy)
    columns["tags"] = [pg_array(t) for t in columns["tags"]]
    data = copy_text(columns)
    plan = None
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE tmp_upd ON COMMIT DROP AS "
                    f"SELECT id, {', '.join(FIELDS)} FROM customers_customer WITH NO DATA")
        copy_data(cur, "tmp_upd", ["id", *FIELDS], data)
        # No ANALYZE of tmp_upd: with its 20,000 rows known, the planner prefers a hash join over a sequential
        # scan of the whole customer table (+0.3–0.5 s here) to 20,000 primary-key probes.
        # the change-feed stamp written by the statement itself, as the project's set-based writers do
        sql = (f"UPDATE customers_customer c SET {', '.join(f'{f} = t.{f}' for f in FIELDS)}, updated_at = now(), "
               f"change_txid = {TXID} FROM tmp_upd t WHERE c.id = t.id")
        if explain:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            plan = "\n".join(r[0] for r in cur.fetchall())
            n = len(values)
        else:
            cur.execute(sql)
            n = cur.rowcount
    elapsed = time.perf_counter() - t0
    assert n == len(values), n
    return elapsed, plan


def run_pipeline(values, actor, batch=5000):
    recs = [{"cif": v["cif"], **{f: (v[f].isoformat() if f == "risk_assessed_on" else v[f]) for f in FIELDS}}
            for v in values]
    t0 = time.perf_counter()
    updated = 0
    for i in range(0, len(recs), batch):
        result = customers_upsert(recs[i:i + batch], actor=actor, today=date(2026, 11, 22), source="api")
        assert not result.rejected, result.errors[:3]
        updated += result.updated
    elapsed = time.perf_counter() - t0
    assert updated == len(values), updated
    return elapsed


def check(values):
    """The rows hold exactly what the last method wrote."""
    got = {r[0]: r[1:] for r in Customer.objects.filter(id__in=[v["id"] for v in values]).values_list("id", *FIELDS)}
    bad = [v["id"] for v in values if got[v["id"]] != tuple(v[f] for f in FIELDS)]
    assert not bad, f"{len(bad)} rows differ, e.g. {bad[:3]}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each method (median reported)")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    db = connection.settings_dict["NAME"]
    if "bench" not in db or db == "crm_bench":
        raise SystemExit(f"Refusing to update customers in {db!r}: use a scratch copy (name with 'bench').")
    common.header(f"updating {args.rows:,} existing customers: set-based vs bulk_update(batch_size=1000)")
    ids = sample_ids(args.rows, args.seed)
    rows = list(Customer.objects.filter(id__in=ids).order_by("id").values_list("id", "cif", "address"))
    ApiKey.objects.filter(name="bench update").delete()
    key_obj, _key = api_key_create(name="bench update", scopes=["customers:write"])
    from org.access import ApiClient

    actor = ApiClient(key_obj)
    times = {"bulk_update": [], "set-based SQL": [], "bulk pipeline": []}
    round_no = 100
    plan = None
    try:
        for r in range(args.rounds):
            order = list(times) if r % 2 == 0 else list(reversed(times))
            for method in order:
                round_no += 1
                values = values_for(rows, round_no)
                with connection.cursor() as cur:
                    cur.execute("VACUUM customers_customer")  # every method starts from the same table state
                if method == "bulk_update":
                    t = run_bulk_update(values)
                elif method == "set-based SQL":
                    t, p = run_set_based(values, explain=(r == 0 and plan is None))
                    if p:
                        plan = p
                        round_no += 1
                        values = values_for(rows, round_no)
                        t, _ = run_set_based(values)
                else:
                    t = run_pipeline(values, actor)
                check(values)
                times[method].append(t)
                print(f"#   round {r + 1}: {method}: {t:.2f} s", flush=True)
    finally:
        with connection.cursor() as cur:
            cur.execute("DELETE FROM customers_customerchange WHERE api_key_id = %s", [key_obj.pk])
        ApiKey.objects.filter(pk=key_obj.pk).delete()
    print("# UPDATE … FROM plan (first round):\n#   " + (plan or "").replace("\n", "\n#   "), flush=True)
    med = {m: statistics.median(v) for m, v in times.items()}
    n = args.rows
    for m, t in med.items():
        common.report(f"{m}: {n:,} rows", t, "s", fmt="{:,.2f}",
                      note=f"{n / t:,.0f} rows/s; runs {', '.join(f'{x:.2f}' for x in times[m])} s")
    common.report("set-based SQL vs bulk_update(batch_size=1000)", med["bulk_update"] / med["set-based SQL"], "×",
                  target=TARGET, higher_is_better=True, fmt="{:,.1f}")
    common.report("bulk pipeline (validation, history) vs bulk_update(batch_size=1000)",
                  med["bulk_update"] / med["bulk pipeline"], "×", target=TARGET, higher_is_better=True, fmt="{:,.1f}")
    common.save(__file__)


if __name__ == "__main__":
    main()
