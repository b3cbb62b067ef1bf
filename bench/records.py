"""Realistic core-banking customer records for the write benchmarks, made by the demo generator.

``demo.customers.generate_chunk`` (the one behind ``seed_demo``) builds customers column-wise with numpy:
checksum-valid resident IDs agreeing with birth date and gender, unified social credit codes, valid
mobiles, RMs working in the customer's branch, tags, consents. Here its customer rows are turned into
what core banking sends: the API's field names, the branch by code and the RM by username (or by id
for the single-record API, whose ``branch``/``rm`` fields are primary keys).

Use only after ``django.setup()`` (bench/common.py does it), on a database whose organisation was made
by the demo generator (``seed_demo``, any number of customers).
"""

from __future__ import annotations

import csv
import io
from datetime import date

import numpy as np
import pandas as pd

from demo.context import make_context
from demo.customers import MOBILE_PREFIXES, generate_chunk
from demo.org import org_ensure
from org.models import Branch, User

TODAY = date(2026, 3, 15)  # the generator's reference date (as in bench_seed.py / seed_demo --today)

# The columns core banking sends (all of the profile except the CRM's own fields: notes, aum, timestamps).
FIELDS = ["cif", "name", "kind", "gender", "birth_date", "id_type", "id_number", "occupation", "income_band",
          "credit_code", "industry", "company_size", "legal_representative", "contact_person", "mobile", "email",
          "address", "consent_sms", "consent_email", "consent_phone", "consent_app", "do_not_contact", "branch",
          "rm", "lifecycle_stage", "risk_level", "risk_assessed_on", "tags"]
BOOLS = ["consent_sms", "consent_email", "consent_phone", "consent_app", "do_not_contact"]


class Generator:
    """Chunks of customer records as DataFrames of strings (None = no value), API field names."""

    def __init__(self, *, seed: int = 1, n_rms: int = 400, cif_prefix: str = "BLK"):
        plan = org_ensure(seed=seed, n_rms=n_rms, log=lambda *_: None)  # creates only what is missing
        self.ctx = make_context(seed=seed, months=1, today=TODAY, org=plan)
        self.prefix = cif_prefix
        self.branch_code = dict(Branch.objects.values_list("id", "code"))
        self.username = dict(User.objects.values_list("id", "username"))

    def frame(self, first: int, n: int, *, chunk_index: int | None = None) -> pd.DataFrame:
        """Customers number ``first … first+n-1`` (CIF ``<prefix><number:010d>``): one generator chunk."""
        ids = {"holding": 1, "interaction": 1, "task": 1}
        index = chunk_index if chunk_index is not None else 10_000 + first // max(n, 1)
        chunk = generate_chunk(self.ctx, index, first, n, ids)
        table, cols, text, _rows = chunk.tables[0]
        assert table == "customers_customer"
        raw = pd.read_csv(io.StringIO(text), sep="\t", header=None, names=cols, dtype=str, quoting=csv.QUOTE_NONE,
                          keep_default_na=False, na_values=["\\N"])
        out = pd.DataFrame({"cif": [f"{self.prefix}{i:010d}" for i in range(first, first + n)]})
        for c in FIELDS[1:]:
            if c == "branch":
                out[c] = raw["branch_id"].astype(int).map(self.branch_code)
            elif c == "rm":
                out[c] = raw["rm_id"].astype(int).map(self.username)
            elif c in BOOLS:
                out[c] = raw[c] == "t"
            elif c == "tags":
                out[c] = raw[c].str.strip("{}")  # "a,b" (a file's form); records() makes lists
            else:
                out[c] = raw[c].astype(object).where(raw[c].notna(), None)
        out["_branch_id"] = raw["branch_id"].astype(int)
        out["_rm_id"] = raw["rm_id"].astype(int)
        return out


def records(frame: pd.DataFrame, *, by_id: bool = False) -> list[dict]:
    """JSON records for the API. ``by_id``: branch and rm as primary keys (the single-record API)."""
    df = frame.copy()
    if by_id:
        df["branch"], df["rm"] = df["_branch_id"], df["_rm_id"]
    df["tags"] = [t.split(",") if t else [] for t in df["tags"]]
    df = df[FIELDS].astype(object)
    df = df.where(df.notna(), None)
    return df.to_dict("records")


STAGES = ["prospect", "development", "growth", "maturity", "decline", "terminated"]


def changed(frame: pd.DataFrame, *, round_no: int = 1, seed: int = 99) -> pd.DataFrame:
    """The same customers with what core banking typically changes: mobile, email, address, lifecycle
    stage, risk assessment and tags (every record differs from ``frame`` in all of these)."""
    rng = np.random.default_rng([seed, round_no])
    df = frame.copy()
    n = len(df)
    prefixes = np.asarray(MOBILE_PREFIXES, dtype=object)[rng.integers(0, len(MOBILE_PREFIXES), n)]
    new_mobile = prefixes + np.char.zfill(rng.integers(0, 10**8, n).astype(str), 8).astype(object)
    same = new_mobile == df["mobile"].to_numpy(dtype=object)
    if same.any():
        new_mobile[same] = [f"1390000{i:04d}" for i in range(int(same.sum()))]
    df["mobile"] = new_mobile
    df["email"] = [f"u{round_no}x{i}@163.com" for i in range(n)]
    df["address"] = df["address"].fillna("") + f"（{round_no}号楼）"
    stage_idx = df["lifecycle_stage"].map({s: i for i, s in enumerate(STAGES)}).fillna(0).astype(int).to_numpy()
    df["lifecycle_stage"] = np.asarray(STAGES, dtype=object)[(stage_idx + round_no) % len(STAGES)]
    old_risk = df["risk_level"].fillna("").to_numpy(dtype=object)
    levels = np.asarray(["C1", "C2", "C3", "C4", "C5"], dtype=object)
    new_risk = levels[rng.integers(0, 5, n)]
    clash = new_risk == old_risk
    new_risk[clash] = np.where(old_risk[clash] == "C1", "C2", "C1")
    df["risk_level"] = new_risk
    df["risk_assessed_on"] = f"2026-{(round_no % 9) + 1:02d}-0{(round_no % 9) + 1}"
    tag = ["代发工资", "房贷客户", "理财偏好", "基金定投", "私行潜客", "新市民"][round_no % 6]
    df["tags"] = [",".join(sorted(set(filter(None, t.split(","))) ^ {tag})) for t in df["tags"]]
    return df
