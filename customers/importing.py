"""File import from core banking: customers, monthly snapshots and product holdings from CSV or Excel.

The file is read with pandas in chunks (memory stays bounded whatever the size) and every chunk goes
through the same set-based pipeline as the bulk API (``services.bulk_upsert`` → ``customers.bulk``):
the same parsing, rules, scope checks, audit rows and per-record errors. This module only deals with
what is particular to files:

* **Formats and encodings.** ``.csv`` in UTF-8 (with or without BOM) or GBK/GB18030 (detected: the
  whole file is decoded once as UTF-8; if that fails it must decode as GB18030; otherwise the file is
  refused with the line of the first bad byte), with ``,`` (or tab, ``;``, ``|``, guessed from the
  header) as separator; ``.xlsx`` (first sheet, streamed through openpyxl's read-only reader but kept whole in
  memory: slower and bigger than CSV, so a warning suggests CSV for large files).
* **Headers.** The first row names the columns with the API field names (``cif``, ``name``, ``period``,
  ``account_no``…; case and surrounding spaces do not matter) or with the Chinese headers a bank uses
  (``HEADER_ALIASES``). A missing key column (``cif``; ``period`` for snapshots; ``account_no`` for
  holdings) or two columns naming the same field is a file-level error, raised before anything is
  written. **Unknown columns are reported once, as a file-level warning, and ignored** (rather than
  one "Unknown field" error on every record, which would reject the whole file for one stray column).
* **Empty cells** (or cells of spaces only) mean "not provided": the stored value is kept, in every
  column, as ``null`` does in the API. An import never erases what it does not mention. **To clear a
  value**, the cell holds exactly the marker ``<clear>`` (or ``<清空>``; case and surrounding spaces do not
  matter): it clears the text fields that may be blank (mobile, ID type and number, address, email,
  notes…, as ``""`` does in the API) and the tags; in a field that cannot be empty (name, branch, dates,
  amounts, yes/no…) the marker is an error on that record. Tags are separated by ``;`` in a cell.
* **Neutralised formulas.** The files the CRM writes (``core.exports``) put a ``'`` before text that a
  spreadsheet would run as a formula (``=…``, ``+…``, ``-…``, ``@…``); such a cell read back (a fixed
  rejected-rows file) loses that ``'`` again, so the value is stored as it was.
* **Rejected rows** go to a CSV file with the file's own header and columns, then line, fields and reasons: it
  can be fixed and uploaded again (the three extra columns are ignored, with a warning).
* **Limits** (``Limits``, settings ``CRM_IMPORT_MAX_*``) are checked while the file is read, never taken from
  what the file says about itself: rows, columns, the length of a line (or of a sheet row), the cells of a
  sheet counted as they are read (its ``<dimension>`` tag is ignored) and the unpacked size of an .xlsx (the
  sizes its zip directory declares, and the bytes really unpacked: a zip bomb). A file over a limit is refused
  as a whole with a message saying which.
* **Line numbers.** Errors name the record's line in the file, the header being line 1 (this is the
  physical line unless a quoted value spans lines). Blank lines are skipped silently.
* **Malformed lines.** A line with more values than the header has columns (an unquoted separator,
  usually) is rejected as a whole: its values cannot be attributed to columns safely.
* **Duplicate keys in the file.** The bulk pipeline rejects a key that appears twice in one batch,
  but a file is many batches. So a first pass over the file (which also checks the encoding, counts
  the rows and finds malformed lines, before anything is written) collects the keys of every record,
  and every record whose key appears more than once anywhere in the file is rejected — all of them,
  as in a batch, so the outcome does not depend on which record came first or where a chunk ends.
* **Dry run.** The whole file runs inside one transaction that is rolled back at the end, so later
  chunks see what earlier ones created (snapshots of customers created earlier in the same file) and
  the counts are those a real run would give. Note that a dry run holds its row locks until it ends.
  Before the rollback, the profile-history rows the run wrote (old → new per field) are read back and
  summarised (``changes_summary``): changed customers per field, those changing an identity field (name,
  ID, mobile) flagged apart, and the first changed records with sensitive values masked.
* **Real run.** Each chunk is its own transaction: good rows are committed chunk by chunk and never
  lost if a later chunk fails; running the same file again is safe (every record is keyed, so what
  was applied comes back as unchanged).
* **Initial load.** A customers file of at least ``INITIAL_LOAD_MIN_ROWS`` records into an empty
  customer table (the day the CRM is first filled from core banking) runs as PostgreSQL's documented
  way of populating a table: in one transaction that locks the customer and profile-history tables,
  their btree indexes, unique constraints (not the primary keys) and foreign keys are dropped, the
  records are checked chunk by chunk with the same parsing and rules and COPYed straight in
  (``bulk.InitialLoad``: every record is new), then the indexes are rebuilt (one sort each, instead of a
  random insertion per row and index), the constraints re-added (one validating pass each instead of a
  check per row; a duplicate CIF would fail here) and the tables analysed. All or nothing: if anything
  fails, the tables are as before, indexes included. Measured in bench/README.md.
"""

from __future__ import annotations

import codecs
import io
import json
import math
import re
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.errors import NotPermitted, ValidationFailed
from core.exports import FORMULA_START, CsvWriter

from . import bulk, services
from .models import Customer, Holding
from .permissions import can

KINDS = ("customers", "snapshots", "holdings")
KIND_LABELS = {"customers": gettext_lazy("Customers"), "snapshots": gettext_lazy("Monthly financial snapshots"),
               "holdings": gettext_lazy("Product holdings")}
KEY_COLUMNS = {"customers": ["cif"], "snapshots": ["cif", "period"], "holdings": ["cif", "account_no"]}
FIELDS = {"customers": bulk.CUSTOMER_FIELDS, "snapshots": bulk.SNAPSHOT_FIELDS, "holdings": bulk.HOLDING_FIELDS}
EXTENSIONS = (".csv", ".xlsx")
CHUNK_SIZE = 20_000
ERRORS_KEPT = 20  # rejected records kept in memory for a preview; all of them go to the rejects file
INITIAL_LOAD_MIN_ROWS = 50_000  # below this, dropping and rebuilding the indexes costs more than it saves
INITIAL_LOAD_TABLES = {"customers": ["customers_customer", "customers_customerchange"]}

# A cell holding exactly one of these (case and surrounding spaces ignored) clears the field; an empty cell keeps it.
CLEAR_MARKERS = frozenset({"<clear>", "<清空>"})
# Fields the clear marker may clear: text that may be blank, and the tags.
CLEARABLE = {
    "customers": {n for n in bulk.CUSTOMER_TEXT if n != "cif" and Customer._meta.get_field(n).blank} | {"tags"},
    "snapshots": set(),
    "holdings": {n for n in bulk.HOLDING_TEXT if Holding._meta.get_field(n).blank},
}

# Chinese column headers → API field names (a header is mapped only if the field belongs to the kind).
HEADER_ALIASES = {
    # keys
    "客户号": "cif", "客户编号": "cif", "客户号码": "cif", "核心客户号": "cif", "cif号": "cif",
    "期间": "period", "数据期间": "period", "统计期间": "period", "月份": "period", "统计月份": "period",
    "账号": "account_no", "账户号": "account_no", "帐号": "account_no", "产品账号": "account_no",
    # customer profile
    "客户名称": "name", "客户姓名": "name", "姓名": "name", "名称": "name",
    "客户类型": "kind", "性别": "gender", "出生日期": "birth_date",
    "证件类型": "id_type", "证件号码": "id_number", "证件号": "id_number", "身份证号": "id_number",
    "身份证号码": "id_number",
    "职业": "occupation", "收入区间": "income_band",
    "统一社会信用代码": "credit_code", "信用代码": "credit_code", "行业": "industry", "企业规模": "company_size",
    "法定代表人": "legal_representative", "联系人": "contact_person",
    "手机号": "mobile", "手机号码": "mobile", "手机": "mobile", "电子邮箱": "email", "邮箱": "email",
    "地址": "address", "联系地址": "address",
    "短信营销同意": "consent_sms", "邮件营销同意": "consent_email", "电话营销同意": "consent_phone",
    "应用内营销同意": "consent_app", "免打扰": "do_not_contact",
    "风险等级": "risk_level", "风险承受能力": "risk_level", "风险评估日期": "risk_assessed_on",
    "生命周期阶段": "lifecycle_stage",
    "所属机构": "branch", "归属机构": "branch", "所属网点": "branch", "机构号": "branch", "机构代码": "branch",
    "客户经理": "rm", "客户经理工号": "rm", "标签": "tags", "备注": "notes",
    # snapshots
    "月末资产": "aum", "资产余额": "aum", "月日均资产": "aum_avg", "日均资产": "aum_avg",
    "存款": "deposits", "存款余额": "deposits", "理财": "wealth", "理财余额": "wealth",
    "基金": "funds", "基金余额": "funds", "贷款": "loans", "贷款余额": "loans",
    "信用卡额度": "credit_limit", "信用卡余额": "credit_used", "信用卡已用额度": "credit_used",
    "交易笔数": "txn_count", "最近交易日期": "last_txn_date", "最后交易日期": "last_txn_date",
    "中间业务收入": "fee_income", "手续费收入": "fee_income", "综合贡献": "contribution", "净贡献": "contribution",
    "持有产品数": "products_held",
    # holdings
    "产品代码": "product_code", "产品名称": "product_name", "产品类型": "product_type",
    "产品风险等级": "product_risk", "余额": "balance", "开户日期": "opened_on", "起息日": "opened_on",
    "到期日": "matures_on", "到期日期": "matures_on", "状态": "status", "账户状态": "status",
}

_OK, _BLANK, _BAD, _DUPLICATE = 0, 1, 2, 3
_SKIPPED_LINE = re.compile(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)")


class InitialLoadFailed(RuntimeError):
    """An initial load stopped at an unexpected error; it wrote nothing (it is all or nothing). The cause is
    chained."""


class ImportFileError(ValidationFailed):
    """The file as a whole cannot be imported (format, encoding, columns); nothing was written."""

    code = "import_file_error"

    def __init__(self, message):
        super().__init__(message, field="file")


@dataclass
class ImportResult:
    kind: str
    dry_run: bool = False
    file_format: str = ""
    encoding: str = ""
    rows_total: int = 0
    rows_done: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[dict] = field(default_factory=list)  # the first ERRORS_KEPT rejected records' errors
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    initial_load: bool = False
    changes: dict = field(default_factory=dict)  # a dry run of customers: what it would change (changes_summary)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("kind", "dry_run", "file_format", "encoding", "rows_total",
                                              "rows_done", "created", "updated", "unchanged", "rejected",
                                              "errors", "warnings", "seconds", "initial_load",
                                              "changes")}


@dataclass(frozen=True)
class Limits:
    """What a file may hold, checked while it is read (never taken from what the file says about itself: an
    xlsx's ``<dimension>`` tag or its zip directory can lie). Each is a setting; see README."""

    rows: int = 2_000_000  # CRM_IMPORT_MAX_ROWS: data rows
    columns: int = 200  # CRM_IMPORT_MAX_COLUMNS
    line_bytes: int = 64 * 1024  # CRM_IMPORT_MAX_LINE_KB: one line of a CSV file, one row of a sheet (characters)
    cells: int = 10_000_000  # CRM_IMPORT_MAX_XLSX_CELLS: cells of an Excel sheet, counted as they are read
    unzipped_bytes: int = 1024 * 1024 * 1024  # CRM_IMPORT_MAX_UNZIPPED_MB: an .xlsx is a zip; its unpacked size

    @classmethod
    def from_settings(cls) -> Limits:
        from django.conf import settings

        d = cls()
        return cls(rows=getattr(settings, "CRM_IMPORT_MAX_ROWS", d.rows),
                   columns=getattr(settings, "CRM_IMPORT_MAX_COLUMNS", d.columns),
                   line_bytes=getattr(settings, "CRM_IMPORT_MAX_LINE_KB", d.line_bytes // 1024) * 1024,
                   cells=getattr(settings, "CRM_IMPORT_MAX_XLSX_CELLS", d.cells),
                   unzipped_bytes=getattr(settings, "CRM_IMPORT_MAX_UNZIPPED_MB", d.unzipped_bytes >> 20) << 20)


def _too_many_rows(limits: Limits) -> ImportFileError:
    return ImportFileError(_("The file has more than %(limit)d data rows: import it in parts of at most %(limit)d "
                             "rows.") % {"limit": limits.rows})


def _too_many_columns(limits: Limits, n: int) -> ImportFileError:
    return ImportFileError(_("The file has %(n)d columns; at most %(limit)d can be read. Remove the columns that "
                             "are not needed.") % {"n": n, "limit": limits.columns})


def _line_too_long(limits: Limits, line: int) -> ImportFileError:
    return ImportFileError(_("Line %(line)d is longer than %(limit)d KB, which no record of the CRM needs: check "
                             "that the file is the right one and its values are separated.")
                           % {"line": line, "limit": limits.line_bytes // 1024})


# --------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------
def _check_line_lengths(path: Path, limits: Limits) -> None:
    """Refuse a CSV file with a line longer than the limit, before pandas parses it (one pass over the bytes with
    numpy: the positions of the line breaks)."""
    line, carried = 1, 0  # carried: bytes of the current line in earlier blocks
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            breaks = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 0x0A)
            if len(breaks):
                lengths = np.diff(breaks, prepend=-1) - 1
                lengths[0] += carried
                over = np.flatnonzero(lengths > limits.line_bytes)
                if len(over):
                    raise _line_too_long(limits, line + int(over[0]))
                line += len(breaks)
                carried = len(block) - 1 - int(breaks[-1])
            else:
                carried += len(block)
            if carried > limits.line_bytes:
                raise _line_too_long(limits, line)


def normalise_header(name) -> str:
    text = "" if name is None else str(name).replace("\ufeff", "").strip()
    if text.isascii():
        return re.sub(r"[\s\-]+", "_", text.lower())
    return HEADER_ALIASES.get(text.lower(), text)


_NOT_LEAD_BYTES = bytes(range(0xC0))


def _decode_error(path: Path, encoding: str) -> tuple[int, int] | None:
    """Decode the whole file in blocks; on failure: (line of the first bad byte, multi-byte chars before it)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    lines = multibyte = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(block)
            except UnicodeDecodeError as e:
                prefix = block[:max(e.start - pending, 0)]
                return lines + prefix.count(b"\n") + 1, multibyte + len(prefix.translate(None, _NOT_LEAD_BYTES))
            lines += block.count(b"\n")
            if multibyte < 4:
                multibyte += len(block.translate(None, _NOT_LEAD_BYTES))
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return lines + 1, multibyte
    return None


def detect_encoding(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFileError(_("The file is in UTF-16: save it as CSV in UTF-8 (or GBK) and upload it again."))
    failure = _decode_error(path, "utf-8")
    if failure is None:
        return "utf-8-sig"
    line, multibyte_before = failure
    if multibyte_before >= 4:  # plenty of valid UTF-8 before the bad byte: a damaged UTF-8 file, not GBK
        raise ImportFileError(_("The file is UTF-8 but line %(line)d contains bytes that are not valid UTF-8.")
                              % {"line": line})
    failure = _decode_error(path, "gb18030")
    if failure is None:
        return "gb18030"
    raise ImportFileError(
        _("The file is neither UTF-8 nor GBK/GB18030 text (the first undecodable byte is on line %(line)d). "
          "Save it as CSV in UTF-8 and upload it again.") % {"line": min(line, failure[0])})


def _separator(path: Path, encoding: str) -> str:
    with open(path, encoding=encoding, errors="replace", newline="") as f:
        first = f.readline()
    counts = {sep: first.count(sep) for sep in (",", "\t", ";", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] and counts[","] == 0 else ","


@dataclass
class Table:
    """An opened, checked file: header mapping, record status by line, the reading of chunks."""

    path: Path
    kind: str
    file_format: str
    encoding: str = ""
    sep: str = ","
    n_columns: int = 0
    columns: dict[int, str] = field(default_factory=dict)  # position → API field name (known columns only)
    warnings: list[str] = field(default_factory=list)
    status: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))  # by line - 2
    bad_lines: dict[int, tuple[int, int]] = field(default_factory=dict)  # line → (expected, saw)
    duplicates: dict[int, str] = field(default_factory=dict)  # line → reason
    frame: pd.DataFrame | None = None  # xlsx only: the whole sheet
    header: list[str] = field(default_factory=list)  # the first row as in the file

    @property
    def rows_total(self) -> int:
        return int((self.status != _BLANK).sum())

    def _csv_reader(self, chunk_size: int, on_bad_lines: str):
        return pd.read_csv(self.path, encoding=self.encoding, sep=self.sep, header=None, skiprows=1,
                           names=list(range(self.n_columns)), dtype=object, na_filter=False,
                           skip_blank_lines=False, on_bad_lines=on_bad_lines, chunksize=chunk_size,
                           engine="c")

    def raw_chunks(self, chunk_size: int) -> Iterator[tuple[np.ndarray, pd.DataFrame]]:
        """(line numbers, frame of every column by position) for every parsed record, malformed lines left out."""
        if self.frame is not None:
            for start in range(0, len(self.frame), chunk_size):
                part = self.frame.iloc[start:start + chunk_size]
                yield np.arange(start + 2, start + 2 + len(part)), part
            return
        bad = np.array(sorted(self.bad_lines), dtype=np.int64)
        # Records kept before malformed line j: bad[j] - 2 - j; shift positions past the malformed lines.
        kept_before_bad = bad - 2 - np.arange(len(bad))
        position = 0
        with self._csv_reader(chunk_size, "skip") as reader:
            for chunk in reader:
                p = np.arange(position, position + len(chunk))
                position += len(chunk)
                yield p + 2 + np.searchsorted(kept_before_bad, p, side="right"), chunk

    def chunks(self, chunk_size: int) -> Iterator[tuple[np.ndarray, np.ndarray, pd.DataFrame, pd.DataFrame]]:
        """(line numbers, status of each, frame with API column names, frame of every column as in the file) for
        every parsed, non-blank record."""
        for lines, raw in self.raw_chunks(chunk_size):
            status = self.status[lines - 2]
            keep = status != _BLANK
            frame = raw.loc[keep, list(self.columns)].rename(columns=self.columns).astype(object)
            yield lines[keep], status[keep], frame.reset_index(drop=True), raw.loc[keep].reset_index(drop=True)


def _header_mapping(table: Table, header: list) -> None:
    allowed = set(FIELDS[table.kind])
    seen: dict[str, str] = {}
    unknown, unnamed = [], 0
    for position, raw in enumerate(header):
        raw_text = "" if raw is None or (isinstance(raw, float) and math.isnan(raw)) else str(raw).strip()
        if not raw_text.replace("\ufeff", ""):
            unnamed += 1
            continue
        name = normalise_header(raw_text)
        if name not in allowed:
            unknown.append(raw_text)
            continue
        if name in seen:
            raise ImportFileError(_("The columns “%(a)s” and “%(b)s” both give %(field)s: keep one of them.")
                                  % {"a": seen[name], "b": raw_text, "field": name})
        seen[name] = raw_text
        table.columns[position] = name
    missing = [k for k in KEY_COLUMNS[table.kind] if k not in seen]
    if missing:
        aliases = {k: [a for a, v in HEADER_ALIASES.items() if v == k] for k in missing}
        raise ImportFileError(
            _("The file has no %(columns)s column: a %(kind)s file needs %(keys)s in its first row "
              "(also accepted: %(aliases)s).")
            % {"columns": ", ".join(missing), "kind": KIND_LABELS[table.kind],
               "keys": ", ".join(KEY_COLUMNS[table.kind]),
               "aliases": "; ".join(f"{k}: {', '.join(v)}" for k, v in aliases.items())})
    if unknown:
        table.warnings.append(_("These columns are not fields of this kind of file and were ignored: %(columns)s.")
                              % {"columns": ", ".join(unknown)})
    if unnamed:
        table.warnings.append(_("%(n)d column(s) without a header were ignored.") % {"n": unnamed})


def _key_strings(frame: pd.DataFrame, kind: str) -> pd.Series:
    """The record keys as the bulk pipeline will see them (CIF upper-cased, values stripped)."""
    parts = []
    for k in KEY_COLUMNS[kind]:
        s = frame[k].astype(str).str.strip()
        if k == "cif":
            s = s.str.upper()
        elif k == "period":
            s = s.str.slice(0, 10)
        parts.append(s)
    key = parts[0]
    for s in parts[1:]:
        key = key + "\x1f" + s
    # A record with an empty key part is rejected by the pipeline anyway: never call it a duplicate.
    complete = parts[0] != ""
    for s in parts[1:]:
        complete &= s != ""
    return key.where(complete, None)


def _mark_duplicates(table: Table, lines: np.ndarray, keys: pd.Series) -> None:
    keys = keys.reset_index(drop=True)
    dup = (keys.duplicated(keep=False) & keys.notna()).to_numpy()
    if not dup.any():
        return
    groups: dict[str, list[int]] = {}
    for key, line in zip(keys[dup], lines[dup]):
        groups.setdefault(key, []).append(int(line))
    for group in groups.values():
        shown = ", ".join(str(n) for n in group[:5]) + (" …" if len(group) > 5 else "")
        reason = _("This key appears more than once in the file (lines %(lines)s); none of them was applied.") % {
            "lines": shown}
        for line in group:
            table.duplicates[line] = reason
            table.status[line - 2] = _DUPLICATE


def _scan_csv(table: Table, chunk_size: int, limits: Limits) -> None:
    _check_line_lengths(table.path, limits)
    table.encoding = detect_encoding(table.path)
    table.sep = _separator(table.path, table.encoding)
    try:
        header = pd.read_csv(table.path, encoding=table.encoding, sep=table.sep, header=None, nrows=1, dtype=str,
                             na_filter=False, engine="c")
    except (pd.errors.EmptyDataError, pd.errors.ParserError):
        raise ImportFileError(_("The file is empty: the first row must name the columns.")) from None
    header_values = list(header.iloc[0]) if len(header) else []
    if len(header_values) > limits.columns:
        raise _too_many_columns(limits, len(header_values))
    table.n_columns = len(header_values)
    table.header = ["" if v is None else str(v) for v in header_values]
    _header_mapping(table, header_values)

    key_positions = [p for p, name in table.columns.items() if name in KEY_COLUMNS[table.kind]]
    key_names = [table.columns[p] for p in key_positions]

    statuses, all_keys, rows = [], [], 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        try:
            # (every column is read: with ``usecols`` pandas no longer reports lines with too many values)
            with table._csv_reader(chunk_size, "warn") as reader:
                for chunk in reader:
                    rows += len(chunk)
                    if rows > limits.rows:
                        raise _too_many_rows(limits)
                    keys = chunk[key_positions].set_axis(key_names, axis=1)
                    all_keys.append(keys)
                    # blank: every cell empty; only rows without any key can be (one compare per cell is slow)
                    blank = (keys == "").all(axis=1).to_numpy(copy=True) if key_positions else np.ones(len(chunk), bool)
                    if blank.any():
                        blank[blank] = (chunk[blank] == "").all(axis=1).to_numpy()
                    statuses.append(blank)
        except pd.errors.ParserError as e:
            raise ImportFileError(_("The file is not valid CSV: %(error)s") % {"error": str(e).strip()}) from None
    for w in caught:
        for m in _SKIPPED_LINE.finditer(str(w.message)):
            table.bad_lines[int(m[1])] = (int(m[2]), int(m[3]))
    blank = np.concatenate(statuses) if statuses else np.zeros(0, dtype=bool)
    bad = np.array(sorted(table.bad_lines), dtype=np.int64)
    total = len(blank) + len(bad)
    table.status = np.zeros(total, dtype=np.int8)
    kept_lines = np.setdiff1d(np.arange(2, total + 2), bad, assume_unique=True)
    table.status[kept_lines[blank] - 2] = _BLANK
    table.status[bad - 2] = _BAD
    if all_keys:
        keys = pd.concat(all_keys, ignore_index=True)
        not_blank = ~blank
        _mark_duplicates(table, kept_lines[not_blank], _key_strings(keys[not_blank], table.kind))


class _CountingZip(zipfile.ZipFile):
    """A zip archive that counts the bytes it unpacks and stops past a limit: the sizes in a zip's directory are
    checked first, and this counts what is really read (a zip bomb can lie in its directory)."""

    def __init__(self, path, *, limit: int):
        super().__init__(path)
        self.limit, self.unpacked = limit, 0

    def open(self, name, mode="r", pwd=None, **kwargs):
        handle = super().open(name, mode, pwd, **kwargs)
        return _CountedReader(handle, self) if mode == "r" else handle


class _UnpackedTooLarge(Exception):
    pass


class _CountedReader(io.RawIOBase):
    def __init__(self, handle, archive: _CountingZip):
        self.handle, self.archive = handle, archive

    def readable(self):
        return True

    def _count(self, data: bytes) -> bytes:
        self.archive.unpacked += len(data)
        if self.archive.unpacked > self.archive.limit:
            raise _UnpackedTooLarge
        return data

    def read(self, size=-1):
        return self._count(self.handle.read(size))

    def read1(self, size=-1):
        return self._count(self.handle.read1(size))

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self):
        self.handle.close()
        super().close()


def _cell_text(value) -> str:
    """A cell as the text a CSV file would hold (pandas' reading of a sheet with ``dtype=str``)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_sheet(path: Path, limits: Limits) -> list[list[str]]:
    """The first sheet's rows as text, streamed (openpyxl read-only) with every limit checked while reading: the
    zip's unpacked size (declared, then counted), the real number of cells, columns, rows and row length. The
    sheet's ``<dimension>`` tag is ignored (``reset_dimensions``): a false one would pad every row to 16,384
    columns, or cut rows off."""
    from openpyxl.reader.excel import ExcelReader

    unreadable = _("This is not a readable Excel .xlsx file (%(error)s).")
    try:
        with zipfile.ZipFile(path) as archive:
            declared = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as e:
        raise ImportFileError(unreadable % {"error": type(e).__name__}) from None
    too_large = ImportFileError(_("The Excel file unpacks to more than %(limit)d MB; save it as CSV (or split it) "
                                  "and upload it again.") % {"limit": limits.unzipped_bytes >> 20})
    if declared > limits.unzipped_bytes:
        raise too_large
    rows: list[list[str]] = []
    cells = 0
    try:
        reader = ExcelReader(str(path), read_only=True, data_only=True)
        reader.archive.close()
        reader.archive = _CountingZip(path, limit=limits.unzipped_bytes)
        try:
            reader.read()
            book = reader.wb
            if not book.worksheets:
                return rows
            sheet = book.worksheets[0]
            sheet.reset_dimensions()
            for values in sheet.iter_rows(values_only=True):
                cells += len(values)
                if cells > limits.cells:
                    raise ImportFileError(
                        _("The Excel sheet has more than %(limit)d cells (counted while reading it); save it as CSV "
                          "(or split it) and upload it again.") % {"limit": limits.cells})
                if len(values) > limits.columns:
                    raise _too_many_columns(limits, len(values))
                if len(rows) > limits.rows:  # the header is one of the rows
                    raise _too_many_rows(limits)
                row = [_cell_text(v) for v in values]
                if sum(map(len, row)) > limits.line_bytes:
                    raise _line_too_long(limits, len(rows) + 1)
                rows.append(row)
        finally:
            reader.archive.close()
    except _UnpackedTooLarge:
        raise too_large from None
    except ImportFileError:
        raise
    except Exception as e:  # noqa: BLE001  openpyxl raises many kinds (zip, XML, key errors) for a damaged file
        raise ImportFileError(unreadable % {"error": type(e).__name__}) from None
    return rows


def _scan_xlsx(table: Table, limits: Limits) -> None:
    table.encoding = ""
    rows = _read_sheet(table.path, limits)
    while rows and not any(v.strip() for v in rows[-1]):  # trailing blank rows
        rows.pop()
    if not rows:
        raise ImportFileError(_("The file is empty: the first row must name the columns."))
    width = max(map(len, rows))
    frame = pd.DataFrame([row + [""] * (width - len(row)) for row in rows], dtype=object)
    table.n_columns = frame.shape[1]
    table.header = list(frame.iloc[0])
    _header_mapping(table, table.header)
    data = frame.iloc[1:].reset_index(drop=True)
    data.columns = list(range(table.n_columns))
    table.frame = data
    blank = (data.astype(str).apply(lambda s: s.str.strip()) == "").all(axis=1).to_numpy()
    table.status = np.where(blank, _BLANK, _OK).astype(np.int8)
    lines = np.arange(2, len(data) + 2)
    keys = data[list(table.columns)].rename(columns=table.columns)
    _mark_duplicates(table, lines[~blank], _key_strings(keys[~blank], table.kind))
    if len(data) > 50_000:
        table.warnings.append(_("Excel files are read whole, which is slow for large files: "
                                "export large files as CSV instead."))


def open_table(path, *, kind: str, chunk_size: int = CHUNK_SIZE, limits: Limits | None = None) -> Table:
    """Check a file completely (limits, format, encoding, header, malformed lines, duplicate keys) without writing.
    ``limits``: by default from the settings."""
    if kind not in KINDS:
        raise ValueError(kind)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in EXTENSIONS:
        raise ImportFileError(_("Upload a .csv or .xlsx file."))
    if not path.exists():
        raise ImportFileError(_("The file %(name)s does not exist.") % {"name": path.name})
    table = Table(path=path, kind=kind, file_format=suffix[1:])
    limits = limits or Limits.from_settings()
    if suffix == ".csv":
        _scan_csv(table, chunk_size, limits)
    else:
        _scan_xlsx(table, limits)
    if table.rows_total == 0:
        table.warnings.append(_("The file has no data rows."))
    return table


# --------------------------------------------------------------------------------------------------
# Importing
# --------------------------------------------------------------------------------------------------
_SPECIAL_FIRST = ("<", "'")


def _is_clear_marker(value) -> bool:
    return isinstance(value, str) and value.strip().lower() in CLEAR_MARKERS


def _blank_to_missing(frame: pd.DataFrame, kind: str) -> tuple[pd.DataFrame, dict[int, str]]:
    """Empty cells → None ("not provided", the stored value is kept); the clear marker → "" (cleared) in the fields
    that may be cleared. Returns the frame and, by row position, the first field where the marker cannot clear."""
    clearable = CLEARABLE[kind]
    refused: dict[int, str] = {}
    for c in frame.columns:
        values = frame[c].to_numpy(dtype=object)
        if set(map(type, values)) <= {str}:  # a CSV column: C-level passes
            empty = (values == "") | np.fromiter(map(str.isspace, values), dtype=bool, count=len(values))
            # the marker starts with "<" (after spaces), a neutralised formula with "'": one C-level pass over the
            # column's text first (the usual column has neither), the per-value test only if needed
            joined = "".join(values)
            maybe = (np.fromiter((v.lstrip()[:1] in _SPECIAL_FIRST for v in values), dtype=bool, count=len(values))
                     if "<" in joined or "'" in joined else np.zeros(len(values), dtype=bool))
        else:
            empty = bulk._missing(values) | np.fromiter(
                (isinstance(v, str) and (not v or v.isspace()) for v in values), dtype=bool, count=len(values))
            maybe = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=len(values))
        marker = np.zeros(len(values), dtype=bool)
        unquoted = {}
        for i in np.flatnonzero(maybe):
            v = values[i]
            marker[i] = _is_clear_marker(v)
            if v[:1] == "'" and v[1:2] and v[1:2] in FORMULA_START:
                unquoted[i] = v[1:]  # written neutralised by our own writer (a rejected-rows file): as it was
        if empty.any() or marker.any() or unquoted:
            values = values.copy()
            for i, v in unquoted.items():
                values[i] = v
            values[empty] = None
            if c in clearable:
                values[marker] = ""
            else:
                for i in np.flatnonzero(marker):
                    refused.setdefault(int(i), c)
                values[marker] = None
            frame[c] = pd.Series(values, index=frame.index, dtype=object)
    return frame, refused


class _Rejects:
    """Counts rejected records, keeps the first few, and writes every rejected record to an optional CSV file
    (through the safe writer, ``core.exports``) as it was in the uploaded file — the same header and
    columns, so it can be fixed and uploaded again — followed by the line, the fields and the reasons (a record
    rejected for several fields is one row). A line that could not be read (too many values) has empty columns."""

    def __init__(self, kind: str, out, keep: int, header: list[str]):
        self.kind, self.keep, self.width = kind, keep, len(header)
        self.kept: list[dict] = []
        self.kept_lines: set[int] = set()
        self.writer = CsvWriter(out) if out is not None else None
        if self.writer:
            self.writer.writerow([*header, _("line"), _("field"), _("reason")])

    def add(self, line: int, key: dict, field_name: str, reason: str) -> None:
        line, reason = int(line), truncate(str(reason))  # a reason may quote the value: cut long ones
        key = {k: truncate(v) for k, v in key.items()}
        if line in self.kept_lines or len(self.kept_lines) < self.keep:
            self.kept_lines.add(line)
            self.kept.append({"line": line, "key": key, "field": field_name, "reason": reason})

    def write(self, line: int, values: list | None, errors: list[tuple[str, str]]) -> None:
        if self.writer:
            values = list(values) if values is not None else [""] * self.width
            self.writer.writerow([*values, line, "; ".join(dict.fromkeys(f for f, _r in errors)),
                                  "; ".join(truncate(str(r)) for _f, r in errors)])


def _key_text(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value).strip()


@contextmanager
def _indexes_deferred(tables: list[str]):
    """Inside the caller's transaction: drop the tables' secondary indexes, unique constraints (the primary keys
    stay) and foreign keys, let the caller load, then recreate them from their own definitions
    (``pg_get_indexdef`` / ``pg_get_constraintdef``): one sort per index and one validating join per key instead
    of an index insertion and a check per row. A duplicate that slipped in fails the re-added constraint."""
    with connection.cursor() as cur:
        # GIN indexes stay: new entries go to their pending list at append cost (fastupdate; measured: COPY of
        # 100,000 customers as fast with both GIN indexes as without), while a rebuild of the name-bigram index
        # alone takes 3-4 s of the 1M-row load.
        cur.execute("SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                    "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam "
                    "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisunique AND NOT i.indisprimary "
                    "AND am.amname <> 'gin' ORDER BY 1", [tables])
        indexes = cur.fetchall()
        cur.execute("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('u', 'f') "
                    "ORDER BY contype DESC, 1, 2", [tables])
        constraints = cur.fetchall()  # unique constraints first: re-added before the foreign keys
        for name, _ddl in indexes:
            cur.execute(f"DROP INDEX {name}")
        for table, name, _ddl in constraints:
            cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    yield
    with connection.cursor() as cur:
        cur.execute("SET LOCAL maintenance_work_mem = '1GB'")  # each index sorted in memory
        for _name, ddl in indexes:
            cur.execute(ddl)
        for table, name, ddl in constraints:
            cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {ddl}')
        for table in tables:
            cur.execute(f"ANALYZE {table}")


@contextmanager
def _initial_load(kind: str, rows_total: int, wanted: bool | None, actor):
    """Yields a ``bulk.InitialLoad`` when this import runs as an initial load (see the module docstring), else
    None."""
    tables = INITIAL_LOAD_TABLES.get(kind)
    if not tables or wanted is False or (wanted is None and rows_total < INITIAL_LOAD_MIN_ROWS):
        yield None
        return
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")
            cur.execute(f"SELECT EXISTS (SELECT 1 FROM {tables[0]})")
            empty = not cur.fetchone()[0]
        if empty:
            with _indexes_deferred(tables):
                loader = bulk.InitialLoad(actor=actor, source="import", rows_total=rows_total)
                try:
                    yield loader
                except BaseException:
                    loader.stop()  # the thread's own error, if any, must not hide this one
                    raise
                loader.close()
            return
    yield None  # not empty: an ordinary import, chunk by chunk (the lock ended with the transaction)


def import_file(path, *, kind: str, actor, today: date, dry_run: bool = False, chunk_size: int = CHUNK_SIZE,
                on_progress: Callable[[int, int | None], None] | None = None, rejects_out=None,
                keep_errors: int = ERRORS_KEPT, table: Table | None = None,
                initial_load: bool | None = None, limits: Limits | None = None) -> ImportResult:
    """Import a customers / snapshots / holdings file through the bulk pipeline; see the module docstring.

    ``rejects_out``: a text file receiving every rejected record as CSV: its columns as in the file, then line,
    fields and reasons (``_Rejects``).
    ``on_progress(rows_done, rows_total)`` is called after every chunk. ``initial_load``: None decides by
    itself (a large customers file into an empty table), False never, True whenever the table is empty.
    Raises ``ImportFileError`` (nothing written) when the file as a whole cannot be imported,
    ``NotPermitted`` when the actor may not import.
    """
    if not can(actor, "customers.bulk_upsert"):
        raise NotPermitted()
    started = time.monotonic()
    table = table or open_table(path, kind=kind, chunk_size=chunk_size, limits=limits)
    result = ImportResult(kind=kind, dry_run=dry_run, file_format=table.file_format,
                          encoding={"utf-8-sig": "UTF-8", "gb18030": "GB18030"}.get(table.encoding, ""),
                          rows_total=table.rows_total, warnings=list(table.warnings))
    rejects = _Rejects(kind, rejects_out, keep_errors, table.header)
    key_field = KEY_COLUMNS[kind][-1]

    bad_lines = sorted(table.bad_lines)

    def malformed(up_to: int | None) -> list[tuple]:
        entries = []
        while bad_lines and (up_to is None or bad_lines[0] <= up_to):
            line = bad_lines.pop(0)
            expected, saw = table.bad_lines[line]
            entries.append((line, {}, "non_field_errors",
                            _("This line has %(saw)d values but the header has %(expected)d columns "
                              "(a separator inside an unquoted value?); it was not read.")
                            % {"saw": saw, "expected": expected}))
        result.rejected += len(entries)
        result.rows_done += len(entries)
        return entries

    def report(entries: list[tuple], lines=None, raw: pd.DataFrame | None = None) -> None:
        entries = sorted(entries, key=lambda e: e[0])  # stable: a record's errors keep their order
        for entry in entries:
            rejects.add(*entry)
        by_line: dict[int, list[tuple[str, str]]] = {}
        for line, _key, name, reason in entries:
            by_line.setdefault(int(line), []).append((name, reason))
        for line, errors in by_line.items():
            at = int(np.searchsorted(lines, line)) if lines is not None and len(lines) else -1
            values = (None if at < 0 or at >= len(lines) or lines[at] != line else
                      ["" if v is None or (isinstance(v, float) and math.isnan(v)) else v
                       for v in raw.iloc[at].tolist()])
            rejects.write(line, values, errors)
        if on_progress is not None:
            on_progress(result.rows_done, result.rows_total)

    def run(loader=None):
        for lines, status, frame, raw in table.chunks(chunk_size):
            if not len(lines):
                continue
            entries = malformed(int(lines[-1]))
            duplicate = status == _DUPLICATE
            for i in np.flatnonzero(duplicate):
                entries.append((int(lines[i]), {k: _key_text(frame.at[i, k]) for k in KEY_COLUMNS[kind]},
                                key_field, table.duplicates[int(lines[i])]))
            result.rejected += int(duplicate.sum())
            if not duplicate.all():
                good_lines = lines[~duplicate]
                records, refused = _blank_to_missing(frame.loc[~duplicate].reset_index(drop=True), kind)
                if refused:  # the clear marker where a value cannot be cleared: the record is rejected
                    for i, name in refused.items():
                        entries.append((int(good_lines[i]), {k: _key_text(records.at[i, k])
                                                             for k in KEY_COLUMNS[kind]}, name,
                                        _("This field cannot be cleared (the cell holds the clear marker %(marker)s); "
                                          "leave the cell empty to keep the stored value.") % {"marker": "<clear>"}))
                    keep = np.ones(len(records), dtype=bool)
                    keep[list(refused)] = False
                    result.rejected += len(refused)
                    good_lines = good_lines[keep]
                    records = records.loc[keep].reset_index(drop=True)
                batch = services.bulk_upsert(kind=kind, records=records, actor=actor, today=today,
                                             source="import", offset=0, initial_load=loader)
                result.created += batch.created
                result.updated += batch.updated
                result.unchanged += batch.unchanged
                result.rejected += batch.rejected
                entries.extend((int(good_lines[e["index"]]), e["key"], e["field"], e["reason"])
                               for e in batch.errors)
            result.rows_done += len(lines)
            report(entries, lines, raw)
        if bad_lines:  # malformed lines after the last record
            report(malformed(None))

    if dry_run:
        with transaction.atomic():
            since = _last_change_id() if kind == "customers" else None
            run()
            if since is not None:
                result.changes = changes_summary(since=since, actor=actor)
            transaction.set_rollback(True)
    else:
        try:
            with _initial_load(kind, result.rows_total, initial_load, actor) as loader:
                result.initial_load = loader is not None
                run(loader)
        except Exception as e:
            if result.initial_load:
                raise InitialLoadFailed(f"The initial load wrote nothing: {e}") from e
            raise
    result.errors = rejects.kept
    result.seconds = round(time.monotonic() - started, 3)
    return result


# --------------------------------------------------------------------------------------------------
# What a dry run would change
# --------------------------------------------------------------------------------------------------
IDENTITY_FIELDS = ("name", "id_type", "id_number", "credit_code", "mobile")  # who the customer is
CHANGES_SHOWN = 20  # changed records kept, and as many changing an identity field
VALUE_SHOWN = 200  # characters of a value shown (notes may hold 2,000)


def truncate(value, limit: int = VALUE_SHOWN):
    """A text echoed back to the user (a value, a reason quoting one) cut to ``limit`` characters with an ellipsis."""
    if isinstance(value, str) and len(value) > limit:
        return value[:limit - 1] + "…"
    return value


def _last_change_id() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM customers_customerchange")
        return cur.fetchone()[0]


def changes_summary(*, since: int, actor, shown: int = CHANGES_SHOWN) -> dict:
    """What the import run so far in this transaction changed, from the profile-history rows it wrote (old → new
    per field; the dry run rolls them back afterwards): changed records per field, records that change an
    identity field, and the first ``shown`` changed records and identity-changing records, with sensitive values
    masked (``rules.MASKERS``), branches and RMs by name and long values cut. Counted in SQL, so a file of a
    million rows costs two aggregate queries, not a million Python objects."""
    from org.models import Branch, User

    from .rules import MASKERS

    mine = ("ch.id > %(since)s AND ch.source = 'import' AND NOT ch.created AND ch.actor_id = %(actor)s "
            "AND ch.at = now()")  # now(): the transaction's start, the same for every row it wrote
    params = {"since": since, "actor": actor.pk, "identity": list(IDENTITY_FIELDS), "shown": shown}
    with connection.cursor() as cur:
        cur.execute(f"SELECT f, count(*) FROM customers_customerchange ch, jsonb_object_keys(ch.changes) f "
                    f"WHERE {mine} GROUP BY f", params)
        per_field = dict(cur.fetchall())
        cur.execute(f"SELECT count(*), count(*) FILTER (WHERE ch.changes ?| %(identity)s) "
                    f"FROM customers_customerchange ch WHERE {mine}", params)
        records, identity_records = cur.fetchone()
        examples = {}
        for name, extra in (("examples", ""), ("identity_examples", "AND ch.changes ?| %(identity)s")):
            cur.execute(f"SELECT c.cif, ch.changes FROM customers_customerchange ch "
                        f"JOIN customers_customer c ON c.id = ch.customer_id WHERE {mine} {extra} "
                        f"ORDER BY ch.id LIMIT %(shown)s", params)
            examples[name] = [(cif, json.loads(changes) if isinstance(changes, str) else changes)
                              for cif, changes in cur.fetchall()]
    ids = {"branch_id": set(), "rm_id": set()}
    for rows in examples.values():
        for _cif, changes in rows:
            for f, found in ids.items():
                found.update(v for v in changes.get(f, []) if v)
    names = {"branch_id": dict(Branch.objects.filter(pk__in=ids["branch_id"]).values_list("pk", "name")),
             "rm_id": {u.pk: str(u) for u in User.objects.filter(pk__in=ids["rm_id"])}}

    def shown_value(f, value):
        if f in names and value is not None:
            return names[f].get(value, value)
        if f in MASKERS and isinstance(value, str):
            return MASKERS[f](value)
        if isinstance(value, list):
            return truncate("; ".join(map(str, value)))
        return truncate(value)

    def record(cif, changes):
        return {"cif": cif, "identity": any(f in changes for f in IDENTITY_FIELDS),
                "changes": [[f, shown_value(f, old), shown_value(f, new)] for f, (old, new) in changes.items()]}

    return {"records": records, "identity_records": identity_records,
            "fields": dict(sorted(per_field.items(), key=lambda kv: (-kv[1], kv[0]))),
            **{name: [record(*row) for row in rows] for name, rows in examples.items()}}
