"""Export of the customer list (issue 9 item 5): exactly what the list shows (filters, search, sort), as CSV with a
BOM or .xlsx, labels in the user's language, masked, logged with its filters and row count, throttled; every cell
through the one safe writer (core.exports)."""

import csv
import io

import openpyxl
import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import translation

from core import exports
from customers.constants import LifecycleStage, RiskLevel
from customers.models import Customer
from org.models import PiiAccessLog


@pytest.fixture(autouse=True)
def fresh_counters():
    cache.clear()  # the export throttle counts in the cache
    yield
    cache.clear()


def client_for(user, language="en"):
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = language
    return client


def export(user, query="", language="en"):
    return client_for(user, language).get(reverse("customers:export") + query)


def csv_rows(response):
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")  # the UTF-8 BOM: Excel opens Chinese text correctly
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.mark.parametrize("who", ["rm", "other_rm", "co_b1"])
def test_export_is_refused_without_the_permission(world, who):
    assert export(getattr(world, who)).status_code == 403
    assert not PiiAccessLog.objects.exists()


def test_supervisor_exports_only_their_subtree_masked_and_logged(world):
    response = export(world.sup_b1)
    assert response.status_code == 200
    rows = csv_rows(response)
    body = str(rows)
    assert len(rows) == 1 + 3  # header + the three customers of B1 and its outlet
    assert world.customers["c_b2"].cif not in body
    c = world.customers["c_rm"]
    assert c.mobile not in body and c.id_number not in body
    assert c.mobile[:3] + "****" + c.mobile[-4:] in body
    log = PiiAccessLog.objects.get()
    assert log.user == world.sup_b1 and log.field == "export" and "3 rows" in log.reason


def test_export_is_exactly_the_list_filters_search_and_sort(world):
    """The list is filtered through htmx, which does not reload the page header: the export link lives in the
    swapped fragment, so it carries the filters applied; and the export sorts as the list does."""
    client = client_for(world.ho_user)
    fragment = client.get(reverse("customers:list") + "?tag=VIP&sort=name", HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert "<html" not in html
    link = html.split('data-testid="export-csv"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    assert "tag=VIP" in link and "sort=name" in link and "format=csv" in link
    rows = csv_rows(client.get(link))
    listed = list(Customer.objects.filter(tags__contains=["VIP"]).order_by("name", "id").values_list("cif", flat=True))
    assert [r[0] for r in rows[1:]] == listed and len(listed) == 2
    log = PiiAccessLog.objects.get()
    assert "2 rows" in log.reason and "tag=VIP" in log.reason and "sort=name" in log.reason and "csv" in log.reason


def test_export_labels_in_the_users_language(world):
    Customer.objects.filter(pk=world.c_rm.pk).update(risk_level="C3", do_not_contact=True, lifecycle_stage="maturity")
    rows = csv_rows(export(world.ho_user, "?q=" + world.c_rm.cif, language="zh-hans"))
    header, row = rows[0], rows[1]
    assert header[0] == "客户号"
    assert "个人" in row[2] and row[-1] == "是"  # kind and yes/no as labels
    assert row[8] == str(world.rm) and row[9] == world.b1.name  # the RM's name, the branch's name
    with translation.override("zh-hans"):
        assert row[6] == str(RiskLevel("C3").label) != "C3" and row[5] == str(LifecycleStage("maturity").label)


def test_export_as_xlsx(world):
    response = export(world.sup_b1, "?format=xlsx&sort=cif")
    assert response.status_code == 200 and response["Content-Disposition"].endswith('.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    rows = list(book.active.iter_rows(values_only=True))
    assert len(rows) == 4 and [r[0] for r in rows[1:]] == sorted(r[0] for r in rows[1:])
    assert isinstance(rows[1][7], int | float)  # AUM as a number


def test_formula_cells_are_neutralised_in_csv_and_xlsx(world):
    Customer.objects.filter(pk=world.c_rm.pk).update(name='=HYPERLINK("http://evil","x")', tags=["@SUM(1)", "+1"])
    rows = csv_rows(export(world.ho_user, "?q=" + world.c_rm.cif))
    assert rows[1][1] == "'=HYPERLINK(\"http://evil\",\"x\")" and rows[1][10] == "'@SUM(1); +1"
    book = openpyxl.load_workbook(io.BytesIO(b"".join(export(world.ho_user, "?format=xlsx&q=" + world.c_rm.cif)
                                                      .streaming_content)))
    cell = book.active.cell(row=2, column=2)
    assert cell.data_type == "s" and cell.value.startswith("'=")


@pytest.mark.parametrize("value, written", [
    ("=1+1", "'=1+1"), ("+86 138", "'+86 138"), ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("-1200.50", "-1200.50"), ("+3", "+3"),
    ("张三", "张三"), ("a=b", "a=b"), ("", ""), (-5, -5), (None, None),
])
def test_safe_cell(value, written):
    assert exports.safe_cell(value) == written


def test_xlsx_writer_keeps_numbers_and_writes_text_as_text(tmp_path):
    from decimal import Decimal

    path = tmp_path / "x.xlsx"
    exports.xlsx_file([["a", "b"], ["=2*3", Decimal("-12.50")], ["-7", -7]], out=str(path))
    rows = list(openpyxl.load_workbook(path).active.iter_rows(values_only=True))
    assert rows[1] == ("'=2*3", -12.5) and rows[2] == ("-7", -7)


def test_exports_are_throttled_per_user(world, settings):
    settings.CRM_EXPORT_RATE = "2/h"
    client = client_for(world.ho_user)
    assert client.get(reverse("customers:export") + "?tag=VIP").status_code == 200
    assert client.get(reverse("customers:export")).status_code == 200
    response = client.get(reverse("customers:export") + "?tag=VIP")
    assert response.status_code == 302 and "tag=VIP" in response["Location"] and int(response["Retry-After"]) > 0
    page = client.get(response["Location"]).content.decode()
    assert "most exports allowed in this period (2/h)" in page
    assert PiiAccessLog.objects.count() == 2
    assert export(world.sup_b1).status_code == 200  # another user has their own count


def test_export_query_count_is_constant(world, django_assert_max_num_queries):
    client = client_for(world.ho_user)
    with django_assert_max_num_queries(8):
        b"".join(client.get(reverse("customers:export")).streaming_content)
