"""Issue 9 item 1 in the browser: hostile text stored through every writable text field is shown as text and
never runs, revealed values included, and every page works under the Content-Security-Policy.

Each payload sets ``window.__xss`` if it ever runs (as HTML or script); a CSP violation or any other console
error fails the test too (``assert_clean``), so markup blocked by the CSP alone would still be caught.
"""

import datetime as dt
import re

from django.utils import timezone

from customers.constants import CustomerKind, IdType
from customers.models import Customer, FollowUpTask, Interaction
from org.constants import Role
from org.models import PiiAccessLog

from .conftest import PASSWORD

SHOWN = re.compile(r"\bshow\b")  # a Bootstrap collapse open (not "collapsing")

IMG = "<img src=x onerror=window.__xss=1>"
SCRIPT = "<script>window.__xss=1</script>"
SVG = '"><svg onload=window.__xss=1>'
SHORT = "<svg onload=__xss=1>"  # tags hold at most 30 characters


def assert_nothing_ran(e2e, where: str):
    assert e2e.page.evaluate("typeof window.__xss") == "undefined", f"a payload ran on {where}"
    assert e2e.dialogs == [], f"a dialog opened on {where}: {e2e.dialogs}"


def visit(e2e, path: str):
    response = e2e.go(path)
    assert response.status == 200, (path, response.status)
    csp = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp, (path, csp)
    e2e.page.wait_for_load_state("networkidle")
    assert_nothing_ran(e2e, path)


def fill_customer_form(form, values: dict):
    for name, value in values.items():
        field = form.locator(f"#id_{name}")
        if field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(str(value))
        else:
            field.fill(str(value))


def test_hostile_text_is_shown_literally_and_never_runs(e2e, day, client_for):
    from playwright.sync_api import expect

    from org.services import staff_create

    page = e2e.page
    fz, rm = day.branches["fz"], day.staff["rm_wang"]
    hq = staff_create(username="hq_admin", password=PASSWORD, role=Role.HEAD_OFFICE, branch=day.branches["ho"],
                      last_name="总", first_name="行")
    e2e.login("rm_wang")
    page.wait_for_load_state("networkidle")

    # --- The customer form: every text field of an individual gets a payload.
    visit(e2e, "/customers/new/")
    form = page.get_by_test_id("customer-form")
    person = {"cif": "X0000001", "kind": CustomerKind.INDIVIDUAL, "name": IMG, "occupation": SCRIPT,
              "address": SVG, "notes": f"{IMG} {SCRIPT} {SVG}", "tags": f"{SHORT},VIP", "branch": fz.pk,
              "rm": rm.pk, "lifecycle_stage": "growth"}
    fill_customer_form(form, person)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    hostile = Customer.objects.get(cif="X0000001")
    assert (hostile.name, hostile.occupation, hostile.address) == (IMG, SCRIPT, SVG)  # stored as typed
    assert_nothing_ran(e2e, "the new customer's page")
    expect(page.get_by_test_id("customer-name")).to_have_text(IMG)
    main = page.locator("main")
    for text in (SCRIPT, SVG, SHORT):
        expect(main).to_contain_text(text)

    # --- The masked fields refuse markup on the form: an inline error, nothing saved.
    visit(e2e, "/customers/new/")
    form = page.get_by_test_id("customer-form")
    fill_customer_form(form, {**person, "cif": "X0000002", "id_type": IdType.PASSPORT, "id_number": SVG,
                              "mobile": IMG})
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("[data-field-error=id_number]")).to_be_visible()
    expect(page.locator("[data-field-error=mobile]")).to_be_visible()
    assert not Customer.objects.filter(cif="X0000002").exists()
    assert_nothing_ran(e2e, "the form with errors")

    # --- A corporate customer: its own text fields.
    from ..customers.builders import make_credit_code

    visit(e2e, "/customers/new/")
    form = page.get_by_test_id("customer-form")
    fill_customer_form(form, {"cif": "X0000003", "kind": CustomerKind.CORPORATE, "name": SVG,
                              "credit_code": make_credit_code(11), "industry": IMG, "legal_representative": SCRIPT,
                              "contact_person": SVG, "branch": fz.pk, "rm": rm.pk, "lifecycle_stage": "growth"})
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    company = Customer.objects.get(cif="X0000003")
    assert (company.industry, company.legal_representative) == (IMG, SCRIPT)
    assert_nothing_ran(e2e, "the company's page")
    for text in (IMG, SCRIPT, SVG):
        expect(page.locator("main")).to_contain_text(text)

    # --- An interaction with hostile notes and a follow-up (its task's title carries the hostile name).
    visit(e2e, f"/customers/{hostile.pk}/")
    interaction = page.get_by_test_id("interaction-form")
    interaction.locator("#id_channel").select_option("phone")
    interaction.locator("#id_outcome").select_option("reached")
    interaction.locator("#id_notes").fill(f"{SCRIPT}{SVG}")
    interaction.locator("#id_next_follow_up").fill((timezone.localdate() + dt.timedelta(days=2)).isoformat())
    with page.expect_navigation():
        interaction.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert Interaction.objects.get(customer=hostile).notes == f"{SCRIPT}{SVG}"
    assert_nothing_ran(e2e, "the timeline")
    expect(page.get_by_test_id("timeline")).to_contain_text(f"{SCRIPT}{SVG}")
    task = FollowUpTask.objects.get(customer=hostile)
    expect(page.get_by_test_id("open-tasks")).to_contain_text(task.title)

    # --- The task list, then a hostile outcome; the done tab shows it as text.
    visit(e2e, "/customers/tasks/")
    row = page.get_by_test_id("task-table").locator("tbody tr", has_text=IMG)
    expect(row).to_have_count(1)
    row.locator("input[name=outcome]").fill(f"{IMG}{SVG}")
    with page.expect_navigation():
        row.locator("button[type=submit]").first.click()
    page.wait_for_load_state("networkidle")
    task.refresh_from_db()
    assert task.outcome == f"{IMG}{SVG}"
    visit(e2e, "/customers/tasks/?status=done")
    expect(page.get_by_test_id("task-table")).to_contain_text(f"{IMG}{SVG}")

    # --- The list and its htmx search (the fragment is swapped into the page).
    visit(e2e, "/customers/")
    search = page.locator("input[name=q]")
    search.fill("<img")
    with page.expect_response(lambda r: "/customers/?" in r.url and r.request.headers.get("hx-request") == "true"):
        search.press("Enter")
    expect(page.locator("main table")).to_contain_text(IMG)
    assert_nothing_ran(e2e, "the list after an htmx search")

    # --- The edit page shows the stored text in its inputs, never as markup.
    visit(e2e, f"/customers/{hostile.pk}/edit/")
    expect(page.locator("#id_name")).to_have_value(IMG)
    expect(page.locator("#id_notes")).to_have_value(f"{IMG} {SCRIPT} {SVG}")

    # --- The masked fields through the API: rejected (field-level 400), nothing stored.
    api = client_for(rm)
    for field, extra in (("id_number", {"id_type": "passport"}), ("id_number", {"id_type": "hk_macao_permit"}),
                         ("id_number", {"id_type": "taiwan_permit"}), ("id_number", {"id_type": "foreign_pr"}),
                         ("mobile", {})):
        for payload in (IMG, SVG):
            r = api.patch(f"/api/v1/customers/{hostile.pk}/", {field: payload[:32], **extra}, format="json")
            assert r.status_code == 400 and field in r.json()["errors"], (field, extra, r.content)
    r = api.patch(f"/api/v1/customers/{company.pk}/", {"credit_code": SHORT}, format="json")
    assert r.status_code == 400 and "credit_code" in r.json()["errors"]
    hostile.refresh_from_db()
    assert hostile.id_number == "" and hostile.mobile == ""

    # --- A value stored before the formats were checked (simulated: written past the rules) is revealed as
    # text, with a hostile reason; the value replaces the Reveal button and its form.
    legacy = SVG[:32]
    Customer.objects.filter(pk=hostile.pk).update(id_type=IdType.PASSPORT, id_number=legacy, mobile="13812340000")
    visit(e2e, f"/customers/{hostile.pk}/")
    box = page.locator("#pii-box-id_number")
    page.get_by_test_id("reveal-id_number").click()
    reveal_form = page.get_by_test_id("reveal-form-id_number")
    expect(reveal_form).to_be_visible()
    expect(reveal_form).to_have_class(SHOWN)  # the collapse has finished opening: its button no longer moves
    reveal_form.locator("select").select_option("other")
    with page.expect_response(lambda r: r.url.endswith("/reveal/id_number/")) as answer:
        page.get_by_test_id("reveal-submit-id_number").click()
    assert answer.value.status == 200  # "other" needs a few words: the form again, with its error
    expect(box.locator(".text-danger")).to_be_visible()
    box.locator("input[name='id_number-reason_detail']").fill(IMG)
    with page.expect_response(lambda r: r.url.endswith("/reveal/id_number/")) as answer:
        box.get_by_test_id("reveal-submit-id_number").click()
    assert answer.value.status == 200
    expect(page.get_by_test_id("pii-id_number")).to_have_text(legacy)
    expect(page.get_by_test_id("reveal-id_number")).to_have_count(0)
    assert_nothing_ran(e2e, "the revealed ID number")
    assert PiiAccessLog.objects.get(field="id_number").reason == f"other: {IMG}"

    # --- Head office: the audit log shows the hostile reason as text; the API docs work under the CSP.
    page.wait_for_load_state("networkidle")
    page.context.clear_cookies()
    e2e.login(hq.username)
    page.wait_for_load_state("networkidle")
    visit(e2e, "/audit/")
    expect(page.locator("main")).to_contain_text(f"other: {IMG}")
    visit(e2e, f"/customers/{company.pk}/")
    visit(e2e, "/customers/import/")
    visit(e2e, "/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Bank-branch CRM API")
    assert_nothing_ran(e2e, "the API docs")
    e2e.shot("api-docs")
    e2e.problems.assert_clean()



def test_a_throttled_reveal_says_so_in_place(e2e, day, settings):
    """Over CRM_REVEAL_RATE the page shows why in place of the button (a 429 fragment htmx is told to swap)."""
    from playwright.sync_api import expect

    settings.CRM_REVEAL_RATE = "1/h"
    page = e2e.page
    zhang = day.customers["zhang"]
    e2e.login("rm_wang")
    page.wait_for_load_state("networkidle")
    visit(e2e, f"/customers/{zhang.pk}/")
    for field, status in (("mobile", 200), ("id_number", 429)):
        page.get_by_test_id(f"reveal-{field}").click()
        expect(page.get_by_test_id(f"reveal-form-{field}")).to_have_class(SHOWN)
        page.get_by_test_id(f"reveal-form-{field}").locator("select").select_option("customer_request")
        with page.expect_response(lambda r, f=field: r.url.endswith(f"/reveal/{f}/")) as answer:
            page.get_by_test_id(f"reveal-submit-{field}").click()
        assert answer.value.status == status
    expect(page.get_by_test_id("pii-mobile")).to_have_text(zhang.mobile)
    expect(page.get_by_test_id("reveal-refused-id_number")).to_be_visible()
    expect(page.get_by_test_id("pii-id_number")).not_to_have_text(zhang.id_number)
    assert PiiAccessLog.objects.filter(user=day.staff["rm_wang"]).count() == 1
    # the browser logs the 429 itself; anything else (a CSP violation, a script error) is a failure
    assert all("status of 429" in e for e in e2e.problems.console_errors), e2e.problems.console_errors
    assert not e2e.problems.page_errors
