"""Head office imports a core-banking file in the browser: upload, dry-run preview, apply, progress, result.

The real run goes through Redis to a real Celery worker process (tests/integration/conftest.py), which reads
the upload from the storage the web process saved it to (MEDIA_ROOT, shared as docker-compose.yml shares it)
and writes the rejected-rows file that the page then serves.
"""

import csv
import io

import pytest

from tests.integration.conftest import celery_worker, redis_url  # noqa: F401 - fixtures used below

from .conftest import PASSWORD, resident_id, t

HEADER = ["客户号", "客户名称", "所属机构", "客户经理", "证件类型", "证件号码", "手机号", "地址"]


@pytest.fixture
def shared_media(tmp_path, monkeypatch, settings):
    """One MEDIA_ROOT for the live server (this process) and the worker (a child process, started after this)."""
    root = tmp_path / "media"
    monkeypatch.setenv("MEDIA_ROOT", str(root))
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def worker(shared_media, celery_worker, settings):  # noqa: F811 - the imported fixture
    settings.CRM_IMPORT_QUEUE = celery_worker
    return celery_worker


def _file(day) -> bytes:
    import datetime as dt

    zhang = day.customers["zhang"]
    rows = [
        ["C3000001", "黄晓明", "FZ", "rm_wang", "resident_id", resident_id(dt.date(1991, 2, 3), male=True, seq=11),
         "13955550001", "福州市鼓楼区五四路1号"],
        ["C3000002", "周雨桐", "FZ54", "rm_wang", "resident_id", resident_id(dt.date(1993, 4, 5), male=False, seq=12),
         "13955550002", "福州市台江区"],
        ["C3000003", "吴建华", "FZ", "rm_li", "resident_id", resident_id(dt.date(1975, 6, 7), male=True, seq=13),
         "13955550003", ""],
        [zhang.cif, "", "", "", "", "", "", "福州市仓山区新地址8号"],           # an update of one field
        ["C3000009", "郑坏号", "FZ", "rm_li", "", "", "12345", ""],          # rejected: the mobile
    ]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([HEADER, *rows])
    return buf.getvalue().encode("gbk")


def test_import_day(e2e, day, worker, shared_media):
    from playwright.sync_api import expect

    from customers.models import Customer, ImportJob
    from org.constants import Role
    from org.services import staff_create

    staff_create(username="hq_zhou", password=PASSWORD, role=Role.HEAD_OFFICE, branch=day.branches["ho"],
                 last_name="周", first_name="总")
    page, zh = e2e.page, "zh-hans"
    e2e.login("hq_zhou")

    # --- Upload: the preview runs in the worker (the page polls); nothing is stored yet.
    e2e.go("/customers/import/")
    form = page.get_by_test_id("import-form")
    form.locator("select[name=kind]").select_option("customers")
    form.locator("input[name=file]").set_input_files(
        {"name": "核心客户_20261201.csv", "mimeType": "text/csv", "buffer": _file(day)})
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("job-status")).to_have_text(t("Done", zh), timeout=90_000)
    panel = page.get_by_test_id("job-panel")
    expect(panel).to_contain_text(t("Preview only: nothing was stored. The figures are what the import would do.",
                                    zh))
    counts = page.get_by_test_id("job-counts")
    expect(counts.locator('[data-count="created"]')).to_have_text("3")
    expect(counts.locator('[data-count="updated"]')).to_have_text("1")
    expect(counts.locator('[data-count="rejected"]')).to_have_text("1")
    rejects = page.get_by_test_id("job-rejects")
    expect(rejects).to_contain_text("C3000009")
    expect(rejects).to_contain_text(t("mobile", zh))  # the field's name in the user's language
    expect(rejects.locator("thead")).to_contain_text(t("Key", zh, context="the columns that identify a record"))
    # What the import would change for existing customers: old → new per field.
    expect(page.get_by_test_id("changes-fields")).to_be_visible()
    expect(page.get_by_test_id("changes-rows")).to_contain_text("福州市仓山区新地址8号")
    e2e.shot("preview")
    assert not Customer.objects.filter(cif__startswith="C3").exists()
    preview = ImportJob.objects.get()
    assert (shared_media / preview.file.name).is_file()  # where the worker will read it

    # --- Apply (after the confirmation dialog): the worker imports it; the page polls until it is done.
    with page.expect_navigation():
        page.get_by_test_id("apply-form").locator("button[type=submit]").click()
    assert e2e.dialogs and e2e.dialogs[-1][0] == "confirm"
    expect(page.get_by_test_id("job-status")).to_have_text(t("Done", zh), timeout=90_000)
    counts = page.get_by_test_id("job-counts")
    expect(counts.locator('[data-count="created"]')).to_have_text("3")
    expect(counts.locator('[data-count="updated"]')).to_have_text("1")
    expect(counts.locator('[data-count="rejected"]')).to_have_text("1")
    expect(page.get_by_test_id("apply-form")).to_have_count(0)
    e2e.shot("imported")

    # --- The rejected rows, as written by the worker, downloaded from the page.
    with page.expect_download() as download:
        page.get_by_test_id("rejects-download").click()
    text = download.value.path().read_bytes().decode("utf-8-sig")
    lines = text.splitlines()  # the record as uploaded (same header), then its line, field and reason
    assert lines[0].startswith(",".join(HEADER) + ",") and lines[1].startswith("C3000009,郑坏号,FZ,rm_li,,,12345,,6,")

    assert set(Customer.objects.filter(cif__startswith="C3").values_list("cif", flat=True)) == {
        "C3000001", "C3000002", "C3000003"}
    zhang = Customer.objects.get(pk=day.customers["zhang"].pk)
    assert zhang.address == "福州市仓山区新地址8号" and zhang.name == day.customers["zhang"].name
    e2e.problems.assert_clean()
