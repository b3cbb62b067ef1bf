"""File import (issue 3, item 4 and the bad-input cases of item 8): reading, chunks, duplicates, dry run,
the management commands, the import jobs and the upload pages."""

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connections, transaction
from django.test import Client
from django.urls import reverse

from core.errors import NotPermitted
from customers import rules, selectors
from customers.ingest import importer, initial_load
from customers.ingest import jobs as import_jobs
from customers.ingest.importer import import_file
from customers.ingest.limits import ImportFileError
from customers.models import Customer, CustomerChange, FinancialSnapshot, Holding, ImportJob, ImportStatus
from customers.tasks import import_file_run
from org.constants import Role
from tests.customers.builders import CustomerFactory, make_credit_code, make_resident_id
from tests.org.builders import HeadOfficeUserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english", "media")]

TODAY = dt.date(2026, 11, 22)




def write_csv(path: Path, header, rows, *, encoding="utf-8", sep=","):
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=sep, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def customer_rows(n, start=1, prefix="IMP"):
    return [[f"{prefix}{i:06d}", f"客户{i}", "B1", "rm", f"139{i:08d}"] for i in range(start, start + n)]


CUSTOMER_HEADER = ["cif", "name", "branch", "rm", "mobile"]


def run(path, world, kind="customers", **kw):
    kw.setdefault("today", TODAY)
    return import_file(path, kind=kind, actor=world.ho_user, **kw)


# --------------------------------------------------------------------------------------------------
# Encodings and formats
# --------------------------------------------------------------------------------------------------
def test_csv_utf8_creates_customers_with_all_fields(world, tmp_path):
    rid = make_resident_id(dt.date(1990, 5, 17), "M")
    path = write_csv(tmp_path / "c.csv", ["cif", "name", "branch", "rm", "id_type", "id_number", "mobile", "tags"], [
        ["imp001", "张伟", "B1", "rm", "resident_id", rid, "+86 139-1234-5678", "VIP;代发"],
        ["IMP002", "李娜", "B1A", "", "", "", "", ""],
    ])
    result = run(path, world)
    assert (result.created, result.updated, result.unchanged, result.rejected) == (2, 0, 0, 0)
    assert result.encoding == "UTF-8" and result.file_format == "csv" and result.rows_total == 2
    c = Customer.objects.get(cif="IMP001")
    assert (c.name, c.branch, c.rm, c.mobile, c.id_number) == ("张伟", world.b1, world.rm, "13912345678", rid)
    assert c.birth_date == dt.date(1990, 5, 17) and c.tags == ["VIP", "代发"]
    other = Customer.objects.get(cif="IMP002")
    assert other.branch == world.b1a and other.rm is None and other.tags == []
    assert CustomerChange.objects.get(customer=c).source == "import"


def test_csv_utf8_with_bom(world, tmp_path):
    path = write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, customer_rows(2), encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    result = run(path, world)
    assert result.created == 2 and result.warnings == []


def test_csv_gbk(world, tmp_path):
    path = write_csv(tmp_path / "c.csv", ["客户号", "客户名称", "所属机构", "地址"],
                     [["G1", "欧阳娜娜", "B1", "福建省福州市鼓楼区五四路"], ["G2", "张三", "B2", "厦门市思明区"]],
                     encoding="gbk")
    result = run(path, world)
    assert result.encoding == "GB18030" and result.created == 2
    assert Customer.objects.get(cif="G1").address == "福建省福州市鼓楼区五四路"
    assert Customer.objects.get(cif="G2").name == "张三"


@pytest.mark.parametrize("content", [
    "cif,name\nC1,café\n".encode("latin-1"),
    "cif,name\nC1,张三\n".encode("utf-16"),
    b"cif,name\nC1,\xff\xfe\xfd\n",
])
def test_file_in_neither_utf8_nor_gbk_is_refused(world, tmp_path, content):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(ImportFileError) as e:
        run(path, world)
    assert "UTF" in str(e.value.message)
    assert not Customer.objects.filter(cif="C1").exists()


def test_damaged_utf8_is_not_mistaken_for_gbk(world, tmp_path):
    good = "".join(f"U{i},客户名称{i},B1\n" for i in range(5)).encode()
    path = tmp_path / "damaged.csv"
    path.write_bytes(b"cif,name,branch\n" + good + b"U9,\xe5\xbc,B1\n")
    with pytest.raises(ImportFileError) as e:
        run(path, world)
    assert "line 7" in str(e.value.message)
    assert not Customer.objects.filter(cif__startswith="U").exists()


def test_tab_separated_csv(world, tmp_path):
    path = write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, customer_rows(2), sep="\t")
    assert run(path, world).created == 2


def test_xlsx_snapshots_with_date_and_number_cells(world, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["客户号", "期间", "aum", "deposits", "txn_count", "last_txn_date"])
    sheet.append([world.c_rm.cif, dt.datetime(2026, 10, 1), 1234.56, 1000, 12, dt.date(2026, 10, 28)])
    sheet.append([world.customers["c_b2"].cif, "2026-10-01", "99.5", None, None, None])
    sheet.append([None, None, None, None, None, None])  # a blank row is skipped
    sheet.append([world.customers["c_other"].cif, dt.datetime(2026, 10, 15), 1, 1, 1, None])  # not a month's first day
    path = tmp_path / "s.xlsx"
    book.save(path)
    result = run(path, world, kind="snapshots")
    assert (result.created, result.rejected, result.file_format) == (2, 1, "xlsx")
    assert result.errors[0]["line"] == 5 and result.errors[0]["field"] == "period"  # Excel row 5
    snap = FinancialSnapshot.objects.get(customer=world.c_rm, period=dt.date(2026, 10, 1))
    assert (snap.aum, snap.deposits, snap.txn_count, snap.last_txn_date) == (
        Decimal("1234.56"), Decimal(1000), 12, dt.date(2026, 10, 28))
    world.c_rm.refresh_from_db()
    assert world.c_rm.aum_latest == Decimal("1234.56")


def test_xlsx_customers(world, tmp_path):
    book = openpyxl.Workbook()
    book.active.append(CUSTOMER_HEADER)
    book.active.append([100001, "王五", "B1", "rm", 13912345678])  # numbers as Excel stores them
    path = tmp_path / "c.xlsx"
    book.save(path)
    assert run(path, world).created == 1
    assert Customer.objects.get(cif="100001").mobile == "13912345678"


def test_unreadable_xlsx_and_wrong_extension(world, tmp_path):
    (tmp_path / "c.xlsx").write_bytes(b"not a zip file")
    with pytest.raises(ImportFileError):
        run(tmp_path / "c.xlsx", world)
    (tmp_path / "c.xls").write_bytes(b"whatever")
    with pytest.raises(ImportFileError):
        run(tmp_path / "c.xls", world)


def test_chinese_headers(world, tmp_path):
    rid = make_resident_id(dt.date(1985, 1, 2), "F")
    header = ["客户号", "姓名", "所属机构", "客户经理", "证件类型", "证件号码", "手机号", "标签"]
    row = ["ZH1", "刘芳", "B1", "rm", "resident_id", rid, "13811112222", "代发;VIP"]
    path = write_csv(tmp_path / "c.csv", header, [row])
    result = run(path, world)
    assert result.created == 1 and result.warnings == []
    c = Customer.objects.get(cif="ZH1")
    assert (c.name, c.rm, c.id_number, c.mobile, c.tags) == ("刘芳", world.rm, rid, "13811112222", ["VIP", "代发"])

    holdings = write_csv(tmp_path / "h.csv", ["客户号", "账号", "产品代码", "产品名称", "产品类型", "余额"],
                         [["ZH1", "6222000011112222", "P001", "薪金宝", "deposit", "5000.00"]])
    assert run(holdings, world, kind="holdings").created == 1
    assert Holding.objects.get(customer=c).balance == Decimal("5000.00")


# --------------------------------------------------------------------------------------------------
# Columns
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, header, missing", [
    ("customers", ["name", "branch"], "cif"),
    ("snapshots", ["cif", "aum"], "period"),
    ("holdings", ["cif", "product_code"], "account_no"),
])
def test_missing_key_column_is_a_file_error_and_nothing_is_written(world, tmp_path, kind, header, missing):
    path = write_csv(tmp_path / "f.csv", header, [["X1", "B1"]])
    before = (Customer.objects.count(), FinancialSnapshot.objects.count(), Holding.objects.count())
    with pytest.raises(ImportFileError) as e:
        run(path, world, kind=kind)
    assert missing in str(e.value.message)
    assert before == (Customer.objects.count(), FinancialSnapshot.objects.count(), Holding.objects.count())


def test_two_columns_for_one_field_is_a_file_error(world, tmp_path):
    path = write_csv(tmp_path / "f.csv", ["cif", "客户号", "name"], [["A", "A", "x"]])
    with pytest.raises(ImportFileError, match="cif"):
        run(path, world)


def test_extra_columns_are_reported_once_and_ignored(world, tmp_path):
    path = write_csv(tmp_path / "c.csv", [*CUSTOMER_HEADER, "aum", "备用字段", ""],
                     [[*r, "1", "x", ""] for r in customer_rows(3)])
    result = run(path, world)
    assert result.created == 3 and result.rejected == 0
    assert len(result.warnings) == 2
    assert "aum" in result.warnings[0] and "备用字段" in result.warnings[0]


def test_header_names_ignore_case_and_spaces(world, tmp_path):
    path = write_csv(tmp_path / "c.csv", [" CIF ", "Name", "BRANCH"], [["K1", "甲", "B1"]])
    assert run(path, world).created == 1


def test_empty_file_and_header_only(world, tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(ImportFileError):
        run(tmp_path / "empty.csv", world)
    header_only = write_csv(tmp_path / "h.csv", CUSTOMER_HEADER, [])
    result = run(header_only, world)
    assert result.rows_total == 0 and result.created == 0 and result.warnings


# --------------------------------------------------------------------------------------------------
# Rows: errors with line numbers, duplicates, empty cells
# --------------------------------------------------------------------------------------------------
def test_bad_rows_are_reported_with_line_numbers_and_good_rows_are_stored(world, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(
        "cif,name,branch,mobile,birth_date\n"  # line 1
        "OK1,甲,B1,13912345678,1990-01-01\n"  # 2
        "BAD1,乙,B1,12345,\n"  # 3: mobile
        "\n"  # 4: blank, skipped
        "BAD2,丙,NOPE,,\n"  # 5: branch
        "BAD3,丁,B1,,1990-02-30\n"  # 6: date
        "BAD4,戊,福州,鼓楼,,\n"  # 7: one value too many
        ",己,B1,,\n"  # 8: no CIF
        "OK2,庚,B1,,\n",  # 9
        encoding="utf-8")
    rejects = io.StringIO()
    result = run(path, world, rejects_out=rejects, chunk_size=3)
    assert (result.created, result.rejected, result.rows_total, result.rows_done) == (2, 5, 7, 7)
    by_line = {e["line"]: e for e in result.errors}
    assert set(by_line) == {3, 5, 6, 7, 8}
    assert by_line[3]["field"] == "mobile" and by_line[3]["key"] == {"cif": "BAD1"}
    assert by_line[5]["field"] == "branch"
    assert by_line[6]["field"] == "birth_date"
    assert by_line[7]["field"] == "non_field_errors" and "6" in by_line[7]["reason"]
    assert by_line[8]["field"] == "cif"
    assert set(Customer.objects.filter(cif__in=["OK1", "OK2", "BAD1", "BAD2", "BAD3", "BAD4"])
               .values_list("cif", flat=True)) == {"OK1", "OK2"}
    lines = list(csv.reader(io.StringIO(rejects.getvalue())))
    assert lines[0][-3:] == ["line", "field", "reason"]
    assert [r[-3] for r in lines[1:]] == ["3", "5", "6", "7", "8"]
    assert lines[1][:-3] == ["BAD1", "乙", "B1", "12345", ""]  # the record as it was in the file
    assert lines[4][:-3] == [""] * (len(lines[0]) - 3)  # a line that could not be read: its reason only


@pytest.mark.parametrize("chunk_size", [2, 100])
def test_duplicate_keys_in_the_file_are_all_rejected_even_across_chunks(world, tmp_path, chunk_size):
    rows = customer_rows(5)
    rows.append(["imp000001", "重复", "B1", "rm", ""])  # line 7 repeats line 2 (CIF is case-insensitive)
    rows.append(["IMP000004", "重复", "B1", "rm", ""])  # line 8 repeats line 5
    path = write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, rows)
    result = run(path, world, chunk_size=chunk_size)
    assert (result.created, result.rejected) == (3, 4)
    assert sorted(e["line"] for e in result.errors) == [2, 5, 7, 8]
    reason = next(e["reason"] for e in result.errors if e["line"] == 2)
    assert "2, 7" in reason
    assert not Customer.objects.filter(cif__in=["IMP000001", "IMP000004"]).exists()


def test_duplicate_snapshot_keys_across_chunks(world, tmp_path):
    cif = world.c_rm.cif
    path = write_csv(tmp_path / "s.csv", ["cif", "period", "aum"], [
        [cif, "2026-08-01", "1"], [cif, "2026-07-01", "2"], [cif.lower(), "2026-08-01", "3"],
        [world.customers["c_b2"].cif, "2026-08-01", "4"]])
    result = run(path, world, kind="snapshots", chunk_size=1)
    assert (result.created, result.rejected) == (2, 2)
    assert sorted(e["line"] for e in result.errors) == [2, 4]
    assert all(e["field"] == "period" for e in result.errors)


def test_empty_cells_keep_every_stored_value(world, tmp_path):
    """Issue 9 item 3: a blank cell is "not provided", as null is in the API; it never erases (it used to clear a
    mobile, an ID number, an address)."""
    c = world.c_rm
    id_number = make_resident_id(dt.date(1985, 3, 1), c.gender or "M")
    Customer.objects.filter(pk=c.pk).update(address="旧地址", consent_sms=True, mobile="13912345678",
                                            birth_date=dt.date(1985, 3, 1), gender=c.gender or "M",
                                            id_type="resident_id", id_number=id_number, notes="老客户", email="a@b.cn")
    path = write_csv(tmp_path / "c.csv", ["cif", "name", "mobile", "id_type", "id_number", "tags", "consent_sms",
                                          "address", "email", "notes", "birth_date", "rm", "branch"],
                     [[c.cif, "", "", "", " ", "", "", "", "", "  ", "", "", ""]])
    result = run(path, world)
    assert (result.unchanged, result.rejected) == (1, 0), result.errors
    c2 = Customer.objects.get(pk=c.pk)
    assert (c2.name, c2.tags, c2.consent_sms, c2.rm, c2.branch, c2.birth_date) == (
        c.name, ["VIP", "代发"], True, c.rm, c.branch, dt.date(1985, 3, 1))
    assert (c2.mobile, c2.id_type, c2.id_number, c2.address, c2.email, c2.notes) == (
        "13912345678", "resident_id", id_number, "旧地址", "a@b.cn", "老客户")
    assert not CustomerChange.objects.filter(customer=c, created=False).exists()


@pytest.mark.parametrize("marker", ["<clear>", "<清空>", " <CLEAR> "])
def test_the_clear_marker_clears_a_value_and_records_it(world, tmp_path, marker):
    c = world.c_rm
    Customer.objects.filter(pk=c.pk).update(address="旧地址", mobile="13912345678", notes="老客户")
    path = write_csv(tmp_path / "c.csv", ["cif", "mobile", "address", "notes", "tags"],
                     [[c.cif, marker, marker, "", marker]])
    result = run(path, world)
    assert (result.updated, result.rejected) == (1, 0)
    c2 = Customer.objects.get(pk=c.pk)
    assert (c2.mobile, c2.address, c2.notes, c2.tags) == ("", "", "老客户", [])
    change = CustomerChange.objects.get(customer=c, created=False)
    assert change.source == "import" and change.actor == world.ho_user
    assert change.changes["mobile"] == ["13912345678", ""] and change.changes["address"] == ["旧地址", ""]
    assert set(change.changes) == {"mobile", "address", "tags"}


def test_the_clear_marker_in_a_field_that_cannot_be_cleared_rejects_the_row(world, tmp_path):
    c = world.c_rm
    path = write_csv(tmp_path / "c.csv", ["cif", "name", "birth_date", "address"],
                     [[c.cif, "<clear>", "", "新地址"], [world.customers["c_other"].cif, "", "<清空>", "新地址"]])
    result = run(path, world)
    assert (result.updated, result.rejected) == (0, 2)
    assert [(e["line"], e["field"]) for e in result.errors] == [(2, "name"), (3, "birth_date")]
    assert "cannot be cleared" in result.errors[0]["reason"]
    assert Customer.objects.get(pk=c.pk).name == c.name


def test_a_file_of_cifs_only_changes_nothing(world, tmp_path):
    """Regression: a batch naming only CIFs built an invalid UPDATE (customers.ingest.customers)."""
    path = write_csv(tmp_path / "c.csv", ["cif"], [[c.cif] for c in world.customers.values()])
    result = run(path, world)
    assert (result.unchanged, result.rejected) == (4, 0)


# --------------------------------------------------------------------------------------------------
# Size, progress, dry run, idempotence
# --------------------------------------------------------------------------------------------------
def test_file_larger_than_one_batch_then_reimport_is_unchanged(world, tmp_path):
    path = write_csv(tmp_path / "big.csv", CUSTOMER_HEADER, customer_rows(12_000))
    progress = []
    result = run(path, world, chunk_size=5_000, on_progress=lambda done, total: progress.append((done, total)))
    assert (result.created, result.rejected, result.rows_done) == (12_000, 0, 12_000)
    assert progress == [(5_000, 12_000), (10_000, 12_000), (12_000, 12_000)]
    assert Customer.objects.filter(cif__startswith="IMP").count() == 12_000
    changes = CustomerChange.objects.count()

    again = run(path, world, chunk_size=5_000)
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 12_000, 0)
    assert CustomerChange.objects.count() == changes


def test_dry_run_writes_nothing_and_counts_like_the_real_run(world, tmp_path):
    rows = customer_rows(5) + [["BADM", "坏", "B1", "rm", "123"]]
    rows[0][1] = "改名"
    path = write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, rows)
    customers, changes = Customer.objects.count(), CustomerChange.objects.count()
    dry = run(path, world, dry_run=True, chunk_size=2)
    assert (dry.created, dry.rejected, dry.dry_run) == (5, 1, True)
    assert dry.errors[0]["line"] == 7
    assert (Customer.objects.count(), CustomerChange.objects.count()) == (customers, changes)
    real = run(path, world, chunk_size=2)
    assert (real.created, real.updated, real.unchanged, real.rejected) == (dry.created, dry.updated,
                                                                            dry.unchanged, dry.rejected)


def test_dry_run_later_chunks_see_earlier_chunks(world, tmp_path):
    """In one dry-run transaction, what chunk 1 would create is there for chunk 2 (no false 'created')."""
    path = write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, customer_rows(4))
    first = run(path, world, dry_run=True, chunk_size=2)
    assert first.created == 4
    run(path, world)  # now they exist
    dry = run(path, world, dry_run=True, chunk_size=2)
    assert (dry.created, dry.unchanged) == (0, 4)


def test_only_head_office_may_import(world, tmp_path):
    path = write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, customer_rows(1))
    with pytest.raises(NotPermitted):
        import_file(path, kind="customers", actor=world.sup_b1, today=TODAY)


def test_keeps_only_the_first_errors_in_memory(world, tmp_path):
    rows = [[f"E{i}", "", "B1", "", ""] for i in range(30)]  # every row lacks a name
    path = write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, rows)
    out = io.StringIO()
    result = run(path, world, rejects_out=out)
    assert result.rejected == 30 and len(result.errors) == importer.ERRORS_KEPT
    assert len(out.getvalue().splitlines()) == 31


# --------------------------------------------------------------------------------------------------
# Management commands
# --------------------------------------------------------------------------------------------------
def test_import_customers_command(world, tmp_path):
    path = write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, customer_rows(3) + [["X", "", "B1", "", ""]])
    rejects = tmp_path / "rejects.csv"
    out, err = io.StringIO(), io.StringIO()
    call_command("import_customers", str(path), "--rejects-out", str(rejects), "--today", "2026-11-22",
                 "--chunk-size", "2", stdout=out, stderr=err)
    text = out.getvalue()
    assert "3 created, 0 updated, 0 unchanged, 1 rejected" in text
    assert "4 / 4 rows (100%)" in text and "as ho_user" in text
    assert "line 5 X: name" in err.getvalue()
    assert rejects.read_text(encoding="utf-8-sig").splitlines()[1].startswith("X,,B1,,,5,name,")
    assert Customer.objects.filter(cif__startswith="IMP").count() == 3


def test_import_commands_dry_run_and_other_kinds(world, tmp_path):
    snaps = write_csv(tmp_path / "s.csv", ["cif", "period", "aum"], [[world.c_rm.cif, "2026-10-01", "100"]])
    out = io.StringIO()
    call_command("import_snapshots", str(snaps), "--dry-run", stdout=out)
    assert "Dry run (nothing stored): 1 created" in out.getvalue()
    assert not FinancialSnapshot.objects.filter(period=dt.date(2026, 10, 1)).exists()
    holdings = write_csv(tmp_path / "h.csv", ["cif", "account_no", "product_code", "product_name", "product_type"],
                         [[world.c_rm.cif, "ACC-1", "P1", "定期", "deposit"]])
    call_command("import_holdings", str(holdings), "--as", "ho_user", stdout=io.StringIO())
    assert Holding.objects.filter(account_no="ACC-1", customer=world.c_rm).exists()


def test_import_command_dry_run_shows_what_would_change(world, tmp_path):
    Customer.objects.filter(pk=world.c_rm.pk).update(mobile="13912345678")
    path = write_csv(tmp_path / "c.csv", ["cif", "mobile", "address"], [[world.c_rm.cif, "13800001111", "新址"]])
    out, err = io.StringIO(), io.StringIO()
    call_command("import_customers", str(path), "--dry-run", stdout=out, stderr=err)
    assert "Would change 1 customers: address 1, mobile 1." in out.getvalue()
    assert f"{world.c_rm.cif}: " in out.getvalue() and "139****5678 → 138****1111" in out.getvalue()
    assert "13800001111" not in out.getvalue() and "1 would get a new name, ID or mobile" in err.getvalue()


def test_import_command_errors(world, tmp_path):
    missing = write_csv(tmp_path / "m.csv", ["name"], [["x"]])
    with pytest.raises(CommandError, match="cif"):
        call_command("import_customers", str(missing), stdout=io.StringIO())
    good = write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, customer_rows(1))
    with pytest.raises(CommandError, match="head-office"):
        call_command("import_customers", str(good), "--as", "rm", stdout=io.StringIO())
    with pytest.raises(CommandError, match="No active user"):
        call_command("import_customers", str(good), "--as", "nobody", stdout=io.StringIO())


def test_import_command_needs_a_head_office_user(db, tmp_path):
    path = write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, customer_rows(1))
    with pytest.raises(CommandError, match="no active head-office user"):
        call_command("import_customers", str(path), stdout=io.StringIO())


# --------------------------------------------------------------------------------------------------
# Import jobs
# --------------------------------------------------------------------------------------------------
def upload(name, content: bytes):
    return SimpleUploadedFile(name, content, content_type="text/csv")


def csv_bytes(header, rows, encoding="utf-8"):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *rows])
    return buf.getvalue().encode(encoding)


def test_job_runs_once_and_writes_rejects_file(world, media):
    content = csv_bytes(CUSTOMER_HEADER, customer_rows(3) + [["BAD", "", "B1", "", ""]])
    job = import_jobs.import_job_create(actor=world.ho_user, kind="customers", upload=upload("客户.csv", content),
                                        dry_run=False)
    assert Path(job.file.path).is_relative_to(Path(media) / "imports")
    now = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)
    job = import_jobs.import_job_run(job, now=now, size=2)
    assert (job.status, job.created, job.rejected, job.rows_done, job.rows_total) == (ImportStatus.DONE, 3, 1, 4, 4)
    assert job.started_at == now and job.finished_at >= now
    assert job.errors_preview[0]["line"] == 5
    rows = list(csv.reader(io.StringIO(job.rejects_file.read().decode("utf-8-sig"))))
    assert rows[0] == [*CUSTOMER_HEADER, "line", "field", "reason"]
    assert rows[1][:-1] == ["BAD", "", "B1", "", "", "5", "name"]
    # A done job is not run again.
    Customer.objects.filter(cif__startswith="IMP").delete()
    again = import_jobs.import_job_run(job.pk, now=now)
    assert again.status == ImportStatus.DONE and not Customer.objects.filter(cif__startswith="IMP").exists()


def test_job_with_a_file_error_fails_with_the_message(world):
    job = import_jobs.import_job_create(actor=world.ho_user, kind="snapshots",
                                        upload=upload("s.csv", b"cif,aum\nC1,1\n"))
    job = import_jobs.import_job_run(job, now=dt.datetime(2026, 11, 22, tzinfo=dt.UTC))
    assert job.status == ImportStatus.FAILED and "period" in job.error


def test_apply_creates_the_real_job_once(world, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("customers.tasks.import_file_run.apply_async", lambda args, queue=None: sent.append(args))
    preview = import_jobs.import_job_create(actor=world.ho_user, kind="customers",
                                            upload=upload("c.csv", csv_bytes(CUSTOMER_HEADER, customer_rows(2))))
    preview = import_jobs.import_job_run(preview, now=dt.datetime(2026, 11, 22, tzinfo=dt.UTC))
    assert preview.created == 2 and not Customer.objects.filter(cif__startswith="IMP").exists()
    with django_capture_on_commit_callbacks(execute=True):
        job = import_jobs.import_job_apply(actor=world.ho_user, preview=preview)
    assert sent == [(job.pk,)] and job.file.name == preview.file.name and not job.dry_run
    assert import_jobs.import_job_apply(actor=world.ho_user, preview=preview) == job
    with pytest.raises(NotPermitted):
        import_jobs.import_job_apply(actor=world.rm, preview=preview)


@pytest.mark.django_db(transaction=True)
def test_dry_run_progress_is_visible_to_other_connections_while_it_runs(world, monkeypatch):
    """The dry run's transaction is open; its progress rows must be committed on their own."""
    seen = []
    original = import_jobs.Progress.__call__

    def spy(self, done, total):
        original(self, done, total)
        other = connections.create_connection("default")
        try:
            with other.cursor() as cur:
                cur.execute("SELECT rows_done, rows_total FROM customers_importjob WHERE id = %s", [self.job_id])
                seen.append(cur.fetchone())
            with other.cursor() as cur:  # and nothing of the dry run is visible outside it
                cur.execute("SELECT count(*) FROM customers_customer WHERE cif LIKE 'IMP%%'")
                seen.append(cur.fetchone()[0])
        finally:
            other.close()

    monkeypatch.setattr(import_jobs.Progress, "__call__", spy)
    job = import_jobs.import_job_create(actor=world.ho_user, kind="customers",
                                        upload=upload("c.csv", csv_bytes(CUSTOMER_HEADER, customer_rows(5))))
    job = import_jobs.import_job_run(job, now=dt.datetime(2026, 11, 22, tzinfo=dt.UTC), size=2)
    assert seen == [(2, 5), 0, (4, 5), 0, (5, 5), 0]
    assert job.status == ImportStatus.DONE and job.created == 5


# --------------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------------
@pytest.fixture
def hq(world):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(world.ho_user)
    return client


@pytest.fixture
def inline_tasks(monkeypatch):
    """Run enqueued import tasks in the test process (not eager mode: it would cache a result backend
    on the Celery app that the real-worker tests then cannot replace)."""
    monkeypatch.setattr("customers.tasks.import_file_run.apply_async",
                        lambda args, queue=None: import_file_run.run(*args))


@pytest.mark.parametrize("who", ["rm", "other_rm", "sup_b1", "sup_b2", "co_b1", "ho_user", "anonymous", "superuser"])
def test_import_pages_access(world, who):
    job = import_jobs.import_job_create(actor=world.ho_user, kind="customers",
                                        upload=upload("c.csv", csv_bytes(CUSTOMER_HEADER, customer_rows(1))))
    client = Client()
    if who == "superuser":
        client.force_login(HeadOfficeUserFactory(username="root", role=Role.RM, is_superuser=True))
    elif who != "anonymous":
        client.force_login(getattr(world, who))
    urls = [reverse("customers:import"), reverse("customers:import-job", args=[job.pk])]
    for url in urls:
        response = client.get(url)
        if who == "anonymous":
            assert response.status_code == 302 and "/login/" in response["Location"]
        elif who in ("ho_user", "superuser"):
            assert response.status_code == 200
        else:
            assert response.status_code == 403
    response = client.post(reverse("customers:import-apply", args=[job.pk]))
    assert response.status_code == {"anonymous": 302, "ho_user": 302, "superuser": 302}.get(who, 403)
    if who not in ("ho_user", "superuser", "anonymous"):
        assert client.post(reverse("customers:import"), {"kind": "customers"}).status_code == 403
        assert client.get(reverse("customers:import-rejects", args=[job.pk])).status_code == 403


def test_upload_preview_apply_done(world, hq, inline_tasks, django_capture_on_commit_callbacks):
    content = csv_bytes(["客户号", "客户名称", "所属机构", "手机号"],
                        [["P1", "甲", "B1", "13912345678"], ["P2", "乙", "B1", "123"], ["P3", "丙", "B2", ""]],
                        encoding="gbk")
    with django_capture_on_commit_callbacks(execute=True):
        response = hq.post(reverse("customers:import"), {"kind": "customers", "file": upload("客户.csv", content)})
    preview = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("customers:import-job", args=[preview.pk])
    assert preview.status == ImportStatus.DONE and preview.dry_run and (preview.created, preview.rejected) == (2, 1)
    assert not Customer.objects.filter(cif__in=["P1", "P3"]).exists()

    page = hq.get(response["Location"])
    html = page.content.decode()
    assert 'data-testid="apply-form"' in html and "hx-trigger" not in html
    assert 'data-count="created">2<' in html and "123" not in html  # the reason, not the value
    assert "P2" in html and "mobile" in html

    with django_capture_on_commit_callbacks(execute=True):
        response = hq.post(reverse("customers:import-apply", args=[preview.pk]))
    job = ImportJob.objects.exclude(pk=preview.pk).get()
    assert response["Location"] == reverse("customers:import-job", args=[job.pk])
    job.refresh_from_db()
    assert (job.status, job.dry_run, job.created, job.rejected) == (ImportStatus.DONE, False, 2, 1)
    assert set(Customer.objects.filter(cif__in=["P1", "P2", "P3"]).values_list("cif", flat=True)) == {"P1", "P3"}

    html = hq.get(reverse("customers:import-job", args=[job.pk])).content.decode()
    assert 'data-testid="rejects-download"' in html and 'data-testid="apply-form"' not in html
    download = hq.get(reverse("customers:import-rejects", args=[job.pk]))
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
    body = b"".join(download.streaming_content).decode("utf-8-sig")
    assert body.splitlines()[0].startswith("客户号,客户名称,所属机构,手机号,line,field,reason")
    assert body.splitlines()[1].startswith("P2,乙,B1,123,3,mobile,")
    # The preview now links to its import instead of offering to apply again.
    html = hq.get(reverse("customers:import-job", args=[preview.pk])).content.decode()
    assert 'data-testid="applied-link"' in html


def test_every_preview_runs_as_a_job_and_polls(world, hq, monkeypatch, django_capture_on_commit_callbacks):
    """Issue 9 item 4: checking a file reads all of it, so even a small preview runs in a worker, never in the
    request (there was an in-request path for files up to CRM_IMPORT_SYNC_PREVIEW_ROWS)."""
    sent = []
    monkeypatch.setattr("customers.tasks.import_file_run.apply_async",
                        lambda args, queue=None: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        response = hq.post(reverse("customers:import"), {
            "kind": "customers", "file": upload("c.csv", csv_bytes(CUSTOMER_HEADER, customer_rows(1)))})
    job = ImportJob.objects.get()
    assert sent == [(job.pk,)] and job.status == ImportStatus.PENDING and job.rows_done == 0
    partial = hq.get(response["Location"], HTTP_HX_REQUEST="true")
    html = partial.content.decode()
    assert 'hx-trigger="every 1s"' in html and "<html" not in html
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, rows_total=3, rows_done=2)
    html = hq.get(response["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert "2 of 3 rows" in html and 'aria-valuenow="67"' in html and ">67%</div>" in html


@pytest.mark.parametrize("name, content, settings_mb, message", [
    ("c.txt", b"cif\nA\n", None, ".csv"),
    ("c.csv", b"", None, "empty"),
    ("c.csv", b"cif,name\n" + b"A,b\n" * 400_000, 1, "MB"),
])
def test_upload_validation_errors_are_shown_inline(world, hq, settings, name, content, settings_mb, message):
    if settings_mb:
        settings.CRM_IMPORT_MAX_UPLOAD_MB = settings_mb
    response = hq.post(reverse("customers:import"), {"kind": "customers", "file": upload(name, content)})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-field-error="file"' in html and message in html
    assert not ImportJob.objects.exists()


def test_file_error_in_preview_is_shown_on_the_job(world, hq, inline_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = hq.post(reverse("customers:import"), {"kind": "holdings",
                                                         "file": upload("h.csv", b"cif,balance\nA,1\n")})
    job = ImportJob.objects.get()  # kept, as a record of the upload
    assert response.status_code == 302 and job.status == ImportStatus.FAILED
    html = hq.get(reverse("customers:import-job", args=[job.pk])).content.decode()
    assert 'data-testid="job-error"' in html and "account_no" in html and 'data-testid="apply-form"' not in html


def test_job_list_query_count_is_constant(world, hq, django_assert_num_queries):
    def add(n):
        for i in range(n):
            ImportJob.objects.create(kind="customers", original_name=f"f{i}.csv", file=f"imports/f{i}.csv",
                                     uploaded_by=world.ho_user, status=ImportStatus.DONE, created=i)

    add(2)
    url = reverse("customers:import")
    hq.get(url)  # warm up (session, content types)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert hq.get(url).status_code == 200
    add(10)
    with django_assert_num_queries(len(few.captured_queries)):
        response = hq.get(url)
    assert response.content.decode().count("f9.csv") == 1


def test_job_list_pages_through_older_jobs(world, hq):
    for i in range(25):
        ImportJob.objects.create(kind="customers", original_name=f"old{i:02d}.csv", file=f"imports/old{i}.csv",
                                 uploaded_by=world.ho_user, status=ImportStatus.DONE)
    first = hq.get(reverse("customers:import")).content.decode()
    assert "old24.csv" in first and "old05.csv" in first and "old04.csv" not in first  # newest 20
    assert "?page=2" in first and "Page 1 of 2" in first
    second = hq.get(reverse("customers:import") + "?page=2").content.decode()
    assert "old04.csv" in second and "old00.csv" in second and "old05.csv" not in second
    assert hq.get(reverse("customers:import") + "?page=99").status_code == 200  # the last page, not an error


# --------------------------------------------------------------------------------------------------
# Retention: import files hold personal data and are deleted CRM_IMPORT_FILE_RETENTION_DAYS after their job
# --------------------------------------------------------------------------------------------------
def _finished_job(world, *, days_ago, now, dry_run=False, bad_row=True):
    rows = customer_rows(2, prefix=f"R{days_ago}{int(dry_run)}") + ([["BAD", "", "B1", "", ""]] if bad_row else [])
    job = import_jobs.import_job_create(actor=world.ho_user, kind="customers", dry_run=dry_run,
                                        upload=upload("客户.csv", csv_bytes(CUSTOMER_HEADER, rows)))
    return import_jobs.import_job_run(job, now=now - dt.timedelta(days=days_ago))


def _exists(name):
    return ImportJob._meta.get_field("file").storage.exists(name)


def _orphan(media, name, *, age_days, now):
    path = Path(media) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"cif,name\nX1,someone\n")
    stamp = (now - dt.timedelta(days=age_days)).timestamp()
    import os

    os.utime(path, (stamp, stamp))
    return name


def test_purge_deletes_the_files_of_old_jobs_only(world, media, settings, django_capture_on_commit_callbacks,
                                                  monkeypatch):
    monkeypatch.setattr("customers.tasks.import_file_run.apply_async", lambda args, queue=None: None)
    settings.CRM_IMPORT_FILE_RETENTION_DAYS = 30
    now = dt.datetime.now(dt.UTC)
    old = _finished_job(world, days_ago=31, now=now)
    recent = _finished_job(world, days_ago=29, now=now)
    old_preview = _finished_job(world, days_ago=40, now=now, dry_run=True)
    with django_capture_on_commit_callbacks(execute=False):
        applying = import_jobs.import_job_apply(actor=world.ho_user, preview=old_preview)  # pending: needs the file
    running = import_jobs.import_job_create(actor=world.ho_user, kind="customers",
                                            upload=upload("c.csv", csv_bytes(CUSTOMER_HEADER, customer_rows(1))))
    ImportJob.objects.filter(pk=running.pk).update(status=ImportStatus.RUNNING, started_at=now - dt.timedelta(days=90))
    old_orphan = _orphan(media, "imports/2026/09/lost.csv", age_days=31, now=now)
    new_orphan = _orphan(media, "imports/rejects/fresh.csv", age_days=1, now=now)
    files = {j: (j.file.name, j.rejects_file.name) for j in (old, recent, old_preview)}
    assert all(_exists(n) for pair in files.values() for n in pair)

    from customers.tasks import import_files_purge

    assert import_files_purge.run() == {"jobs": 2, "files": 3, "orphans": 1}

    for job in (old, old_preview):
        job.refresh_from_db()
        assert job.files_removed_at is not None and not job.file and not job.rejects_file
        assert (job.created, job.rejected, job.errors_preview[0]["line"]) == (2, 1, 4)  # the record stays
    assert not _exists(files[old][0]) and not _exists(files[old][1]) and not _exists(files[old_preview][1])
    assert _exists(files[old_preview][0]) and applying.file.name == files[old_preview][0]  # the import still needs it
    assert all(_exists(n) for n in files[recent])
    assert _exists(running.file.name) and not _exists(old_orphan) and _exists(new_orphan)
    recent.refresh_from_db()
    assert recent.files_removed_at is None
    # Twice is safe; once the import that shares the preview's file is old too, the file goes.
    assert import_jobs.import_files_purge(now=now) == {"jobs": 0, "files": 0, "orphans": 0}
    ImportJob.objects.filter(pk=applying.pk).update(status=ImportStatus.DONE, finished_at=now - dt.timedelta(days=31))
    assert import_jobs.import_files_purge(now=now) == {"jobs": 1, "files": 1, "orphans": 0}
    assert not _exists(files[old_preview][0])


def test_a_preview_whose_file_was_deleted_cannot_be_applied(world, hq, media):
    now = dt.datetime.now(dt.UTC)
    preview = _finished_job(world, days_ago=31, now=now, dry_run=True)
    import_jobs.import_files_purge(now=now)
    preview.refresh_from_db()
    from core.errors import Conflict

    with pytest.raises(Conflict, match="upload it again"):
        import_jobs.import_job_apply(actor=world.ho_user, preview=preview)
    url = reverse("customers:import-job", args=[preview.pk])
    html = hq.get(url).content.decode()
    assert 'data-testid="files-removed"' in html and "upload the file again" in html
    assert 'data-testid="apply-form"' not in html and 'data-testid="rejects-download"' not in html
    response = hq.post(reverse("customers:import-apply", args=[preview.pk]), follow=True)
    assert "upload it again" in response.content.decode()
    assert ImportJob.objects.count() == 1
    assert hq.get(reverse("customers:import-rejects", args=[preview.pk])).status_code == 404


def test_purge_runs_nightly_from_a_beat_row(db):
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="customers.tasks.import_files_purge")
    assert task.enabled and (task.crontab.hour, task.crontab.minute) == ("3", "40")


# --------------------------------------------------------------------------------------------------
# Initial load: a large customers file into an empty table (indexes and foreign keys rebuilt at the end)
# --------------------------------------------------------------------------------------------------
def schema_of(tables=("customers_customer", "customers_customerchange")):
    with connections["default"].cursor() as cur:
        cur.execute("SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                    "WHERE indrelid = ANY(%s::regclass[]) ORDER BY 1", [list(tables)])
        indexes = cur.fetchall()
        cur.execute("SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint "
                    "WHERE conrelid = ANY(%s::regclass[]) ORDER BY 1", [list(tables)])
        constraints = cur.fetchall()
        cur.execute("SELECT table_name, column_name, column_default FROM information_schema.columns "
                    "WHERE table_name = ANY(%s) ORDER BY 1, 2", [list(tables)])
        return indexes, constraints, cur.fetchall()


def delete_customers():
    """Delete every customer and fire the deferred foreign-key checks of that delete at once: the test's
    transaction stands for the fresh transaction an import has, where no such check is pending (PostgreSQL
    refuses to alter a table with pending trigger events)."""
    Customer.objects.all().delete()
    with connections["default"].cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cur.execute("SET CONSTRAINTS ALL DEFERRED")


@pytest.fixture
def empty_customers(world):
    delete_customers()
    return world


def test_initial_load_rebuilds_indexes_and_foreign_keys_as_they_were(empty_customers, tmp_path):
    before = schema_of()
    assert len(before[0]) > 10 and any(c[1].startswith("FOREIGN KEY") for c in before[1])
    rows = customer_rows(30)
    rows[5][0] = rows[4][0]  # a duplicate CIF: both rejected, as in an ordinary import
    rows[7][4] = "12345"  # a bad mobile: rejected with its line
    path = write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, rows)
    result = run(path, empty_customers, chunk_size=7, initial_load=True)
    assert result.initial_load is True
    assert (result.created, result.rejected) == (27, 3)
    assert sorted(e["line"] for e in result.errors) == [6, 7, 9]
    assert schema_of() == before
    assert Customer.objects.count() == 27
    assert CustomerChange.objects.filter(created=True, source="import", changes={}, api_key=None,
                                         actor=empty_customers.ho_user).count() == 27
    c = Customer.objects.get(cif="IMP000001")
    assert (c.branch, c.rm, c.mobile) == (empty_customers.b1, empty_customers.rm, "13900000001")
    # the rebuilt indexes serve queries, and the re-added foreign keys hold
    with connections["default"].cursor() as cur:
        cur.execute("SET enable_seqscan = off")
        cur.execute("EXPLAIN SELECT id FROM customers_customer WHERE mobile = '13900000002'")
        assert "cust_mobile" in " ".join(r[0] for r in cur.fetchall())
        cur.execute("RESET enable_seqscan")
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.filter(pk=c.pk).update(branch_id=999_999)
        with connections["default"].cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_initial_load_is_all_or_nothing(empty_customers, tmp_path, monkeypatch):
    before = schema_of()
    path = write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, customer_rows(20))
    calls = []
    real = initial_load.InitialLoad.add

    def failing_second_chunk(self, records, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return real(self, records, **kw)

    monkeypatch.setattr(initial_load.InitialLoad, "add", failing_second_chunk)
    with pytest.raises(RuntimeError):
        run(path, empty_customers, chunk_size=10, initial_load=True)
    assert Customer.objects.count() == 0 and CustomerChange.objects.count() == 0
    assert schema_of() == before


def test_initial_load_only_into_an_empty_table_and_only_for_large_files(world, tmp_path, monkeypatch):
    path = write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, customer_rows(12))
    # the table holds customers: an ordinary import, chunk by chunk, even when asked for
    result = run(path, world, chunk_size=5, initial_load=True)
    assert result.initial_load is False and result.created == 12
    delete_customers()
    assert run(path, world, chunk_size=5).initial_load is False  # 12 rows: below INITIAL_LOAD_MIN_ROWS
    delete_customers()
    monkeypatch.setattr(initial_load, "INITIAL_LOAD_MIN_ROWS", 10)
    assert run(path, world, chunk_size=5).initial_load is True
    delete_customers()
    assert run(path, world, chunk_size=5, initial_load=False).initial_load is False
    assert run(path, world, kind="customers", dry_run=True).initial_load is False
    snapshots = write_csv(tmp_path / "s.csv", ["cif", "period", "aum"], [["IMP000001", "2026-10-01", "1"]] * 1)
    assert run(snapshots, world, kind="snapshots").initial_load is False


def test_initial_load_stores_what_an_ordinary_import_stores(empty_customers, tmp_path):
    """The initial load COPYs the records straight in: every stored value (defaults for empty cells, values
    derived from the ID, normalised mobiles, name bigrams, tags) equals what the ordinary path stores."""
    rid = make_resident_id(dt.date(1990, 5, 17), "F")
    header = ["cif", "name", "kind", "branch", "rm", "id_type", "id_number", "mobile", "email", "tags",
              "consent_sms", "do_not_contact", "risk_level", "risk_assessed_on", "credit_code", "address"]
    rows = [["imp000001", " 王 芳 ", "", "B1", "rm", "resident_id", rid.lower(), "+86 139-1234-5678", "a@b.cn",
             "VIP;代发", "Y", "", "C3", "2026-01-05", "", '有"引号"的地址'],
            ["IMP000002", "福州某某科技有限公司", "corporate", "B1A", "", "", "", "", "", "", "N", "true", "", "",
             make_credit_code(7), ""]]
    path = write_csv(tmp_path / "c.csv", header, rows)
    skip = {"id", "created_at", "updated_at", "change_txid"}

    def stored():
        return {c.cif: {k: v for k, v in Customer.objects.filter(pk=c.pk).values().get().items() if k not in skip}
                for c in Customer.objects.all()}

    assert run(path, empty_customers, initial_load=False).created == 2
    ordinary = stored()
    delete_customers()
    result = run(path, empty_customers, initial_load=True)
    assert result.initial_load is True and result.created == 2
    assert stored() == ordinary
    c = Customer.objects.get(cif="IMP000001")
    assert (c.gender, c.birth_date, c.id_number) == ("F", dt.date(1990, 5, 17), rid.upper())
    assert c.tags == ["VIP", "代发"] and c.name_bigrams == rules.bigrams("王 芳")
    [entry] = selectors.customer_history(c)
    assert entry.created and entry.changes["name"] == [None, "王 芳"] and entry.source == "import"
    # the ids were drawn from the table's sequence: the next customer gets a fresh one
    later = CustomerFactory(branch=empty_customers.b1)
    assert later.pk > max(Customer.objects.exclude(pk=later.pk).values_list("pk", flat=True))


def test_a_line_with_too_many_values_is_rejected_in_a_file_without_blank_lines(world, tmp_path):
    """The scan reads every column (pandas stops reporting such lines when asked for some columns only)."""
    path = tmp_path / "c.csv"
    path.write_text("cif,name,branch\nOK1,甲,B1\nBAD1,乙,B1,多余,值\nOK2,丙,B1\n", encoding="utf-8")
    result = run(path, world)
    assert (result.created, result.rejected, result.rows_total) == (2, 1, 3)
    assert result.errors[0]["line"] == 3 and result.errors[0]["field"] == "non_field_errors"
    assert not Customer.objects.filter(cif="BAD1").exists()


def test_initial_load_fails_whole_when_a_copy_fails_in_its_thread(empty_customers, tmp_path, monkeypatch):
    """A COPY that fails in the load's writer thread fails the import; nothing stays, schema and defaults
    included."""
    before = schema_of()
    path = write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, customer_rows(30))
    calls = []
    real = initial_load.copy_data

    def failing_second_copy(cur, table, *args):
        calls.append(table)
        if len(calls) == 3:  # the second chunk's customers
            raise RuntimeError("disk full")
        return real(cur, table, *args)

    monkeypatch.setattr(initial_load, "copy_data", failing_second_copy)
    with pytest.raises(RuntimeError, match="disk full"):
        run(path, empty_customers, chunk_size=10, initial_load=True)
    assert calls[:3] == ["customers_customer", "customers_customerchange", "customers_customer"]
    assert Customer.objects.count() == 0 and CustomerChange.objects.count() == 0
    assert schema_of() == before


def test_job_whose_first_load_fails_says_nothing_was_written(empty_customers, media, monkeypatch):
    monkeypatch.setattr(initial_load, "INITIAL_LOAD_MIN_ROWS", 10)

    def failing_copy(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(initial_load, "copy_data", failing_copy)
    content = csv_bytes(CUSTOMER_HEADER, customer_rows(12))
    job = import_jobs.import_job_create(actor=empty_customers.ho_user, kind="customers",
                                        upload=upload("c.csv", content), dry_run=False)
    job = import_jobs.import_job_run(job, now=dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC), size=5)
    assert job.status == ImportStatus.FAILED and "Nothing was written" in job.error
    assert Customer.objects.count() == 0


def test_rejected_rows_file_can_be_fixed_and_uploaded_again(world, tmp_path):
    """Issue 9 item 5: the rejected-rows file holds the record as uploaded (same header and columns) plus line,
    fields and reasons; fixing the cell and uploading the file imports the record (the extra columns are
    ignored with a warning). Cells that a spreadsheet would run as formulas are written neutralised."""
    header = ["客户号", "客户名称", "所属机构", "手机号", "地址"]
    path = write_csv(tmp_path / "c.csv", header, [
        ["R1", "甲", "B1", "13912345678", "福州"],
        ["R2", "乙", "B1", "12345", "=HYPERLINK(\"http://x\")"],  # rejected: the mobile
        ["R3", "丙", "NOPE", "", "-2+3"],  # rejected: the branch
    ])
    with open(tmp_path / "rejects.csv", "w", encoding="utf-8-sig", newline="") as out:
        result = run(path, world, rejects_out=out)
    assert (result.created, result.rejected) == (1, 2)
    text = (tmp_path / "rejects.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [*header, "line", "field", "reason"]
    assert rows[1][:6] == ["R2", "乙", "B1", "12345", "'=HYPERLINK(\"http://x\")", "3"] and rows[1][6] == "mobile"
    assert rows[2][:6] == ["R3", "丙", "NOPE", "", "'-2+3", "4"] and rows[2][6] == "branch"
    # Fix the two cells in the file, as a user would in a spreadsheet, and upload it again.
    rows[1][3], rows[2][2] = "13900001111", "B1"
    fixed = tmp_path / "fixed.csv"
    with open(fixed, "w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows(rows)
    again = run(fixed, world)
    assert (again.created, again.rejected) == (2, 0)
    assert any("line" in w and "reason" in w for w in again.warnings)  # the reason columns are ignored
    r2 = Customer.objects.get(cif="R2")
    assert (r2.name, r2.mobile, r2.branch.code) == ("乙", "13900001111", "B1")
    assert r2.address == "=HYPERLINK(\"http://x\")"  # as it was: the writer's ' is taken off again
    assert Customer.objects.get(cif="R3").address == "-2+3"
