"""Reading an import file: CSV or Excel checked as a whole (limits, format, encoding, header, malformed lines,
duplicate keys) before anything is written, then read in chunks.

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
"""

from __future__ import annotations

import codecs
import math
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from django.utils.translation import gettext as _

from .kinds import KINDS
from .limits import ImportFileError, Limits, line_too_long, too_many_columns, too_many_rows
from .xlsx import read_sheet

EXTENSIONS = (".csv", ".xlsx")
CHUNK_SIZE = 20_000

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
    "贷款利息": "loan_interest", "贷款利息收入": "loan_interest",
    "持有产品数": "products_held",
    # holdings
    "产品代码": "product_code", "产品名称": "product_name", "产品类型": "product_type",
    "产品风险等级": "product_risk", "余额": "balance", "开户日期": "opened_on", "起息日": "opened_on",
    "到期日": "matures_on", "到期日期": "matures_on", "状态": "status", "账户状态": "status",
}

OK, BLANK, BAD, DUPLICATE = 0, 1, 2, 3  # a record's status in the file
_SKIPPED_LINE = re.compile(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)")


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
                    raise line_too_long(limits, line + int(over[0]))
                line += len(breaks)
                carried = len(block) - 1 - int(breaks[-1])
            else:
                carried += len(block)
            if carried > limits.line_bytes:
                raise line_too_long(limits, line)


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
        return int((self.status != BLANK).sum())

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
            keep = status != BLANK
            frame = raw.loc[keep, list(self.columns)].rename(columns=self.columns).astype(object)
            yield lines[keep], status[keep], frame.reset_index(drop=True), raw.loc[keep].reset_index(drop=True)


def _header_mapping(table: Table, header: list) -> None:
    allowed = set(KINDS[table.kind].fields)
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
    missing = [k for k in KINDS[table.kind].keys if k not in seen]
    if missing:
        aliases = {k: [a for a, v in HEADER_ALIASES.items() if v == k] for k in missing}
        raise ImportFileError(
            _("The file has no %(columns)s column: a %(kind)s file needs %(keys)s in its first row "
              "(also accepted: %(aliases)s).")
            % {"columns": ", ".join(missing), "kind": KINDS[table.kind].label,
               "keys": ", ".join(KINDS[table.kind].keys),
               "aliases": "; ".join(f"{k}: {', '.join(v)}" for k, v in aliases.items())})
    if unknown:
        table.warnings.append(_("These columns are not fields of this kind of file and were ignored: %(columns)s.")
                              % {"columns": ", ".join(unknown)})
    if unnamed:
        table.warnings.append(_("%(n)d column(s) without a header were ignored.") % {"n": unnamed})


def _key_strings(frame: pd.DataFrame, kind: str) -> pd.Series:
    """The record keys as the bulk pipeline will see them (CIF upper-cased, values stripped)."""
    parts = []
    for k in KINDS[kind].keys:
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
            table.status[line - 2] = DUPLICATE


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
        raise too_many_columns(limits, len(header_values))
    table.n_columns = len(header_values)
    table.header = ["" if v is None else str(v) for v in header_values]
    _header_mapping(table, header_values)

    key_positions = [p for p, name in table.columns.items() if name in KINDS[table.kind].keys]
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
                        raise too_many_rows(limits)
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
    table.status[kept_lines[blank] - 2] = BLANK
    table.status[bad - 2] = BAD
    if all_keys:
        keys = pd.concat(all_keys, ignore_index=True)
        not_blank = ~blank
        _mark_duplicates(table, kept_lines[not_blank], _key_strings(keys[not_blank], table.kind))


def _scan_xlsx(table: Table, limits: Limits) -> None:
    table.encoding = ""
    rows = read_sheet(table.path, limits)
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
    table.status = np.where(blank, BLANK, OK).astype(np.int8)
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


