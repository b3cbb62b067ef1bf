"""Search latency through ``customers.selectors`` exactly as the list page and the API run it:
``customer_list(user, query=q)`` ordered by AUM, a capped count and the first page of 25.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench .venv/bin/python bench/bench_lookup.py

Exact lookups (CIF, resident ID number, mobile), the last four digits of a mobile, and Chinese name fragments: 2 characters
(the usual search: a full two-character name or part of a name) and longer (3+ characters),
each as head office (1M visible customers), a branch supervisor and an RM.
"""

import argparse
import random

import common
from django.db import connection, reset_queries

from core.pagination import CappedPaginator
from customers import selectors
from customers.models import Customer

PAGE = 25


def run_query(user, q):
    qs = selectors.customer_list(user, query=q).order_by("-aum_latest", "id")
    page = CappedPaginator(qs, PAGE).get_page(1)
    return page.paginator.count, list(page.object_list)


def sample(user, n, rng):
    """n random customers visible to ``user`` (random ids probed through the scoped queryset)."""
    visible = selectors.customers_visible_to(user)
    lo, hi = Customer.objects.order_by("id").values_list("id", flat=True).first(), \
        Customer.objects.order_by("-id").values_list("id", flat=True).first()
    out, seen = [], set()
    if visible.count() < 50_000:  # a small book: pick from it directly
        ids = list(visible.values_list("id", flat=True))
        picked = rng.sample(ids, min(n, len(ids)))
        return list(Customer.objects.filter(id__in=picked).order_by("id"))
    while len(out) < n:
        ids = [rng.randint(lo, hi) for _ in range(200)]
        for c in visible.filter(id__in=ids):
            if c.id not in seen:
                seen.add(c.id)
                out.append(c)
    return out[:n]


def name_queries(customers):
    """What people type: a person's full name or given name, a company's trade name (字号) or
    trade name + industry. Two-character queries and longer ones."""
    from demo.org import BRANCHES

    cities = sorted({name[:2] for _c, name, *_r in BRANCHES}, key=len, reverse=True)
    two, longer = [], []
    for c in customers:
        name = c.name
        if c.kind == "corporate":
            rest = name[2:] if name[:2] in cities else name
            two.append(rest[:2])            # 华信
            longer.append(rest[:4])         # 华信科技
        elif len(name) == 2:
            two.append(name)                # 王芳
        else:
            two.append(name[-2:])           # given name of 王丽芳
            longer.append(name)             # 王丽芳
    return two, longer


def measure(label, user, queries, *, target, warm):
    for q in warm:
        run_query(user, q)
    times, matches = [], []
    for q in queries:
        ms, (count, _rows) = common.time_ms(run_query, user, q)
        times.append(ms)
        matches.append(count)
    matches.sort()
    common.summary(label, times, target_p95=target,
                   note=f"median matches {matches[len(matches) // 2]:,}, max {matches[-1]:,}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="queries per figure (default 200)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    common.header("customer search: exact lookups and Chinese name fragments (count + first page of 25)")
    for username in ("hq", "sup1", "rm1"):
        user = common.user(username)
        custs = sample(user, args.n + 20, rng)
        warm, custs = custs[:20], custs[20:]
        inds = [c for c in custs if c.id_number]
        measure(f"{username} lookup CIF", user, [c.cif for c in custs], target=20, warm=[c.cif for c in warm])
        measure(f"{username} lookup ID number", user, [c.id_number for c in inds], target=20,
                warm=[c.id_number for c in warm if c.id_number])
        measure(f"{username} lookup mobile", user, [c.mobile for c in custs], target=20,
                warm=[c.mobile for c in warm])
        # 手机尾号: four digits match every mobile ending in them (about 100 per million customers) plus a CIF.
        measure(f"{username} lookup mobile last 4 digits", user, [c.mobile[-4:] for c in custs if c.mobile],
                target=20, warm=[c.mobile[-4:] for c in warm if c.mobile])
        two, longer = name_queries(custs)
        w2, wl = name_queries(warm)
        measure(f"{username} name search 2 chars", user, two, target=50, warm=w2)
        measure(f"{username} name search 3+ chars", user, longer, target=50, warm=wl)
    # Worst case: the most frequent two-character names and a city name (matches every company
    # of that city), as head office over all customers.
    hq = common.user("hq")
    frequent = list(Customer.objects.filter(kind="individual").values_list("name", flat=True)[:20000])
    frequent = [n for n in frequent if len(n) == 2]
    top = sorted(set(frequent), key=frequent.count, reverse=True)[:4] + ["北京"]
    measure("hq name search, most frequent 2-char names (worst case)", hq, top * 10, target=50, warm=top[:2])
    reset_queries()
    connection.close()
    common.save(__file__)


if __name__ == "__main__":
    main()
