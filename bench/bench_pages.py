"""Server time of the main pages, measured in-process with django.test.Client (full middleware
stack, session, templates, JSON rendering; no network), and the list API against stock DRF.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench .venv/bin/python bench/bench_pages.py

For an RM (rm1), a branch supervisor (sup1) and head office (hq):
- ``/customers/`` (HTML list, first page), ``/api/v1/customers/`` (API list, first page of 50),
  both also with a two-character name search (``?q=``), and ``/customers/<id>/`` (customer 360)
  over 50 different customers: p50/p95 and SQL queries per request;
- list API throughput (sequential requests/s through APIRequestFactory) against a stock DRF
  ``ListAPIView`` + ``ModelSerializer`` (all fields but name_bigrams) + ``PageNumberPagination``
  over the same scoped, AUM-ordered queryset.
"""

import argparse
import random
import time
from pathlib import Path

import common
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework import generics, pagination, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIRequestFactory, force_authenticate

from core.pagination import CappedPageNumberPagination
from customers import selectors
from customers.api.views import CustomerViewSet
from customers.models import Customer

USERS = ("rm1", "sup1", "hq")


# --- stock DRF, for comparison ---
class StockCustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        exclude = ("name_bigrams",)


class StockPagination(pagination.PageNumberPagination):
    page_size = 50


class StockCustomerList(generics.ListAPIView):
    serializer_class = StockCustomerSerializer
    pagination_class = StockPagination
    renderer_classes = (JSONRenderer,)  # stock: the stdlib JSON encoder (the project's API uses orjson)

    def get_queryset(self):
        return selectors.customers_visible_to(self.request.user).order_by("-aum_latest", "id")


class StockSerializerCappedCount(StockCustomerList):
    """Stock serializer with the project's capped count: isolates the serializer's share."""

    pagination_class = CappedPageNumberPagination


def visible_ids(user, n, rng):
    ids = list(selectors.customers_visible_to(user).order_by("-aum_latest", "id").values_list("id", flat=True)[:20])
    qs = selectors.customers_visible_to(user)
    lo = Customer.objects.order_by("id").values_list("id", flat=True).first()
    hi = Customer.objects.order_by("-id").values_list("id", flat=True).first()
    while len(ids) < n:
        ids += list(qs.filter(id__in=[rng.randint(lo, hi) for _ in range(500)]).values_list("id", flat=True))
    return ids[:n]


def common_two_char_name(user):
    """A frequent two-character name in the user's scope (worse than a typical search)."""
    names = list(selectors.customers_visible_to(user).filter(kind="individual")
                 .order_by("-aum_latest", "id").values_list("name", flat=True)[:400])
    two = [n for n in names if len(n) == 2]
    return max(set(two), key=two.count) if two else names[0][:2]


def time_pages(client, label, urls, n, target, warm=5):
    for url in urls[:warm]:
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code, r.content[:300])
    times = []
    for i in range(n):
        url = urls[i % len(urls)]
        ms, r = common.time_ms(client.get, url)
        if r.status_code != 200:
            raise SystemExit(f"{label}: {url} answered {r.status_code}")
        times.append(ms)
    with CaptureQueriesContext(connection) as ctx:
        client.get(urls[0])
    common.summary(label, times, target_p95=target)
    common.report(f"{label} queries/request", len(ctx.captured_queries), "queries", fmt="{:,.0f}")


def throughput(view, user, n, rounds=5):
    """Sequential requests per second through APIRequestFactory (view + serializer + JSON)."""
    factory = APIRequestFactory()

    def one():
        request = factory.get("/api/v1/customers/")
        force_authenticate(request, user=user)
        response = view(request)
        response.render()
        assert response.status_code == 200, response.content[:300]
        return response

    for _ in range(5):
        one()
    elapsed = 0.0
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(n // rounds):
            one()
        elapsed += time.perf_counter() - t0
    return (n // rounds * rounds) / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=60, help="requests per page figure (default 60)")
    parser.add_argument("--throughput-n", type=int, default=100, help="requests per throughput figure")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-html", action="store_true", help="API only (e.g. before the templates exist)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    html = not args.skip_html and (common.ROOT / "templates" / "customers" / "list.html").exists()
    common.header("pages: server time in-process (django.test.Client) and list API vs stock DRF")
    if not html:
        print("# HTML pages skipped: templates/customers/list.html not found (or --skip-html)")

    for username in USERS:
        user = common.user(username)
        client = Client()
        client.force_login(user)
        name = common_two_char_name(user)
        if html:
            time_pages(client, f"{username} list page /customers/", ["/customers/"], args.n, 100)
            time_pages(client, f"{username} list page search ?q={name}", [f"/customers/?q={name}"], args.n, 100)
            last4 = [f"/customers/?q={m[-4:]}" for m in selectors.customers_visible_to(user).exclude(mobile="")
                     .order_by("-aum_latest", "id").values_list("mobile", flat=True)[:20]]
            time_pages(client, f"{username} list page search by mobile last 4 digits", last4, args.n, 100)
        time_pages(client, f"{username} list API /api/v1/customers/", ["/api/v1/customers/"], args.n, 100)
        time_pages(client, f"{username} list API search ?q={name}", [f"/api/v1/customers/?q={name}"], args.n, 100)
        if html and Path(common.ROOT / "templates" / "customers" / "detail.html").exists():
            ids = visible_ids(user, 50, rng)
            time_pages(client, f"{username} customer 360 /customers/<id>/", [f"/customers/{i}/" for i in ids],
                       args.n, 100)

    ours = CustomerViewSet.as_view({"get": "list"})
    stock = StockCustomerList.as_view()
    stock_capped = StockSerializerCappedCount.as_view()
    for username in USERS:
        user = common.user(username)
        a = throughput(ours, user, args.throughput_n)
        b = throughput(stock, user, args.throughput_n)
        c = throughput(stock_capped, user, args.throughput_n)
        common.report(f"{username} list API throughput (ours)", a, "req/s")
        common.report(f"{username} list API throughput (stock DRF ListAPIView+ModelSerializer)", b, "req/s",
                      note="full COUNT(*)")
        common.report(f"{username} list API speed-up vs stock DRF", a / b, "×", target=2.5, higher_is_better=True,
                      fmt="{:,.2f}")
        common.report(f"{username} list API speed-up vs stock serializer with the capped count", a / c, "×",
                      fmt="{:,.2f}", note=f"stock+capped {c:,.1f} req/s: the serializer's share alone")
    common.save(__file__)


if __name__ == "__main__":
    main()
