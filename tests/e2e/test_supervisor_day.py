"""A branch supervisor's day: the whole branch's book (both RMs, outlets included), never another branch."""

from .conftest import t


def test_supervisor_day(e2e, day):
    from playwright.sync_api import expect

    page = e2e.page
    zh = "zh-hans"
    c = day.customers
    fz_names = [c["zhang"].name, c["liu"].name, c["zhao"].name]  # rm_wang ×2 (one at the outlet), rm_li ×1

    # --- Sign in; the customer list shows every customer of 福州分行 and its outlet, highest AUM first.
    e2e.login("sup_fz")
    expect(page).to_have_url(e2e.url("/"))  # the start page: the team's workbench
    e2e.go("/customers/")
    expect(page.locator("html")).to_have_attribute("lang", zh)
    table = page.get_by_test_id("customer-table")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text(c["zhang"].name)  # ¥520,000
    expect(rows.nth(1)).to_contain_text(c["zhao"].name)   # ¥230,000
    expect(rows.nth(2)).to_contain_text(c["liu"].name)    # ¥88,000
    for name in fz_names:
        expect(table).to_contain_text(name)
    expect(table).to_contain_text("王建国")
    expect(table).to_contain_text("李小红")
    expect(table).not_to_contain_text(c["sun"].name)  # 厦门分行's customer
    expect(table).not_to_contain_text("陈思远")
    e2e.shot("branch-book")

    # --- Searching for the other branch's customer finds nothing (htmx swap of #customer-table).
    search = page.locator("#id_q")
    search.fill("丽娟")
    with page.expect_response(lambda r: "/customers/?" in r.url and r.request.headers.get("hx-request") == "true"):
        search.press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(t("No customers match.", zh))
    e2e.shot("other-branch-not-found")

    # --- Its 360 page is not reachable by address either (404, same as a customer that does not exist).
    other = page.request.get(e2e.url(f"/customers/{c['sun'].pk}/"))
    assert other.status == 404
    assert c["sun"].name not in other.text()

    # --- Filter by RM: the other RM's customer; open its 360 page.
    search.fill("")
    with page.expect_response(lambda r: "/customers/?" in r.url and r.request.headers.get("hx-request") == "true"):
        page.locator("select[name=rm]").select_option(str(day.staff["rm_li"].pk))
    expect(rows).to_have_count(1)
    zhao = c["zhao"]
    expect(rows.first).to_contain_text(zhao.name)
    e2e.shot("filtered-by-rm")
    with page.expect_navigation():
        rows.first.get_by_role("link", name=zhao.name).click()
    expect(page).to_have_url(e2e.url(f"/customers/{zhao.pk}/"))
    expect(page.get_by_test_id("customer-name")).to_have_text(zhao.name)
    expect(page.locator("main")).to_contain_text("李小红")
    expect(page.locator("#pii-mobile")).to_have_text("137****2222")
    expect(page.locator("main")).not_to_contain_text("13700002222")
    expect(page.get_by_test_id("interaction-form")).to_be_visible()
    e2e.shot("customer-360")

    e2e.problems.assert_clean()
