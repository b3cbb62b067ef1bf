"""A campaign's life in the browser: a supervisor prepares a campaign for a segment (the important customers) and
previews its audience, head office approves it, the dispatcher launches it at its start, the RM records an outcome,
and the campaign page shows the funnel."""

import datetime as dt

from django.utils import timezone

from .conftest import t


def test_a_campaign_from_the_editor_to_the_funnel(e2e, day):
    from playwright.sync_api import expect

    from campaigns import services
    from campaigns.models import Campaign, Member
    from org.constants import Role
    from org.services import staff_create
    from segmentation.constants import ValueTier
    from tests.segmentation.builders import RunFactory, assign

    page, zh = e2e.page, "zh-hans"
    zhang, liu = day.customers["zhang"], day.customers["liu"]
    staff_create(username="hq_zhou", password=day.password, role=Role.HEAD_OFFICE, branch=day.branches["ho"],
                 last_name="周", first_name="总")
    run = RunFactory(is_current=True)
    for customer in day.customers.values():
        assign(run, customer, value_tier=ValueTier.IMPORTANT if customer in (zhang, liu) else ValueTier.ORDINARY)

    # --- The supervisor prepares a campaign for the important customers and previews the audience.
    e2e.login("sup_fz")
    e2e.go("/campaigns/")
    with page.expect_navigation():
        page.get_by_test_id("new-campaign").click()
    form = page.get_by_test_id("campaign-form")
    form.locator("#id_name").fill("重要客户理财季")
    form.locator("#id_goal").fill("重要客户新开理财 2 户")
    form.locator(f"input[name=value_tier][value={ValueTier.IMPORTANT}]").check()
    form.locator("#id_control_percent").fill("0")
    form.locator("input[name=channels][value=rm_task]").check()
    form.locator("#id_product_type").select_option("wealth")
    starts = timezone.localtime() + dt.timedelta(minutes=30)
    form.locator("#id_starts_at").fill(starts.strftime("%Y-%m-%dT%H:%M"))
    with page.expect_navigation():
        page.get_by_test_id("preview-audience").click()
    expect(page.get_by_test_id("audience-preview")).to_contain_text("2")
    assert not Campaign.objects.exists()  # a preview saves nothing
    e2e.shot("preview")
    with page.expect_navigation():
        page.get_by_test_id("save-campaign").click()
    campaign = Campaign.objects.get()
    expect(page).to_have_url(e2e.url(f"/campaigns/{campaign.pk}/"))
    expect(page.get_by_test_id("campaign-status")).to_have_text(t("Draft", zh))
    expect(page.get_by_test_id("approve")).to_have_count(0)  # who prepared it does not approve it

    # --- Head office approves.
    page.context.clear_cookies()
    e2e.login("hq_zhou")
    e2e.go(f"/campaigns/{campaign.pk}/")
    with page.expect_navigation():
        page.get_by_test_id("approve").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text(t("Approved, scheduled", zh))

    # --- At its start the dispatcher (beat, every minute) launches it: an RM task per customer.
    services.campaigns_dispatch(now=timezone.now() + dt.timedelta(minutes=31))
    campaign.refresh_from_db()
    assert campaign.status == "running" and campaign.counts["targeted"] == 2 and campaign.counts["rm_tasks"] == 2

    # --- The RM records what came of the call.
    page.context.clear_cookies()
    e2e.login("rm_wang")
    e2e.go(f"/campaigns/{campaign.pk}/")
    with page.expect_navigation():
        page.get_by_test_id("members-link").click()
    page.get_by_test_id(f"outcome-{zhang.cif}").select_option("converted")
    with page.expect_navigation():
        page.get_by_test_id(f"outcome-{zhang.cif}").locator("xpath=..").locator("button").click()
    assert Member.objects.get(campaign=campaign, customer=zhang).outcome == "converted"

    # --- The campaign page shows the funnel.
    e2e.go(f"/campaigns/{campaign.pk}/")
    funnel = page.get_by_test_id("funnel")
    expect(funnel.locator("[data-step='1']")).to_have_text("2")  # targeted
    expect(funnel.locator("[data-step='5']")).to_have_text("1")  # converted
    expect(page.get_by_test_id("results-by-tier").locator(f"tr[data-tier={ValueTier.IMPORTANT}]")).to_be_visible()
    e2e.shot("funnel")
    e2e.problems.assert_clean()
