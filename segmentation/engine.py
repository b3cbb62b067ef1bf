"""The segmentation engine: classifies every customer from the month's snapshots with whole-column work.

A run has three steps, each a Celery task (``segmentation.tasks``) calling one function here:

1. ``prepare``: one query reads every customer's contribution score and ranking scope for the month (two
   columns); ``rules.Ranking`` sorts them per scope, ``rules.pyramid_report`` gives the report (cut-off values,
   ties, tiny scopes; branches without snapshots), and the customers are cut into id ranges (chunks).
2. ``classify_chunk`` (several workers at once): one query per chunk reads the chunk's customers with the
   figures of the trend window, their row of the run in force (hysteresis) and any override; ``classify``
   computes every tier with the pure rules against the run's ranking; the rows go in with one COPY. A chunk
   that is delivered twice replaces its own rows.
3. The last chunk to finish makes the run the one in force, in its own transaction: until then the previous
   run's rows stay in force, and a failed run never becomes current.

``preview`` (the what-if of a draft policy) runs steps 1 and 2 in one process without writing anything, so on
the same data it assigns what a run would.
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from core.copy import copy_data, copy_field, join_fields
from org.models import Branch

from . import rules
from .constants import CardTier, RankingScope, RunStatus, ValueTier
from .models import Assignment, BranchScores, Figures, Policy, Run

VALUE_TIERS = [t.value for t in ValueTier]
CARD_TIERS = [t.value for t in CardTier]
BANK_SCOPE = 0  # the scope key of a bank-wide ranking

ASSIGNMENT_COLUMNS = [
    "run_id", "customer_id", "branch_id", "rm_id", "score", "rank_pct", "aum_avg", "value_tier",
    "value_tier_computed", "previous_value_tier", "card_tier", "card_tier_computed", "card_tier_held",
    "previous_card_tier", "months_below", "potential", "lifecycle", "exit_review", "overridden", "reasons",
]


def month_start(day: date, months_back: int = 0) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def month_end(day: date) -> date:
    return month_start(day, -1) - timedelta(days=1)


def read_frame(sql: str, params) -> pd.DataFrame:
    """A query's rows as a DataFrame, through COPY (much faster than fetching a million rows as tuples). JIT is
    off for it: compiling these one-pass queries cost more than it saved (1.3 s of a 1.9 s chunk query)."""
    buffer = io.BytesIO()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL jit = off")
        cur.execute("SET LOCAL work_mem = '128MB'")  # the scores' hash join in one batch, not eight on disk
        query = cur.mogrify(sql, params).decode()
        cur.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)", buffer)
    buffer.seek(0)
    return pd.read_csv(buffer, keep_default_na=False, na_values=[""], true_values=["t"], false_values=["f"])


def _text(column: pd.Series) -> np.ndarray:
    """A text column with blanks for NULL (a column of NULLs reads as float)."""
    return column.astype(object).where(column.notna(), "").to_numpy(dtype=object)


def scope_key(policy: Policy, branch_id):
    return np.asarray(branch_id) if policy.ranking_scope == RankingScope.BRANCH else \
        np.full(len(branch_id), BANK_SCOPE)


# ---- step 1: scores, ranking, report, chunks -----------------------------------------------------------------

SCORES_SQL = """
SELECT c.branch_id, s.contribution, s.fee_income, s.aum_avg, s.loan_interest
FROM customers_financialsnapshot s JOIN customers_customer c ON c.id = s.customer_id
WHERE s.period = %(as_of)s
"""


@dataclass
class Prepared:
    ranking: rules.Ranking
    report: dict
    chunks: list[tuple[int, int]]  # [lo, hi) customer id ranges
    customers: int


def prepare(policy: Policy, as_of: date, *, chunk_size: int) -> Prepared:
    frame = read_frame(SCORES_SQL, {"as_of": as_of})
    scores = rules.contribution_scores(policy.weights, frame["contribution"], frame["fee_income"],
                                       frame["aum_avg"], frame["loan_interest"])
    ranking = rules.Ranking(scores, scope_key(policy, frame["branch_id"].to_numpy()))
    with connection.cursor() as cur:
        cur.execute("SELECT count(*), min(id), max(id) FROM customers_customer")
        customers, first, last = cur.fetchone()
        cur.execute("SELECT DISTINCT branch_id FROM customers_customer")
        without = sorted({row[0] for row in cur.fetchall()} - set(frame["branch_id"].unique().tolist()))
    # Chunks: equal id ranges, as many as chunk_size asks for (ids are dense: the sequence, rarely a deletion).
    count = -(-customers // chunk_size) if customers else 0
    edges = np.linspace(first or 0, (last or 0) + 1, count + 1).round().astype(np.int64).tolist()
    chunks = list(itertools.pairwise(edges))
    report = build_report(policy, ranking, customers=customers, classified=len(frame), branches_without=without)
    return Prepared(ranking=ranking, report=report, chunks=chunks, customers=customers)


def build_report(policy: Policy, ranking: rules.Ranking, *, customers: int, classified: int,
                 branches_without: list[int]) -> dict:
    """The run report: per scope its size, customers per tier as asked and as assigned, the actual cut-off
    values and notes (ties, tiny scopes); the branches with customers but no snapshot of the month."""
    scopes = rules.pyramid_report(ranking, policy.pyramid)
    names = dict(Branch.objects.filter(pk__in=[s["scope"] for s in scopes] + branches_without)
                 .values_list("pk", "name"))
    for scope in scopes:
        scope["name"] = names.get(scope["scope"], "") if policy.ranking_scope == RankingScope.BRANCH else ""
    return {"customers": customers, "classified": classified, "unclassified": customers - classified,
            "ranking_scope": policy.ranking_scope, "scopes": scopes,
            "branches_without_snapshots": [{"id": b, "name": names.get(b, "")} for b in branches_without]}


# ---- step 2: classify a chunk -----------------------------------------------------------------------------------

CHUNK_SQL = """
WITH w AS (
  SELECT customer_id,
    max(aum_avg) FILTER (WHERE period = %(as_of)s) AS aum_avg,
    max(contribution) FILTER (WHERE period = %(as_of)s) AS contribution,
    max(fee_income) FILTER (WHERE period = %(as_of)s) AS fee_income,
    max(loan_interest) FILTER (WHERE period = %(as_of)s) AS loan_interest,
    max(products_held) FILTER (WHERE period = %(as_of)s) AS products_held,
    max(last_txn_date) AS last_txn,
    max(aum_avg) FILTER (WHERE period = %(trend_start)s) AS aum_start,
    max(contribution) FILTER (WHERE period = %(trend_start)s) AS contribution_start,
    count(*) FILTER (WHERE contribution < 0 AND period >= %(negative_start)s) AS negative_months,
    bool_or(aum_avg > 0 OR products_held > 0) FILTER (WHERE period < %(as_of)s) AS held_before
  FROM customers_financialsnapshot
  WHERE customer_id >= %(lo)s AND customer_id < %(hi)s AND period >= %(first)s AND period <= %(as_of)s
  GROUP BY customer_id
)
SELECT c.id AS customer_id, c.branch_id, c.rm_id, c.birth_date, c.last_txn_date AS customer_last_txn,
  w.aum_avg, w.contribution, w.fee_income, w.loan_interest, w.products_held, w.last_txn, w.aum_start,
  w.contribution_start, coalesce(w.negative_months, 0) AS negative_months,
  coalesce(w.held_before, false) AS held_before,
  a.value_tier AS prev_value, a.card_tier_held AS prev_card, a.months_below AS prev_below,
  o.value_tier AS pin_value, o.card_tier AS pin_card,
  EXISTS (SELECT 1 FROM customers_holding h WHERE h.customer_id = c.id AND h.status = 'npl') AS npl
FROM customers_customer c
LEFT JOIN w ON w.customer_id = c.id
LEFT JOIN segmentation_assignment a ON a.run_id = %(previous)s AND a.customer_id = c.id
  AND a.customer_id >= %(lo)s AND a.customer_id < %(hi)s
LEFT JOIN segmentation_override o ON o.customer_id = c.id AND o.ended_at IS NULL AND o.expires_on > %(today)s
WHERE c.id >= %(lo)s AND c.id < %(hi)s
ORDER BY c.id
"""


def chunk_frame(policy: Policy, as_of: date, lo: int, hi: int, *, previous_run_id, today: date) -> pd.DataFrame:
    window = max(policy.trend_months, policy.exit_negative_months)
    return read_frame(CHUNK_SQL, {
        "as_of": as_of, "trend_start": month_start(as_of, policy.trend_months - 1),
        "negative_start": month_start(as_of, policy.exit_negative_months - 1), "first": month_start(as_of, window - 1),
        "lo": lo, "hi": hi, "previous": previous_run_id or 0, "today": today})


def _index_of(values: pd.Series, names: list[str]) -> np.ndarray:
    """Tier names → their index in ``names`` (blank / missing → UNCLASSIFIED)."""
    lookup = {name: i for i, name in enumerate(names)}
    return values.astype(object).map(lookup).fillna(rules.UNCLASSIFIED).to_numpy(dtype=np.int8)


def _names(index: np.ndarray, names: list[str]) -> np.ndarray:
    table = np.array([*names, ""], dtype=object)  # index -1 → ""
    return table[np.where(index < 0, len(names), index)]


def _months_since(day: pd.Series, until: date) -> np.ndarray:
    """Whole months from each date to ``until`` (NaN where no date): rules.months_between on a column."""
    parsed = pd.to_datetime(day, errors="coerce")
    months = (until.year - parsed.dt.year) * 12 + until.month - parsed.dt.month - (parsed.dt.day > until.day)
    return months.to_numpy(dtype=float)


def classify(frame: pd.DataFrame, policy: Policy, ranking: rules.Ranking, *, as_of: date) -> pd.DataFrame:
    """Every tier of the customers in ``frame`` (a ``CHUNK_SQL`` result), by the pure rules, as rows of
    ``segmentation_assignment`` (without ``run_id``)."""
    n = len(frame)
    score = rules.contribution_scores(policy.weights, frame["contribution"], frame["fee_income"],
                                      frame["aum_avg"], frame["loan_interest"])
    position, size = ranking.place(score, scope_key(policy, frame["branch_id"].to_numpy()))
    computed_value = rules.tiers_by_place(position, size, policy.pyramid)
    rank_pct = rules.top_percent(position, size)
    aum = frame["aum_avg"].to_numpy(dtype=float)
    computed_card = rules.card_tiers(aum, policy.card_thresholds)
    held_card, below = rules.card_tiers_with_hysteresis(
        computed_card, _index_of(frame["prev_card"], CARD_TIERS), frame["prev_below"].fillna(0).to_numpy(),
        downgrade_after=policy.downgrade_after, top_downgrade_after=policy.private_downgrade_after,
        top_tier=len(CARD_TIERS) - 1)

    last_txn = frame["last_txn"].where(frame["last_txn"].notna(), frame["customer_last_txn"])
    dormant_months = _months_since(last_txn, month_end(as_of))
    negative_months = frame["negative_months"].to_numpy()
    exit_flag, dormant, negative, npl = rules.exit_review(
        dormant_months=dormant_months, negative_months=negative_months,
        non_performing=frame["npl"].to_numpy(dtype=bool), dormant_after=policy.exit_dormant_months,
        negative_after=policy.exit_negative_months, use_non_performing=policy.exit_non_performing)
    aum_growth = rules.growth_percent(aum, frame["aum_start"].to_numpy(dtype=float))
    income_growth = rules.growth_percent(frame["contribution"].to_numpy(dtype=float),
                                         frame["contribution_start"].to_numpy(dtype=float))
    age = np.floor(_months_since(frame["birth_date"], as_of) / 12.0)
    products = frame["products_held"].fillna(0).to_numpy()
    potential = rules.potential(
        value_tier=computed_value, aum_growth=aum_growth, income_growth=income_growth, products_held=products,
        age=age, exit_flag=exit_flag, min_aum_growth=policy.potential_aum_growth,
        min_income_growth=policy.potential_income_growth, min_products=policy.potential_min_products,
        max_age=policy.potential_max_age)
    stage = rules.lifecycle_stages(
        aum_avg=aum, earlier_aum=frame["aum_start"].to_numpy(dtype=float), products_held=products,
        ever_held=frame["held_before"].to_numpy(dtype=bool), dormant=dormant, change=policy.lifecycle_change,
        maturity_from=policy.maturity_from)

    pin_value = _text(frame["pin_value"])
    pin_card = _text(frame["pin_card"])
    value_computed_names = _names(computed_value, VALUE_TIERS)
    held_names = _names(held_card, CARD_TIERS)
    overridden = (pin_value != "") | (pin_card != "")

    signal = potential == 1
    aum_signal = signal & (aum_growth >= float(policy.potential_aum_growth))
    income_signal = signal & (income_growth >= float(policy.potential_income_growth))
    codes = [  # (rows that get the code, the code's text per row)
        (np.isnan(score), "nosnap"), (overridden, "override"), (npl, "npl"),
        (below > 0, lambda i: f"held:{below[i]}"),
        (dormant, lambda i: f"dormant:{int(dormant_months[i])}"),
        (negative, lambda i: f"negative:{int(negative_months[i])}"),
        (aum_signal, lambda i: "aumgrowth:" + ("new" if np.isinf(aum_growth[i]) else f"{aum_growth[i]:.1f}")),
        (income_signal,
         lambda i: "incomegrowth:" + ("new" if np.isinf(income_growth[i]) else f"{income_growth[i]:.1f}")),
    ]
    reasons = np.full(n, "", dtype=object)  # PostgreSQL array literals, built only for the rows with a code
    for mask, code in codes:
        for i in np.flatnonzero(mask):
            text = code if isinstance(code, str) else code(i)
            reasons[i] = f"{reasons[i]},{text}" if reasons[i] else text

    return pd.DataFrame({
        "customer_id": frame["customer_id"].to_numpy(),
        "branch_id": frame["branch_id"].to_numpy(),
        "rm_id": frame["rm_id"].astype("Int64"),
        "score": np.round(score, 2),
        "rank_pct": np.round(rank_pct, 2),
        "aum_avg": frame["aum_avg"],
        "value_tier": np.where(pin_value != "", pin_value, value_computed_names),
        "value_tier_computed": value_computed_names,
        "previous_value_tier": _text(frame["prev_value"]),
        "card_tier": np.where(pin_card != "", pin_card, held_names),
        "card_tier_computed": _names(computed_card, CARD_TIERS),
        "card_tier_held": held_names,
        "previous_card_tier": _text(frame["prev_card"]),
        "months_below": below,
        "potential": pd.array(np.where(potential < 0, None, potential == 1), dtype="boolean"),
        "lifecycle": np.array(rules.LIFECYCLE, dtype=object)[stage],
        "exit_review": exit_flag,
        "overridden": overridden,
        "reasons": "{" + reasons + "}",
    })


def _money_text(values) -> np.ndarray:
    """Floats as COPY text with two decimals; NaN → NULL."""
    values = np.asarray(values, dtype=float)
    text = np.char.mod("%.2f", np.nan_to_num(values)).astype(object)
    text[np.isnan(values)] = None
    return text


def write_rows(run_id: int, rows: pd.DataFrame, lo: int, hi: int) -> None:
    """The chunk's rows of the run, replacing any it wrote before (a chunk delivered twice), with the one COPY
    writer (core.copy)."""
    rows = rows.assign(run_id=run_id)
    fields = []
    for name in ASSIGNMENT_COLUMNS:
        column = rows[name]
        if name in ("score", "rank_pct", "aum_avg"):
            values = _money_text(column.to_numpy(dtype=float))
        elif str(column.dtype) in ("Int64", "boolean"):
            values = column.astype(object).where(column.notna(), None).to_numpy()
        else:
            values = column.to_numpy()
        fields.append(copy_field(values))
    table = Assignment._meta.db_table
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {table} WHERE run_id = %s AND customer_id >= %s AND customer_id < %s",
                    [run_id, lo, hi])
        copy_data(cur, table, ASSIGNMENT_COLUMNS, join_fields(fields))


# ---- the run ------------------------------------------------------------------------------------------------------

def start(run: Run, *, chunk_size: int) -> list[tuple[int, int]]:
    """Step 1 for ``run``: its ranking, report and chunks saved on the run row; returns the chunks."""
    prepared = prepare(run.policy, run.as_of, chunk_size=chunk_size)
    Run.objects.filter(pk=run.pk).update(
        ranking=prepared.ranking.to_bytes(), report=prepared.report, customers_total=prepared.customers,
        chunks_total=len(prepared.chunks), heartbeat_at=timezone.now())
    return prepared.chunks


def run_chunk(run_id: int, index: int, lo: int, hi: int, *, today: date) -> bool:
    """Step 2 for one chunk of a running run, in one transaction; True if it was the last chunk (the run is
    then in force). A chunk of a run that is no longer running does nothing."""
    with transaction.atomic():
        run = Run.objects.select_related("policy").filter(pk=run_id, status=RunStatus.RUNNING).first()
        if run is None:
            return False
        previous = Run.objects.filter(is_current=True).values_list("pk", flat=True).first()
        frame = chunk_frame(run.policy, run.as_of, lo, hi, previous_run_id=previous, today=today)
        rows = classify(frame, run.policy, rules.Ranking.from_bytes(run.ranking), as_of=run.as_of)
        write_rows(run.pk, rows, lo, hi)
        with connection.cursor() as cur:
            cur.execute(
                "UPDATE segmentation_run SET chunks_finished = array_append(chunks_finished, %s), "
                "customers_done = customers_done + %s, heartbeat_at = now() "
                "WHERE id = %s AND status = 'running' AND NOT (%s = ANY(chunks_finished)) "
                "RETURNING cardinality(chunks_finished), chunks_total",
                [index, len(rows), run.pk, index])
            row = cur.fetchone()
        if row is None or row[0] < row[1]:
            return False
        finish(run)
        return True


def finish(run: Run) -> None:
    """Make ``run`` the one in force (inside the last chunk's transaction)."""
    Run.objects.filter(is_current=True).exclude(pk=run.pk).update(is_current=False)
    store_figures(run.pk)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.DONE, is_current=True, finished_at=timezone.now(),
                                         ranking=None, figures_ready=True)
    with connection.cursor() as cur:  # fresh statistics for the next run's joins and the supervisor's queries
        cur.execute(f"ANALYZE {Assignment._meta.db_table}")


def store_figures(run_id: int) -> None:
    """The supervisor view's stored figures of a run whose rows are all written: its rows summed per branch, RM and
    value tier (one INSERT … SELECT … GROUP BY), and each branch's contribution scores sorted best first, in fen
    (one COPY out, sorted in numpy). Replaces what an earlier attempt stored."""
    figures, scores = Figures._meta.db_table, BranchScores._meta.db_table
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {figures} WHERE run_id = %s", [run_id])
        cur.execute(f"DELETE FROM {scores} WHERE run_id = %s", [run_id])
        cur.execute(
            f"INSERT INTO {figures} (run_id, branch_id, rm_id, value_tier, customers, aum, contribution) "
            f"SELECT run_id, branch_id, rm_id, value_tier, count(*), coalesce(sum(aum_avg), 0), coalesce(sum(score), 0) "
            f"FROM {Assignment._meta.db_table} WHERE run_id = %s GROUP BY run_id, branch_id, rm_id, value_tier",
            [run_id])
    frame = read_frame(f"SELECT branch_id, (score * 100)::bigint AS fen FROM {Assignment._meta.db_table} "
                       f"WHERE run_id = %(run)s AND score IS NOT NULL", {"run": run_id})
    BranchScores.objects.bulk_create(
        BranchScores(run_id=run_id, branch_id=int(branch),
                     scores=np.sort(group.to_numpy(dtype=np.int64))[::-1].astype("<i8").tobytes())
        for branch, group in frame.groupby("branch_id")["fen"])


def branch_scores(data: bytes) -> np.ndarray:
    """A branch's stored scores (fen, best first)."""
    return np.frombuffer(bytes(data), dtype="<i8")


def fail(run_id: int, error: str) -> None:
    """A run that cannot finish: marked failed and its rows removed; the run in force stays in force."""
    with transaction.atomic():
        updated = Run.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
            status=RunStatus.FAILED, error=error[:2000], finished_at=timezone.now(), ranking=None)
        if updated:
            Assignment.objects.filter(run_id=run_id).delete()


# ---- what-if ------------------------------------------------------------------------------------------------------

def preview(policy: Policy, as_of: date, *, today: date, chunk_size: int) -> dict:
    """What a run of ``policy`` for ``as_of`` would assign, on current data, without writing anything: customers,
    AUM and contribution per value and card tier, the report (cut-offs), and the value-tier migration matrix
    against the assignments in force. Uses ``prepare`` and ``classify`` exactly as a run does."""
    prepared = prepare(policy, as_of, chunk_size=chunk_size)
    previous = Run.objects.filter(is_current=True).values_list("pk", flat=True).first()
    parts = []
    for lo, hi in prepared.chunks:
        frame = chunk_frame(policy, as_of, lo, hi, previous_run_id=previous, today=today)
        rows = classify(frame, policy, prepared.ranking, as_of=as_of)
        parts.append(rows[["value_tier", "card_tier", "previous_value_tier", "aum_avg", "score"]])
    rows = pd.concat(parts) if parts else pd.DataFrame(
        columns=["value_tier", "card_tier", "previous_value_tier", "aum_avg", "score"])
    return {"report": prepared.report, **summarise(rows)}


def summarise(rows: pd.DataFrame) -> dict:
    """Per value tier and per card tier: customers, AUM, contribution; the value-tier matrix previous → new."""
    def per(column, names):
        grouped = rows.groupby(column).agg(customers=("score", "size"), aum=("aum_avg", "sum"),
                                           contribution=("score", "sum"))
        return [{"tier": name, "customers": int(grouped["customers"].get(name, 0)),
                 "aum": float(grouped["aum"].get(name, 0.0)), "contribution": float(grouped["contribution"].get(name, 0.0))}
                for name in [*names, ""]]

    matrix = rows.groupby(["previous_value_tier", "value_tier"]).size()
    return {"value_tiers": per("value_tier", VALUE_TIERS), "card_tiers": per("card_tier", CARD_TIERS),
            "matrix": [{"from": f, "to": t, "customers": int(c)} for (f, t), c in matrix.items()]}

