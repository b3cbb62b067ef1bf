"""Shared set-up for the benchmarks: Django on the DATABASE_URL database, timers, one line per figure.

Every script prints ``name: value unit  [target …: OK|MISS]`` lines and also writes them to
``bench/results/<script>.json`` (not committed) so README figures can be copied from a real run.
"""

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings.base")
# Production-like: no DEBUG overhead; throttles out of the way of a few thousand sequential requests.
os.environ.setdefault("DJANGO_DEBUG", "False")
os.environ.setdefault("API_THROTTLE_USER", "10000000/min")
os.environ.setdefault("API_THROTTLE_KEY", "10000000/min")
os.environ.setdefault("LOG_LEVEL", "WARNING")

if not os.environ.get("DATABASE_URL"):
    sys.exit("Set DATABASE_URL to the benchmark database, e.g. "
             "DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench .venv/bin/python bench/bench_pages.py")

import django

django.setup()

from django.db import connection

RESULTS: list[dict] = []


def percentile(values, p):
    """Nearest-rank percentile of a list of numbers (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def time_ms(fn, *args, **kwargs):
    t0 = time.perf_counter()
    result = fn(*args, **kwargs)
    return (time.perf_counter() - t0) * 1000, result


def report(name, value, unit="", *, target=None, higher_is_better=False, fmt="{:,.1f}", note=""):
    """Print one figure; with a target, say whether it is met."""
    line = f"{name}: {fmt.format(value)}{(' ' + unit) if unit else ''}"
    status = None
    if target is not None:
        ok = value >= target if higher_is_better else value <= target
        status = "OK" if ok else "MISS"
        sign = "≥" if higher_is_better else "≤"
        line += f"  [target {sign} {fmt.format(target)}{(' ' + unit) if unit else ''}: {status}]"
    if note:
        line += f"  ({note})"
    print(line, flush=True)
    RESULTS.append({"name": name, "value": value, "unit": unit, "target": target, "status": status, "note": note})


def summary(name, samples_ms, *, target_p95=None, note=""):
    """p50 and p95 (ms) of a list of timings."""
    report(f"{name} p50", percentile(samples_ms, 50), "ms", note=note)
    report(f"{name} p95", percentile(samples_ms, 95), "ms", target=target_p95,
           note=f"n={len(samples_ms)}, max {max(samples_ms):.1f} ms" + (f", {note}" if note else ""))


def machine():
    cores = os.cpu_count()
    try:
        with open("/proc/meminfo") as f:
            mem_kb = int(next(line.split()[1] for line in f if line.startswith("MemTotal")))
        mem = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        mem = "?"
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        pg = cur.fetchone()[0]
        cur.execute("SHOW shared_buffers")
        sb = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM customers_customer")
        customers = cur.fetchone()[0]
    return (f"{cores} cores, {mem} RAM, Python {platform.python_version()}, PostgreSQL {pg} "
            f"(shared_buffers {sb}), database {connection.settings_dict['NAME']} with {customers:,} customers")


def header(title):
    print(f"# {title}", flush=True)
    print(f"# {machine()}", flush=True)


def save(script):
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    path = out / f"{Path(script).stem}.json"
    path.write_text(json.dumps({"at": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(),
                                "figures": RESULTS}, ensure_ascii=False, indent=1))


def user(username):
    from org.models import User

    try:
        return User.objects.select_related("branch").get(username=username)
    except User.DoesNotExist:
        sys.exit(f"No user {username!r}: seed the database first (manage.py seed_demo or bench/bench_seed.py).")


def median(values):
    return statistics.median(values)
