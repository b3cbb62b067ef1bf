"""Bulk upsert API end to end: ``POST /api/v1/customers/bulk/`` with 5,000-record batches, against the
single-record API measured in the same run.

    # a scratch copy of the benchmark database (the script writes customers, then deletes them again)
    psql -h 127.0.0.1 -U postgres -c 'create database crm_bench_bulk template crm_bench'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_bulk .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_bulk .venv/bin/python bench/bench_bulk_api.py

Requests go through ``django.test.Client`` with ``Authorization: Api-Key …`` (a key made by
``org.services.api_key_create`` with ``customers:write``) and an ``Idempotency-Key``: the whole middleware
stack, key authentication and use logging, orjson parsing, the idempotency record, the upsert pipeline
(``customers/ingest/``) and the response; in-process, no network. Bodies are encoded before the clock
starts (that is the client's work). Records come from the demo generator (bench/records.py): valid
resident IDs and credit codes, mobiles, RMs of the customer's branch, all 28 profile fields.

Figures (records/s over all batches, and the median batch):
(a) new customers; (b) the same CIFs with changed mobile, email, address, stage, risk level and date, and tags;
(c) the batches of (b) sent again (nothing changes); then (a) and (b) with two clients in parallel
(disjoint batches, one connection each: the machine's two cores); and the baseline: single-record
``POST /api/v1/customers/`` (create) and ``PATCH /api/v1/customers/<id>/`` (update), with the ratios.
"""

import argparse
import multiprocessing
import statistics
import time
import uuid

import common
import orjson
import records
from django.db import connection, connections
from django.test import Client

from core.models import IdempotencyRecord
from org.access import ApiClient, actor_ident
from org.models import ApiKey, ApiKeyUse
from org.services import api_key_create

PREFIXES = ("BLK", "BLW", "BLP", "BLS")  # bulk, warm-up, parallel, single: deleted before and after
TARGET = 10_000


def cleanup():
    with connection.cursor() as cur:
        like = " OR ".join(f"cif LIKE '{p}%%'" for p in PREFIXES)
        cur.execute(f"DELETE FROM customers_customerchange WHERE customer_id IN "
                    f"(SELECT id FROM customers_customer WHERE {like})")
        cur.execute(f"DELETE FROM customers_customer WHERE {like}")
    keys = ApiKey.objects.filter(name__startswith="bench bulk api")
    IdempotencyRecord.objects.filter(owner__in=[actor_ident(ApiClient(k)) for k in keys]).delete()
    ApiKeyUse.objects.filter(key__in=keys).delete()
    keys.delete()


def client(key):
    return Client(HTTP_AUTHORIZATION=f"Api-Key {key}")


def post_bulk(c, body):
    t0 = time.perf_counter()
    r = c.post("/api/v1/customers/bulk/", body, content_type="application/json",
               HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    elapsed = time.perf_counter() - t0
    if r.status_code != 200:
        raise SystemExit(f"bulk answered {r.status_code}: {r.content[:500]!r}")
    return elapsed, orjson.loads(r.content)


def run_batches(c, bodies, expect):
    times, totals = [], {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    for body in bodies:
        elapsed, result = post_bulk(c, body)
        times.append(elapsed)
        for k in totals:
            totals[k] += result[k]
    n = sum(len(orjson.loads(b)["records"]) for b in bodies)
    if totals[expect] != n or totals["rejected"]:
        raise SystemExit(f"expected {n} {expect}, got {totals}")
    return n, times, totals


def run_parallel(key, body_lists, expect):
    """One client per list of bodies, each in a process of its own (forked, own DB connection), as a server's
    worker processes would serve them (threads in one process would also share one GIL); wall time from the
    moment all are ready until the last one is done."""
    ctx = multiprocessing.get_context("fork")
    results, go = ctx.Queue(), ctx.Event()

    def work(i):
        try:
            c = client(key)
            go.wait()
            n, times, _ = run_batches(c, body_lists[i], expect)
            results.put((n, times, time.perf_counter(), None))
        except BaseException as e:  # noqa: BLE001 - reported by the parent
            results.put((0, [], time.perf_counter(), repr(e)))
        finally:
            connections.close_all()

    connections.close_all()  # no connection shared with the children
    procs = [ctx.Process(target=work, args=(i,)) for i in range(len(body_lists))]
    for p in procs:
        p.start()
    time.sleep(1)  # let them start (the clock starts when they are released)
    t0 = time.perf_counter()  # CLOCK_MONOTONIC: the same clock in every process
    go.set()
    done = [results.get() for _ in procs]
    for p in procs:
        p.join()
    errors = [e for *_, e in done if e]
    if errors:
        raise SystemExit(f"a client failed: {errors[0]}")
    wall = max(end for _, _, end, _ in done) - t0
    return sum(n for n, *_ in done), wall, [x for _, times, _, _ in done for x in times]


def report_phase(label, n, times, *, target=TARGET, wall=None):
    total = wall if wall is not None else sum(times)
    rate = n / total
    common.report(f"{label}: records/s", rate, "records/s", target=target, higher_is_better=True, fmt="{:,.0f}",
                  note=f"{n:,} records in {total:.2f} s, median batch {statistics.median(times) * 1000:,.0f} ms")
    return rate


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=10, help="5,000-record batches per figure (default 10)")
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--single", type=int, default=300, help="records for the single-record baseline")
    parser.add_argument("--no-parallel", action="store_true", help="skip the two-client figures")
    parser.add_argument("--keep", action="store_true", help="keep the customers written (default: delete them)")
    args = parser.parse_args()
    db = connection.settings_dict["NAME"]
    if "bench" not in db:
        raise SystemExit(f"Refusing to write into {db!r}: use a scratch database whose name contains 'bench'.")
    common.header("bulk upsert API end to end (django.test.Client, API key, Idempotency-Key) vs single-record API")
    cleanup()
    with connection.cursor() as cur:  # the dead rows of earlier runs vacuumed now, not by autovacuum mid-figure
        cur.execute("VACUUM (ANALYZE) customers_customer, customers_customerchange")
    gen = records.Generator()
    _key_obj, key = api_key_create(name="bench bulk api", scopes=["customers:write", "customers:read"])
    size, nb = args.batch_size, args.batches
    first = 7_000_000

    def bodies(prefix, start, count, change_round=0):
        gen.prefix = prefix
        out, frames = [], []
        for i in range(count):
            f = gen.frame(start + i * size, size)
            if change_round:
                f = records.changed(f, round_no=change_round)
            frames.append(f)
            out.append(orjson.dumps({"records": records.records(f)}))
        return out, frames

    print(f"# generating {nb} × {size:,} records …", flush=True)
    warm, _ = bodies("BLW", first, 2)
    new, frames = bodies("BLK", first, nb)
    upd = [orjson.dumps({"records": records.records(records.changed(f, round_no=1))}) for f in frames]
    print(f"# body size {len(new[0]) / 1e6:.1f} MB per {size:,} records", flush=True)

    c = client(key)
    run_batches(c, warm, "created")  # warm-up: imports, regexes, caches, the key's first lookups

    n, times, _ = run_batches(c, new, "created")
    rate_new = report_phase(f"(a) new customers, {size:,}-record batches", n, times)
    n, times, _ = run_batches(c, upd, "updated")
    rate_upd = report_phase(f"(b) updated customers (7 fields changed), {size:,}-record batches", n, times)
    n, times, _ = run_batches(c, upd, "unchanged")
    rate_same = report_phase(f"(c) unchanged re-send, {size:,}-record batches", n, times)
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM customers_customerchange ch JOIN customers_customer c "
                    "ON c.id = ch.customer_id WHERE c.cif LIKE 'BLK%%'")
        history = cur.fetchone()[0]
    common.report("history rows written for (a)+(b)+(c)", history, "rows", fmt="{:,.0f}",
                  note=f"expected {2 * n:,}: one per created and per updated customer, none for the re-send")

    if not args.no_parallel:
        half = max(1, nb // 2)
        p_new, p_frames = bodies("BLP", first, 2 * half)
        p_upd = [orjson.dumps({"records": records.records(records.changed(f, round_no=2))}) for f in p_frames]
        n, wall, times = run_parallel(key, [p_new[:half], p_new[half:]], "created")
        report_phase("(a) new customers, 2 clients in parallel", n, times, wall=wall)
        n, wall, times = run_parallel(key, [p_upd[:half], p_upd[half:]], "updated")
        report_phase("(b) updated customers, 2 clients in parallel", n, times, wall=wall)

    # Baseline: the single-record API, one customer per request, same kind of records.
    gen.prefix = "BLS"
    single = gen.frame(first, args.single)
    create_bodies = [orjson.dumps(r) for r in records.records(single, by_id=True)]
    for body in create_bodies[:5]:  # warm-up
        r = c.post("/api/v1/customers/", body, content_type="application/json")
        assert r.status_code == 201, r.content[:500]
    t0 = time.perf_counter()
    ids = []
    for body in create_bodies[5:]:
        r = c.post("/api/v1/customers/", body, content_type="application/json",
                   HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
        if r.status_code != 201:
            raise SystemExit(f"single create answered {r.status_code}: {r.content[:500]!r}")
        ids.append(orjson.loads(r.content)["id"])
    single_create = (len(create_bodies) - 5) / (time.perf_counter() - t0)
    changed = records.records(records.changed(single, round_no=1), by_id=True)[5:]
    fields = ["mobile", "email", "address", "lifecycle_stage", "risk_level", "risk_assessed_on", "tags"]
    t0 = time.perf_counter()
    for pk, rec in zip(ids, changed):
        r = c.patch(f"/api/v1/customers/{pk}/", orjson.dumps({f: rec[f] for f in fields}),
                    content_type="application/json")
        if r.status_code != 200:
            raise SystemExit(f"single update answered {r.status_code}: {r.content[:500]!r}")
    single_update = len(ids) / (time.perf_counter() - t0)
    common.report("baseline: single-record POST /api/v1/customers/", single_create, "records/s", fmt="{:,.0f}",
                  note=f"{len(ids)} requests")
    common.report("baseline: single-record PATCH /api/v1/customers/<id>/", single_update, "records/s",
                  fmt="{:,.0f}", note=f"{len(ids)} requests, the same 7 fields")
    common.report("bulk vs single-record: new customers", rate_new / single_create, "×", fmt="{:,.1f}")
    common.report("bulk vs single-record: updated customers", rate_upd / single_update, "×", fmt="{:,.1f}")
    common.report("bulk vs single-record: unchanged re-send vs PATCH", rate_same / single_update, "×",
                  fmt="{:,.1f}")
    if not args.keep:
        cleanup()
    common.save(__file__)


if __name__ == "__main__":
    main()
