"""A complaint's day in the browser: a supervisor records a complaint from the customer's page, acknowledges it,
waits for the customer (the service clock holds), resolves it and records the customer's satisfaction; the queue
shows it with its SLA badge and countdown."""

from .conftest import t


def test_complaint_from_the_customer_page_to_satisfaction(e2e, day):
    from playwright.sync_api import expect

    from complaints.models import Category, Complaint, SlaPolicy
    from tests.complaints.builders import seeded

    seeded()
    assert SlaPolicy.objects.filter(is_default=True).exists()
    page, zh, zhang = e2e.page, "zh-hans", day.customers["zhang"]
    e2e.login("sup_fz")

    # --- From 张伟明's page: record a complaint.
    e2e.go(f"/customers/{zhang.pk}/")
    panel = page.get_by_test_id("complaints-panel")
    expect(panel).to_contain_text(t("No complaints.", zh))
    with page.expect_navigation():
        panel.get_by_test_id("record-complaint").click()
    form = page.get_by_test_id("intake-form")
    expect(page.locator("h1")).to_contain_text(zhang.name)
    form.locator("#id_channel").select_option("hotline")
    form.locator("#id_category").select_option(str(Category.objects.get(code="card_fee").pk))
    form.locator("#id_description").fill("信用卡年费未经同意扣收，要求退还。")
    e2e.shot("intake")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    complaint = Complaint.objects.get()
    expect(page).to_have_url(e2e.url(f"/complaints/{complaint.pk}/"))
    expect(page.get_by_test_id("complaint-status")).to_have_text(t("New", zh))
    expect(page.get_by_test_id("complainant")).to_contain_text(zhang.name)
    expect(page.get_by_test_id("sla-badge")).to_have_attribute("data-state", "on_track")
    e2e.shot("recorded")

    def act(action: str, status: str, note: str = ""):
        act_form = page.get_by_test_id("act-form")
        if note:
            act_form.locator("textarea[name=note]").fill(note)
        with page.expect_navigation():
            act_form.locator(f"button[data-action={action}]").click()
        expect(page.get_by_test_id("complaint-status")).to_have_text(t(status, zh))

    # --- Acknowledge (the first response), wait for the customer (the clock holds), resolve.
    act("acknowledge", "Acknowledged", "已电话联系客户，告知处理流程。")
    act("wait_customer", "Waiting for the customer", "请客户提供扣费短信截图。")
    expect(page.get_by_test_id("sla-badge")).to_have_attribute("data-state", "paused")
    e2e.shot("paused")
    act("resolve", "Resolved", "经核实退还年费。")
    expect(page.get_by_test_id("sla-badge")).to_have_attribute("data-state", "met")
    timeline = page.get_by_test_id("timeline")
    expect(timeline.locator("li[data-kind=transition]")).to_have_count(4)
    expect(timeline).to_contain_text("请客户提供扣费短信截图。")

    # --- Satisfaction 5/5.
    sat = page.get_by_test_id("satisfaction-form")
    sat.locator("#id_score").select_option("5")
    sat.locator("#id_note").fill("处理及时")
    with page.expect_navigation():
        sat.locator("button[type=submit]").click()
    expect(page.get_by_test_id("satisfaction")).to_contain_text("5/5")
    e2e.shot("satisfaction")
    complaint.refresh_from_db()
    assert complaint.satisfaction == 5 and complaint.first_responded_at is not None

    # --- The queue lists it (resolved) with its badge; the customer page's panel too.
    e2e.go("/complaints/?status=resolved")
    expect(page.get_by_test_id("queue-row")).to_have_count(1)
    expect(page.get_by_test_id("queue-row")).to_contain_text(complaint.number)
    e2e.go(f"/customers/{zhang.pk}/")
    expect(page.get_by_test_id("complaints-panel")).to_contain_text(complaint.number)
    e2e.problems.assert_clean()
