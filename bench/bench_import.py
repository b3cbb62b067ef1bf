"""File import of 1,000,000 customers end to end (``manage.py import_customers FILE``), against a raw
``psql \\copy`` of the same CSV into a scratch table without indexes (the physical ceiling).

    psql -h 127.0.0.1 -U postgres -c 'create database crm_bench_import'
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_import
    .venv/bin/python manage.py migrate
    .venv/bin/python manage.py seed_demo --customers 0 --rms 400 --today 2026-03-15   # the organisation only
    .venv/bin/python bench/bench_import.py            # --truncate to run it again on the same database

1. The CSV (made once, kept in ``--csv``, default /tmp): 1,000,000 customers from the demo generator
   (bench/records.py) with the columns core banking sends — cif, name, kind, gender, birth_date, id_type,
   id_number, occupation, income_band, credit_code, industry, company_size, legal_representative,
   contact_person, mobile, email, address, consent_sms, consent_email, consent_phone, consent_app,
   do_not_contact, branch (code), rm (username), lifecycle_stage, risk_level, risk_assessed_on,
   tags (``;``-separated); booleans as Y/N. ≈ 216 MB, UTF-8.
2. ``psql \\copy`` of that file into ``bench_copy_ceiling`` (same columns, typed like the customer table,
   no index, no constraint), then the table is dropped.
3. ``manage.py import_customers FILE`` in a child process, into a database with the organisation and no
   customers: wall time and peak memory (``ru_maxrss`` of the child from ``os.wait4``); every record
   must be created, none rejected. Into an empty table the command runs as an initial load (indexes and
   foreign keys rebuilt at the end, see customers/ingest/initial_load.py); ``--no-initial-load`` measures the
   ordinary chunk-by-chunk import instead.
"""

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import common
import records
from django.db import connection

COLUMNS = records.FIELDS
TARGET_SECONDS = 60
TARGET_MEMORY_MB = 1536
TARGET_RATIO = 0.3
CEILING_DDL = """
CREATE TABLE bench_copy_ceiling (
    cif varchar(32), name varchar(100), kind varchar(12), gender varchar(1), birth_date date,
    id_type varchar(20), id_number varchar(32), occupation varchar(60), income_band varchar(12),
    credit_code varchar(18), industry varchar(60), company_size varchar(10), legal_representative varchar(60),
    contact_person varchar(60), mobile varchar(11), email varchar(254), address varchar(200),
    consent_sms boolean, consent_email boolean, consent_phone boolean, consent_app boolean,
    do_not_contact boolean, branch text, rm text, lifecycle_stage varchar(12), risk_level varchar(2),
    risk_assessed_on date, tags text
)"""


def make_csv(path: Path, n: int, chunk: int = 50_000) -> None:
    gen = records.Generator(cif_prefix="IMP")
    tmp = path.with_suffix(".part")
    t0 = time.perf_counter()
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(",".join(COLUMNS) + "\n")
        for first in range(0, n, chunk):
            frame = gen.frame(1 + first, min(chunk, n - first), chunk_index=20_000 + first // chunk)
            frame = frame[COLUMNS].copy()
            for c in records.BOOLS:
                frame[c] = frame[c].map({True: "Y", False: "N"})
            frame["tags"] = frame["tags"].str.replace(",", ";")
            frame.to_csv(f, header=False, index=False, lineterminator="\n")
            print(f"#   {first + len(frame):,} rows written", flush=True)
    tmp.rename(path)
    print(f"# CSV made in {time.perf_counter() - t0:.1f} s", flush=True)


def db_env():
    return {**os.environ, "DATABASE_URL": os.environ["DATABASE_URL"]}


def psql_copy(path: Path) -> float:
    s = connection.settings_dict
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_copy_ceiling")
        cur.execute(CEILING_DDL)
    cmd = ["psql", "-h", s["HOST"] or "127.0.0.1", "-p", str(s["PORT"] or 5432), "-U", s["USER"], "-d", s["NAME"],
           "-v", "ON_ERROR_STOP=1", "-c",
           f"\\copy bench_copy_ceiling ({', '.join(COLUMNS)}) FROM '{path}' WITH (FORMAT csv, HEADER)"]
    env = {**os.environ, **({"PGPASSWORD": s["PASSWORD"]} if s.get("PASSWORD") else {})}
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t0
    if out.returncode:
        raise SystemExit(f"psql \\copy failed: {out.stderr}")
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM bench_copy_ceiling")
        rows = cur.fetchone()[0]
        cur.execute("DROP TABLE bench_copy_ceiling")
    print(f"# psql: {out.stdout.strip()} ({rows:,} rows)", flush=True)
    return elapsed


def indexed_floor() -> tuple[float, float]:
    """Write the imported rows again into a clone of customers_customer with the same indexes (and then
    check their two foreign keys), in a transaction rolled back: what this schema costs without any
    application work."""
    with connection.cursor() as cur:
        cur.execute("CHECKPOINT")
        cur.execute("BEGIN")
        try:
            cur.execute("CREATE TABLE bench_indexed_clone (LIKE customers_customer INCLUDING INDEXES)")
            t0 = time.perf_counter()
            cur.execute("INSERT INTO bench_indexed_clone SELECT * FROM customers_customer")
            insert_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            cur.execute("ALTER TABLE bench_indexed_clone ADD FOREIGN KEY (branch_id) REFERENCES org_branch (id), "
                        "ADD FOREIGN KEY (rm_id) REFERENCES org_user (id)")
            fk_s = time.perf_counter() - t0
        finally:
            cur.execute("ROLLBACK")
    return insert_s, fk_s


def run_import(path: Path, chunk_size: int | None, profile: str | None, initial_load: bool = True):
    cmd = [sys.executable]
    if profile:
        cmd += ["-m", "cProfile", "-o", profile]
    cmd += [str(common.ROOT / "manage.py"), "import_customers", str(path)]
    if chunk_size:
        cmd += ["--chunk-size", str(chunk_size)]
    if not initial_load:
        cmd += ["--no-initial-load"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=common.ROOT, env=db_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    lines, first_progress = [], None
    for line in proc.stdout:
        now = time.perf_counter() - t0
        if first_progress is None and " rows" in line and "/" in line and "importing" not in line:
            first_progress = now
        lines.append(line.rstrip())
        print(f"#   {now:6.1f} s  {line.rstrip()}", flush=True)
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"import_customers exited with {proc.returncode}")
    return elapsed, usage.ru_maxrss / 1024, lines, first_progress


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--csv", type=Path, default=None, help="default /tmp/crm_bench_customers_<n>.csv")
    parser.add_argument("--regenerate", action="store_true", help="make the CSV again even if it exists")
    parser.add_argument("--truncate", action="store_true",
                        help="empty the customer tables first (a database whose name contains 'bench' but is not "
                             "crm_bench)")
    parser.add_argument("--chunk-size", type=int, default=None, help="passed to import_customers")
    parser.add_argument("--profile", default=None, help="run the import under cProfile, writing this file")
    parser.add_argument("--no-floor", action="store_true", help="skip the indexed-clone INSERT figure")
    parser.add_argument("--no-initial-load", action="store_true",
                        help="import chunk by chunk with the indexes in place (passed to import_customers)")
    args = parser.parse_args()
    db = connection.settings_dict["NAME"]
    if "bench" not in db or db == "crm_bench":
        raise SystemExit(f"Refusing to import into {db!r}: use a scratch database (name with 'bench', not crm_bench).")
    path = args.csv or Path(f"/tmp/crm_bench_customers_{args.customers}.csv")
    with connection.cursor() as cur:
        if args.truncate:
            cur.execute("TRUNCATE customers_customerchange, customers_followuptask, customers_interaction, "
                        "customers_holding, customers_financialsnapshot, customers_customer")
            cur.execute("VACUUM ANALYZE customers_customer")
    common.header(f"file import of {args.customers:,} customers (manage.py import_customers) vs psql \\copy")
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM customers_customer")
        if cur.fetchone()[0]:
            raise SystemExit("The database holds customers: use an empty one (or --truncate).")
    if args.regenerate or not path.exists():
        print(f"# making {path} …", flush=True)
        make_csv(path, args.customers)
    size_mb = path.stat().st_size / 1e6
    print(f"# {path}: {size_mb:,.0f} MB", flush=True)

    copy_s = psql_copy(path)
    common.report("psql \\copy into a table without indexes (ceiling)", copy_s, "s",
                  note=f"{args.customers / copy_s:,.0f} rows/s, {size_mb / copy_s:,.0f} MB/s")

    with connection.cursor() as cur:
        cur.execute("CHECKPOINT")  # the \copy's dirty pages are not the import's to write
    elapsed, peak_mb, lines, first_progress = run_import(path, args.chunk_size, args.profile,
                                                         initial_load=not args.no_initial_load)
    summary = next((line for line in reversed(lines) if "created" in line), "")
    m = re.search(r"([\d,]+) created, ([\d,]+) updated, ([\d,]+) unchanged, ([\d,]+) rejected", summary)
    created, rejected = (int(m[1].replace(",", "")), int(m[4].replace(",", ""))) if m else (0, -1)
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM customers_customer")
        stored = cur.fetchone()[0]
    if created != args.customers or rejected or stored != args.customers:
        print(f"# WARNING: created {created:,}, rejected {rejected:,}, stored {stored:,} "
              f"(expected {args.customers:,} created, 0 rejected)", flush=True)
    common.report("import_customers: wall time", elapsed, "s", target=TARGET_SECONDS,
                  note=f"{args.customers / elapsed:,.0f} records/s; {created:,} created, {rejected:,} rejected, "
                       f"{stored:,} stored; first progress line at {first_progress or 0:.1f} s; "
                       f"{'initial load' if 'initial load' in summary else 'chunk by chunk'}")
    common.report("import_customers: peak memory (max RSS)", peak_mb, "MB", target=TARGET_MEMORY_MB, fmt="{:,.0f}")
    common.report("import speed / psql \\copy speed", copy_s / elapsed, "×", target=TARGET_RATIO,
                  higher_is_better=True, fmt="{:,.2f}")
    if stored and not args.no_floor:
        floor_s, fk_s = indexed_floor()
        common.report("the same rows INSERT … SELECT into a clone with the customer table's indexes", floor_s, "s",
                      note=f"{stored / floor_s:,.0f} rows/s; + {fk_s:.1f} s for the branch/RM foreign-key checks; "
                           "no validation, no history, no trigger: the write cost of this schema")
        common.report("import speed / indexed-clone INSERT speed", (floor_s + fk_s) / elapsed, "×", fmt="{:,.2f}")
    common.save(__file__)


if __name__ == "__main__":
    main()
