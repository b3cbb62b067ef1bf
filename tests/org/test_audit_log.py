"""Issue 9, item 12: head office filters the audit log by user, action and date range (days in the display
time zone), in both languages; pagination keeps the filters; the query count does not grow with the rows."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from org.models import ApiKeyUse, PiiAccessLog

from .builders import ApiKeyFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day, hour, minute=0):
    """A moment given in Shanghai time."""
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


def log(user, field, when, cif="C1"):
    entry = PiiAccessLog.objects.create(user=user, field=field, customer_cif=cif, reason="核实身份")
    PiiAccessLog.objects.filter(pk=entry.pk).update(at=when)  # ``at`` is auto_now_add
    return entry


@pytest.fixture
def hq(world):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(world.ho_user)
    world.ho_user.language = ""
    world.ho_user.save(update_fields=["language"])
    return client


@pytest.fixture
def entries(world):
    return {
        "rm_mobile_20": log(world.rm, "mobile", at(20, 9)),
        # 2026-11-21 00:30 in Shanghai is still 2026-11-20 in UTC: it belongs to the 21st.
        "rm_id_21_early": log(world.rm, "id_number", at(21, 0, 30)),
        "rm_mobile_22": log(world.rm, "mobile", at(22, 23, 59)),
        "sup_export_21": log(world.sup_b1, "export", at(21, 15)),
    }


def shown(response):
    return {e.pk for e in response.context["page"].object_list}


def test_filter_by_user_action_and_date_range(world, hq, entries):
    url = reverse("audit-log")
    e = entries
    assert shown(hq.get(url)) == {x.pk for x in e.values()}
    assert shown(hq.get(url, {"user": world.rm.pk})) == {e["rm_mobile_20"].pk, e["rm_id_21_early"].pk,
                                                         e["rm_mobile_22"].pk}
    assert shown(hq.get(url, {"action": "mobile"})) == {e["rm_mobile_20"].pk, e["rm_mobile_22"].pk}
    assert shown(hq.get(url, {"action": "export"})) == {e["sup_export_21"].pk}
    # a day is a day in the display time zone, both ends included
    assert shown(hq.get(url, {"date_from": "2026-11-21", "date_to": "2026-11-21"})) == {
        e["rm_id_21_early"].pk, e["sup_export_21"].pk}
    assert shown(hq.get(url, {"date_from": "2026-11-22"})) == {e["rm_mobile_22"].pk}
    assert shown(hq.get(url, {"date_to": "2026-11-20"})) == {e["rm_mobile_20"].pk}
    assert shown(hq.get(url, {"user": world.rm.pk, "action": "mobile", "date_from": "2026-11-21"})) == {
        e["rm_mobile_22"].pk}


def test_bad_filter_values_are_inline_errors_not_500(world, hq, entries):
    response = hq.get(reverse("audit-log"), {"action": "nope", "date_from": "2026-13-45", "user": "x"})
    assert response.status_code == 200
    assert set(response.context["filter"].errors) == {"action", "date", "user"}
    assert shown(response) == set()
    assert 'data-field-error="action"' in response.content.decode()


def test_api_key_tab_filters_by_key_method_and_date(world, hq):
    k1, k2 = ApiKeyFactory(name="core-banking"), ApiKeyFactory(name="crm-sync")
    rows = {}
    for name, key, method, day in [("a", k1, "POST", 20), ("b", k1, "GET", 21), ("c", k2, "POST", 21)]:
        use = ApiKeyUse.objects.create(key=key, method=method, path="/api/v1/customers/bulk/", status=200)
        ApiKeyUse.objects.filter(pk=use.pk).update(at=at(day, 10))
        rows[name] = use.pk
    url = reverse("audit-log")
    assert shown(hq.get(url, {"tab": "keys", "key": k1.pk})) == {rows["a"], rows["b"]}
    assert shown(hq.get(url, {"tab": "keys", "method": "POST"})) == {rows["a"], rows["c"]}
    assert shown(hq.get(url, {"tab": "keys", "method": "POST", "date_from": "2026-11-21"})) == {rows["c"]}


def test_pagination_keeps_the_filters(world, hq):
    for i in range(60):
        log(world.rm, "mobile", at(20, 9, i % 60))
    log(world.sup_b1, "mobile", at(20, 10))
    response = hq.get(reverse("audit-log"), {"user": world.rm.pk, "action": "mobile"})
    assert response.context["page"].paginator.count == 60
    html = response.content.decode()
    next_link = re.search(r'href="\?([^"]*page=2)"', html).group(1).replace("&amp;", "&")
    assert f"user={world.rm.pk}" in next_link and "action=mobile" in next_link and "tab=reveals" in next_link
    page2 = hq.get(reverse("audit-log") + "?" + next_link)
    assert len(page2.context["page"].object_list) == 10
    assert {e.who for e in page2.context["page"].object_list} == {str(world.rm)}


@pytest.mark.parametrize(("language", "words"), [
    ("zh-hans", ["用户：", "操作：", "日期：", "全部", "筛选", "手机号码", "导出"]),
    ("en", ["User:", "Action:", "Date:", "All", "Filter"]),
])
def test_filter_form_in_both_languages(world, hq, entries, language, words):
    hq.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    html = hq.get(reverse("audit-log")).content.decode()
    for word in words:
        assert word in html, word
    assert "---------" not in html


@pytest.mark.parametrize("rows", [3, 40])
def test_query_count_does_not_grow_with_the_rows(world, hq, rows, django_assert_max_num_queries):
    users = [world.rm, world.other_rm, world.sup_b1, world.rm_b2]
    for i in range(rows):
        log(users[i % len(users)], "mobile", at(20, 9))
    with django_assert_max_num_queries(9):  # session, user, count, page, the user select, ...
        response = hq.get(reverse("audit-log"), {"action": "mobile", "date_from": "2026-11-01"})
    assert response.status_code == 200 and len(response.context["page"].object_list) == rows
