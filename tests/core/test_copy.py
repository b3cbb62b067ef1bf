"""core.copy: the one COPY writer (text format, escapes, NULL) and array literals; round trip through PostgreSQL."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from core.copy import copy_columns, copy_field, copy_text, join_fields, pg_array


def test_text_format_escapes_and_nulls():
    assert copy_field(["a", None, "t\tb\\n\nr\r"]) == ["a", "\\N", "t\\tb\\\\n\\nr\\r"]
    assert copy_field([1, None, Decimal("2.50"), dt.date(2026, 1, 2), True]) == ["1", "\\N", "2.50", "2026-01-02",
                                                                                   "True"]
    assert copy_field(["x", 3]) == ["x", "3"]
    assert copy_text({"a": ["1", "2"], "b": [None, "\\N"]}) == "1\t\\N\n2\t\\\\N\n"
    assert copy_text({"a": []}) == "" and join_fields([]) == ""


def test_join_fields_takes_numbers_as_they_print():
    assert join_fields([[1, 2], ["a", "\\N"]]) == "1\ta\n2\t\\N\n"


def test_array_literals():
    assert pg_array(None) is None and pg_array([]) == "{}"
    assert pg_array(["甲", "乙"]) == '{"甲","乙"}'
    assert pg_array(['a"b', "c\\d"]) == '{"a\\"b","c\\\\d"}'


@pytest.mark.django_db
def test_round_trip_through_postgresql():
    values = {"t": ["plain", "tab\there", "new\nline", "back\\slash", None, "\\N"],
              "n": [1, 2, None, 4, 5, 6],
              "a": [pg_array(["x", 'q"uote']), "{}", None, pg_array(["\\"]), pg_array(["甲"]), None]}
    with connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE copy_check (t text, n int, a text[])")
        copy_columns(cur, "copy_check", values)
        cur.execute("SELECT t, n, a FROM copy_check")
        rows = cur.fetchall()
    assert rows == [("plain", 1, ["x", 'q"uote']), ("tab\there", 2, []), ("new\nline", None, None),
                    ("back\\slash", 4, ["\\"]), (None, 5, ["甲"]), ("\\N", 6, None)]
