"""Campaigns at volume: the launch's audience snapshot of 500,000 customers (members written, the control group held
out by hash, a product offer's suitability checked, a message queued per contacted customer), and the campaign page's
funnel over those members.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench .venv/bin/python bench/bench_campaigns.py

Needs a seeded benchmark database (bench_seed.py). The audience is every customer at least as old as the median
customer (≈ half the book: the age is found from the data); a head-office campaign by SMS with a 10 % control group, once
with an R3 product offer (unsuitable customers left out) and once without (every consenting customer messaged). The campaign and everything it made are deleted afterwards. Refuses a database whose name lacks
"bench".
"""

import argparse
import datetime as dt
import sys
import time
from zoneinfo import ZoneInfo

import common
from django.db import connection
from django.utils import timezone

from campaigns import selectors, services
from campaigns.models import Campaign
from org.models import User

SH = ZoneInfo("Asia/Shanghai")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=500_000, help="the audience's size to aim at")
    args = parser.parse_args()
    if "bench" not in connection.settings_dict["NAME"]:
        sys.exit("refusing: run in a benchmark database (its name contains 'bench')")
    common.header("Campaigns: the audience snapshot at launch, the funnel")
    Campaign.objects.filter(name__startswith="bench:").delete()
    now = dt.datetime(2026, 3, 16, 10, tzinfo=SH)
    today = timezone.localtime(now).date()
    with connection.cursor() as cur:  # the birth date below which ``--customers`` customers were born
        cur.execute("SELECT birth_date FROM customers_customer WHERE birth_date IS NOT NULL ORDER BY birth_date "
                    "OFFSET %s LIMIT 1", [args.customers])
        (born,) = cur.fetchone()
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    head_office = User.objects.filter(role="head_office").order_by("pk")[:2]
    author, approver = head_office[0], head_office[1]
    for label, offer in (("an R3 product offer", {"product_risk": "R3", "product_type": "wealth"}),
                         ("no product offer (every consenting customer messaged)", {})):
        campaign = services.campaign_save(actor=author, now=now - dt.timedelta(days=1), values={
            "name": "bench: 代发客户理财", "audience": {"age_min": age}, "channels": ["sms"], "control_share": "0.10",
            "template_zh": "{surname}{honorific}您好，{branch}稳健理财新品上市，详询客户经理{rm}。", "starts_at": now,
            **offer})
        services.campaign_approve(actor=approver, campaign=campaign, now=now - dt.timedelta(days=1))
        t0 = time.perf_counter()
        counts = services.campaign_launch(campaign_id=campaign.pk, now=now)
        elapsed = time.perf_counter() - t0
        common.report(f"audience snapshot at launch, {counts['targeted']:,} customers, {label}", elapsed, "s",
                      target=30, note=", ".join(f"{k} {v:,}" for k, v in counts.items()))
        campaign.refresh_from_db()
        t0 = time.perf_counter()
        total, tiers = selectors.campaign_results(author, campaign)
        common.report(f"the funnel by tier over {total.targeted:,} members (campaign page)",
                      (time.perf_counter() - t0) * 1000, "ms", note=f"{len(tiers)} tiers")
        t0 = time.perf_counter()
        Campaign.objects.filter(pk=campaign.pk).delete()
        common.report("deleting the campaign afterwards (members, messages)", time.perf_counter() - t0, "s")
    common.save(__file__)


if __name__ == "__main__":
    main()
