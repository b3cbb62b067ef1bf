"""The ingest upserts (customers.ingest) below the API: what file imports rely on (dry run, row offsets, DataFrames of raw
cell values, the change source) and who may call it at all. The rules themselves are proved through the
API in test_bulk_api.py."""

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from core.errors import NotPermitted
from customers.ingest.kinds import KINDS
from customers.models import Customer, CustomerChange, FinancialSnapshot, Holding
from org.access import ApiClient

from ..org.builders import ApiKeyFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 22)


def run(kind, records, actor, **kw):
    return KINDS[kind].upsert(records, actor=actor, today=TODAY, **kw)


def test_dry_run_reports_without_writing(world):
    records = [{"cif": "DRY1", "name": "甲", "branch": "B1"}, {"cif": world.c_rm.cif, "address": "改"},
               {"cif": "DRY2", "name": "乙", "branch": "B1", "mobile": "1"}]
    result = run("customers", records, world.ho_user, dry_run=True)
    assert (result.created, result.updated, result.unchanged, result.rejected) == (1, 1, 0, 1)
    assert not Customer.objects.filter(cif__startswith="DRY").exists()
    assert Customer.objects.get(pk=world.c_rm.pk).address != "改"
    assert not CustomerChange.objects.exists()


def test_dry_run_of_snapshots_and_holdings(world):
    c = world.c_rm
    result = run("snapshots", [{"cif": c.cif, "period": "2026-10-01", "aum": "9"}], world.ho_user, dry_run=True)
    assert result.created == 1
    assert not FinancialSnapshot.objects.filter(period=dt.date(2026, 10, 1)).exists()
    assert Customer.objects.get(pk=c.pk).aum_latest == Decimal("500000.00")
    result = run("holdings", [{"cif": c.cif, "account_no": "DRY", "product_code": "P", "product_name": "N",
                               "product_type": "fund"}], world.ho_user, dry_run=True)
    assert result.created == 1 and not Holding.objects.filter(account_no="DRY").exists()


def test_offset_shifts_the_reported_indices(world):
    result = run("customers", [{"cif": "OFF1", "name": "甲", "branch": "B1"}, {"cif": "OFF2"}], world.ho_user,
                 offset=20_000)
    assert [e["index"] for e in result.errors] == [20_001, 20_001]
    assert {e["field"] for e in result.errors} == {"name", "branch"}


def test_dataframe_of_raw_cells(world):
    """What a CSV/Excel reader hands over: strings, NaN for empty cells, numbers where a sheet had them."""
    frame = pd.DataFrame({
        "cif": ["df1", "DF2", world.c_rm.cif],
        "name": ["甲", "乙", np.nan],
        "branch": ["B1", "B1A", np.nan],
        "consent_sms": ["是", "false", np.nan],
        "birth_date": ["1990-01-02", np.nan, np.nan],
        "tags": ["VIP;代发", np.nan, np.nan],
        "address": [np.nan, "厦门", "新址"],
    })
    result = run("customers", frame, world.ho_user, source="import")
    assert (result.created, result.updated, result.rejected) == (2, 1, 0), result.errors
    df1 = Customer.objects.get(cif="DF1")
    assert df1.consent_sms is True and df1.birth_date == dt.date(1990, 1, 2) and df1.tags == ["VIP", "代发"]
    c_rm = Customer.objects.get(pk=world.c_rm.pk)
    assert c_rm.name == "张伟明" and c_rm.address == "新址"  # NaN cells keep what is stored
    assert set(CustomerChange.objects.values_list("source", flat=True)) == {"import"}


def test_id_numbers_of_every_type_from_raw_cells(world):
    """An import file's ID cells: each checked to its type's format; lowercase, spaces and full-width brackets
    normalised; markup refused with the type's message (the one-value rule's, rules.ID_FORMAT_MESSAGES)."""
    from django.utils import translation

    from customers import rules

    frame = pd.DataFrame({
        "cif": ["ID1", "ID2", "ID3", "ID4", "ID5", "ID6"],
        "name": ["甲", "乙", "丙", "丁", "戊", "己"],
        "branch": ["B1"] * 6,
        "id_type": ["passport", "hk_macao_permit", "taiwan_permit", "foreign_pr", "passport", "taiwan_permit"],
        "id_number": ["ea 1234567", "h12345678", "12345678（b）", "usa350081010012", "<script>x</script>",
                      "<svg onload=alert(1)>"],
    })
    with translation.override("en"):
        result = run("customers", frame, world.ho_user, source="import")
        assert (result.created, result.rejected) == (4, 2), result.errors
        reasons = {(e["index"], e["field"]): e["reason"] for e in result.errors}
        assert reasons == {(4, "id_number"): str(rules.ID_FORMAT_MESSAGES["passport"]),
                           (5, "id_number"): str(rules.ID_FORMAT_MESSAGES["taiwan_permit"])}
    assert dict(Customer.objects.filter(cif__startswith="ID").values_list("cif", "id_number")) == {
        "ID1": "EA1234567", "ID2": "H12345678", "ID3": "12345678(B)", "ID4": "USA350081010012"}


def test_only_head_office_and_api_keys(world):
    for who in (world.rm, world.sup_b1, world.co_b1):
        with pytest.raises(NotPermitted):
            run("customers", [{"cif": "NOPE"}], who)
    key = ApiKeyFactory(scopes=[])  # the scope is the endpoint's business; the service takes any key
    assert run("customers", [{"cif": "KEY1", "name": "甲", "branch": "B1"}], ApiClient(key)).created == 1
