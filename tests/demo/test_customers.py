"""The customers part of the demo: deterministic, valid rows for COPY (no database needed)."""

from datetime import date

import numpy as np

from customers import rules
from demo.context import make_context
from demo.customers import CUSTOMER_COLUMNS, chunk
from demo.org import OrgPlan

TODAY = date(2026, 3, 15)


def _context(seed=3):
    plan = OrgPlan(rm_ids=np.array([5, 6, 7]), rm_nodes=np.array([[1, 2, 3]] * 3), rm_city=np.array([0, 1, 2]),
                   rm_weight=np.array([0.5, 0.25, 0.25]))
    return make_context(seed=seed, months=3, today=TODAY, org=plan)


def _chunk(seed=3, ids=None):
    ids = ids or {"customer": 100, "holding": 1, "interaction": 1, "task": 1}
    return chunk(_context(seed), 0, 0, 500, ids), ids


def test_same_arguments_give_the_same_rows_and_ids_move_on():
    first, ids = _chunk()
    again, _ = _chunk()
    assert first == again
    assert _chunk(seed=4)[0] != first
    tables = {table: rows for table, _cols, _text, rows in first}
    assert tables["customers_customer"] == 500 and tables["customers_financialsnapshot"] == 1500
    assert ids["holding"] == 1 + tables["customers_holding"]
    assert ids["interaction"] == 1 + tables.get("customers_interaction", 0)


def test_customer_rows_carry_valid_ids_and_credit_codes():
    (table, cols, text, rows), *_ = _chunk()[0]
    assert (table, cols, rows) == ("customers_customer", CUSTOMER_COLUMNS, 500)
    records = [dict(zip(cols, line.split("\t"))) for line in text.splitlines()]
    assert [int(r["id"]) for r in records] == list(range(100, 600))
    people = [r for r in records if r["kind"] == "individual"]
    companies = [r for r in records if r["kind"] == "corporate"]
    assert people and companies
    assert all(r["id_number"][17] == rules.resident_id_check_char(r["id_number"][:17]) for r in people)
    assert all(r["credit_code"][17] == rules.credit_code_check_char(r["credit_code"][:17]) for r in companies)
