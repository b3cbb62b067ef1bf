"""The record rules of a batch (``rules.customer_record_problems``) and the column parsers of the ingest pipeline,
without a database: the same rules and messages as a record of one checked by ``services.customer_check``."""

import datetime as dt

import numpy as np
import pytest
from django.utils import translation

from customers import rules, services
from customers.ingest.columns import Errors, parse_bool, parse_date, parse_tags, parse_text
from customers.models import Customer

from .builders import make_credit_code, make_resident_id

TODAY = dt.date(2026, 11, 22)
BORN = dt.date(1980, 5, 17)
ID_M = make_resident_id(BORN, "M", seq=3)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def record(**values) -> dict:
    base = {"kind": "individual", "id_type": "", "id_number": "", "credit_code": "", "mobile": "",
            "birth_date": None, "gender": "", "risk_level": "", "risk_assessed_on": None}
    return {**base, **values}


def batch(*records) -> dict:
    return {f: np.array([r[f] for r in records] + [None], dtype=object)[:-1] for f in rules.RECORD_FIELDS}


def first_problems(columns) -> list[dict]:
    """Per record, field → its first problem (as the bulk pipeline and the service report them)."""
    n = len(columns["kind"])
    out = [{} for _ in range(n)]
    for field, mask, message in rules.customer_record_problems(columns, today=TODAY):
        for i in np.flatnonzero(mask):
            out[i].setdefault(field, str(message[i] if isinstance(message, np.ndarray) else message))
    return out


CASES = [
    record(),
    record(mobile="+86 138-0013-8000"),
    record(mobile="12345"),
    record(id_type="resident_id", id_number=ID_M),
    record(id_type="resident_id", id_number=ID_M.lower(), gender="F"),
    record(id_type="resident_id", id_number=ID_M, birth_date=dt.date(1981, 1, 1)),
    record(id_type="resident_id", id_number=ID_M[:17] + ("0" if ID_M[17] != "0" else "1")),
    record(id_type="resident_id", id_number="12345"),
    record(id_type="resident_id", id_number=make_resident_id(dt.date(1879, 12, 31), seq=4)),
    record(id_type="resident_id", id_number="110105198002300011"),
    record(id_type="resident_id", id_number=make_resident_id(dt.date(2027, 1, 1), seq=5)),
    record(id_type="resident_id", id_number="110105491231002"),  # a 15-digit legacy ID
    record(id_type="passport", id_number="e1234567 8"),
    record(id_type="passport", id_number="<b>"),
    record(id_type="", id_number="E12345678"),
    record(kind="individual", credit_code=make_credit_code(2)),
    record(kind="corporate"),
    record(kind="corporate", credit_code=make_credit_code(3).lower()),
    record(kind="corporate", credit_code="123"),
    record(kind="corporate", credit_code="91350100MA2YXXXXXI"),
    record(kind="corporate", credit_code=make_credit_code(4)[:17] + "Y" if make_credit_code(4)[17] != "Y" else "X"),
    record(risk_level="R3"),
    record(risk_level="R3", risk_assessed_on=dt.date(2026, 1, 1)),
]


def test_a_batch_gives_each_record_the_same_problems_and_values_as_the_single_record_service():
    """One rule set: the batch's first problem per field, and its normalised values, are those of
    ``services.customer_check`` on each record alone."""
    columns = batch(*CASES)
    problems = first_problems(columns)
    for i, case in enumerate(CASES):
        customer = Customer(cif="C1", name="甲", **{k: v for k, v in case.items()})
        single = services.customer_check(customer, today=TODAY)
        assert {f: m[0] for f, m in single.items()} == problems[i], case
        for f in ("mobile", "id_number", "credit_code", "birth_date", "gender"):
            assert (getattr(customer, f) or None) == (columns[f][i] or None), (case, f)


def test_messages_of_the_rules():
    got = first_problems(batch(*CASES))
    assert got[0] == {} and got[1] == {} and got[3] == {}
    assert got[2] == {"mobile": str(rules.MOBILE_MESSAGE)}
    assert got[4] == {"gender": "The gender does not match the ID number."}
    assert got[5] == {"birth_date": "The birth date does not match the ID number (1980-05-17)."}
    assert got[6] == {"id_number": str(rules.RESIDENT_ID_CHECK_MESSAGE)}
    assert got[7] == {"id_number": str(rules.RESIDENT_ID_FORMAT_MESSAGE)}
    assert got[8] == {"id_number": "The birth date in the ID is before 1880."}
    assert got[9] == {"id_number": "Digits 7–14 of the ID are not a real birth date."}
    assert got[10] == {"id_number": "The birth date in the ID is in the future."}
    assert got[11] == {}
    assert got[12] == {} and got[13] == {"id_number": str(rules.ID_FORMAT_MESSAGES["passport"])}
    assert got[14] == {"id_type": "Choose the type of the ID document."}
    assert got[15] == {"credit_code": "Only corporate customers have a credit code."}
    assert got[16] == {"credit_code": "A corporate customer needs its unified social credit code."}
    assert got[17] == {}
    assert got[18] == {"credit_code": "A unified social credit code has 18 characters."}
    assert got[19] == {"credit_code": "A unified social credit code cannot contain: I (I, O, Z, S and V are never used)."}
    assert got[20] == {"credit_code": str(rules.CREDIT_CODE_CHECK_MESSAGE)}
    assert got[21] == {"risk_assessed_on": "Give the date of the risk assessment."} and got[22] == {}


def test_the_rules_normalise_and_fill_in_from_the_id():
    columns = batch(*CASES)
    rules.customer_record_problems(columns, today=TODAY)
    assert columns["mobile"][1] == "13800138000"
    assert (columns["birth_date"][3], columns["gender"][3]) == (BORN, "M")
    assert columns["id_number"][4] == ID_M.upper()
    assert columns["id_number"][11] == rules.resident_id_from_15("110105491231002")
    assert columns["birth_date"][11] == dt.date(1949, 12, 31)
    assert columns["id_number"][12] == "E12345678"
    assert columns["credit_code"][17] == make_credit_code(3)


def test_column_parsers_report_each_bad_value_once_and_keep_the_good_ones():
    errors = Errors(4)
    text = parse_text(np.array(["  a ", None, "x" * 11, "b\x00"], dtype=object), errors, "t", max_length=10)
    assert list(text) == ["a", None, "x" * 11, None]
    flags = parse_bool(np.array(["是", "no", "maybe", None], dtype=object), errors, "f")
    assert list(flags) == [True, False, None, None]
    days = parse_date(np.array(["2026-01-02", "2027-01-01", "0199-01-01", "2026-02-30"], dtype=object), errors, "d",
                      today=TODAY)
    assert days[0] == dt.date(2026, 1, 2)
    assert errors.items == [
        (1, "d", "This date cannot be in the future."),
        (2, "d", "Enter a date between 1900-01-01 and 2100-12-31."),
        (2, "f", "Enter true or false."),
        (2, "t", "Ensure this value has at most 10 characters."),
        (3, "d", "Enter a valid date as YYYY-MM-DD."),
        (3, "t", "Null characters are not allowed."),
    ]
    assert list(errors.bad) == [False, True, True, True]


def test_errors_take_a_message_per_record():
    errors = Errors(3)
    errors.add(np.array([True, False, True]), "f", np.array(["one", None, "three"], dtype=object))
    errors.add(np.array([True, True, False]), "f", "later")
    assert errors.items == [(0, "f", "one"), (1, "f", "later"), (2, "f", "three")]


def test_the_tag_limits_are_one_rule_with_one_message_each():
    assert rules.tags_problem(["a"] * 20) is None
    assert rules.tags_problem([f"t{i}" for i in range(21)]) == "A customer has at most 20 tags."
    assert rules.tags_problem(["x" * 31]) == "A tag has at most 30 characters."
    errors = Errors(3)
    parse_tags(np.array(["a;b", ";".join(f"t{i}" for i in range(21)), "x" * 31], dtype=object), errors, "tags")
    assert errors.items == [(1, "tags", "A customer has at most 20 tags."),
                            (2, "tags", "A tag has at most 30 characters.")]
