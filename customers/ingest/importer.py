"""File import from core banking: customers, monthly snapshots and product holdings from CSV or Excel.

The file is checked as a whole and read in chunks (``files``); every chunk goes through the same set-based
pipeline as the bulk API (the kind's upsert): the same parsing, rules, scope checks, audit rows and per-record
errors. This module deals with what is particular to importing a file:

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
* **Dry run.** The whole file runs inside one transaction that is rolled back at the end, so later
  chunks see what earlier ones created (snapshots of customers created earlier in the same file) and
  the counts are those a real run would give. Note that a dry run holds its row locks until it ends.
  Before the rollback, the profile-history rows the run wrote (old → new per field) are read back and
  summarised (``changes.changes_summary``).
* **Real run.** Each chunk is its own transaction: good rows are committed chunk by chunk and never
  lost if a later chunk fails; running the same file again is safe (every record is keyed, so what
  was applied comes back as unchanged).
* **Initial load.** A customers file of at least ``INITIAL_LOAD_MIN_ROWS`` records into an empty customer
  table runs as an initial load (``initial_load``): all or nothing, indexes rebuilt at the end.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import NotPermitted
from core.exports import FORMULA_START, CsvWriter
from org.permissions import can

from .changes import changes_summary, last_change_id, truncate
from .columns import absent
from .files import CHUNK_SIZE, DUPLICATE, Table, open_table
from .initial_load import InitialLoadFailed, initial_load_if_due
from .kinds import CUSTOMERS, KINDS
from .limits import Limits

ERRORS_KEPT = 20  # rejected records kept in memory for a preview; all of them go to the rejects file
# A cell holding exactly one of these (case and surrounding spaces ignored) clears the field; an empty cell keeps it.
CLEAR_MARKERS = frozenset({"<clear>", "<清空>"})


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


_SPECIAL_FIRST = ("<", "'")


def _is_clear_marker(value) -> bool:
    return isinstance(value, str) and value.strip().lower() in CLEAR_MARKERS


def _blank_to_missing(frame: pd.DataFrame, kind: str) -> tuple[pd.DataFrame, dict[int, str]]:
    """Empty cells → None ("not provided", the stored value is kept); the clear marker → "" (cleared) in the fields
    that may be cleared. Returns the frame and, by row position, the first field where the marker cannot clear."""
    clearable = KINDS[kind].clearable
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
            empty = absent(values) | np.fromiter(
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
    run = _FileRun(table, result, _Rejects(kind, rejects_out, keep_errors, table.header), actor=actor, today=today,
                   on_progress=on_progress)
    description = KINDS[kind]
    if dry_run:
        with transaction.atomic():
            since = last_change_id() if description is CUSTOMERS else None
            run.all_chunks(chunk_size)
            if since is not None:
                result.changes = changes_summary(since=since, actor=actor)
            transaction.set_rollback(True)
    else:
        try:
            with initial_load_if_due(result.rows_total, initial_load, actor, due=description is CUSTOMERS) as loader:
                result.initial_load = loader is not None
                run.all_chunks(chunk_size, loader)
        except Exception as e:
            if result.initial_load:
                raise InitialLoadFailed(f"The initial load wrote nothing: {e}") from e
            raise
    result.errors = run.rejects.kept
    result.seconds = round(time.monotonic() - started, 3)
    return result


class _FileRun:
    """One pass over an opened file's chunks: each chunk's records through the kind's upsert (or the initial load),
    the counts into ``result``, every rejected record (a malformed line, a key twice in the file, a clear marker
    where nothing may be cleared, a record the pipeline refused) to ``rejects`` in line order."""

    def __init__(self, table: Table, result: ImportResult, rejects: _Rejects, *, actor, today: date, on_progress):
        self.table, self.result, self.rejects = table, result, rejects
        self.actor, self.today, self.on_progress = actor, today, on_progress
        self.kind = KINDS[table.kind]
        self.bad_lines = sorted(table.bad_lines)

    def all_chunks(self, chunk_size: int, loader=None) -> None:
        for lines, status, frame, raw in self.table.chunks(chunk_size):
            if len(lines):
                self._chunk(lines, status, frame, raw, loader)
        if self.bad_lines:  # malformed lines after the last record
            self._report(self._malformed(None))

    def _key(self, frame: pd.DataFrame, i: int) -> dict:
        return {k: _key_text(frame.at[i, k]) for k in self.kind.keys}

    def _chunk(self, lines, status, frame: pd.DataFrame, raw: pd.DataFrame, loader) -> None:
        result = self.result
        entries = self._malformed(int(lines[-1]))
        duplicate = status == DUPLICATE
        for i in np.flatnonzero(duplicate):
            entries.append((int(lines[i]), self._key(frame, i), self.kind.keys[-1],
                            self.table.duplicates[int(lines[i])]))
        result.rejected += int(duplicate.sum())
        if not duplicate.all():
            good_lines = lines[~duplicate]
            records, refused = _blank_to_missing(frame.loc[~duplicate].reset_index(drop=True), self.kind.name)
            if refused:  # the clear marker where a value cannot be cleared: the record is rejected
                for i, name in refused.items():
                    entries.append((int(good_lines[i]), self._key(records, i), name,
                                    _("This field cannot be cleared (the cell holds the clear marker %(marker)s); "
                                      "leave the cell empty to keep the stored value.") % {"marker": "<clear>"}))
                keep = np.ones(len(records), dtype=bool)
                keep[list(refused)] = False
                result.rejected += len(refused)
                good_lines = good_lines[keep]
                records = records.loc[keep].reset_index(drop=True)
            batch = (loader.add(records, today=self.today) if loader is not None else
                     self.kind.upsert(records, actor=self.actor, today=self.today, source="import"))
            result.created += batch.created
            result.updated += batch.updated
            result.unchanged += batch.unchanged
            result.rejected += batch.rejected
            entries.extend((int(good_lines[e["index"]]), e["key"], e["field"], e["reason"]) for e in batch.errors)
        result.rows_done += len(lines)
        self._report(entries, lines, raw)

    def _malformed(self, up_to: int | None) -> list[tuple]:
        """The malformed lines up to line ``up_to`` (all that are left: None), as rejections."""
        entries = []
        while self.bad_lines and (up_to is None or self.bad_lines[0] <= up_to):
            line = self.bad_lines.pop(0)
            expected, saw = self.table.bad_lines[line]
            entries.append((line, {}, "non_field_errors",
                            _("This line has %(saw)d values but the header has %(expected)d columns "
                              "(a separator inside an unquoted value?); it was not read.")
                            % {"saw": saw, "expected": expected}))
        self.result.rejected += len(entries)
        self.result.rows_done += len(entries)
        return entries

    def _report(self, entries: list[tuple], lines=None, raw: pd.DataFrame | None = None) -> None:
        entries = sorted(entries, key=lambda e: e[0])  # stable: a record's errors keep their order
        for entry in entries:
            self.rejects.add(*entry)
        by_line: dict[int, list[tuple[str, str]]] = {}
        for line, _key, name, reason in entries:
            by_line.setdefault(int(line), []).append((name, reason))
        for line, errors in by_line.items():
            at = int(np.searchsorted(lines, line)) if lines is not None and len(lines) else -1
            values = (None if at < 0 or at >= len(lines) or lines[at] != line else
                      ["" if v is None or (isinstance(v, float) and math.isnan(v)) else v
                       for v in raw.iloc[at].tolist()])
            self.rejects.write(line, values, errors)
        if self.on_progress is not None:
            self.on_progress(self.result.rows_done, self.result.rows_total)
