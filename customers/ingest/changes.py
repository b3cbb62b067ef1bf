"""What a dry run of a customers file would change, read back from the profile-history rows it wrote."""

from __future__ import annotations

import json

from django.db import connection

from customers.rules import MASKERS
from org.models import Branch, User

IDENTITY_FIELDS = ("name", "id_type", "id_number", "credit_code", "mobile")  # who the customer is
CHANGES_SHOWN = 20  # changed records kept, and as many changing an identity field
VALUE_SHOWN = 200  # characters of a value shown (notes may hold 2,000)


def truncate(value, limit: int = VALUE_SHOWN):
    """A text echoed back to the user (a value, a reason quoting one) cut to ``limit`` characters with an ellipsis."""
    if isinstance(value, str) and len(value) > limit:
        return value[:limit - 1] + "…"
    return value


def last_change_id() -> int:
    """The newest profile-history id: the dry run's changes come after it."""
    with connection.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM customers_customerchange")
        return cur.fetchone()[0]


def changes_summary(*, since: int, actor, shown: int = CHANGES_SHOWN) -> dict:
    """What the import run so far in this transaction changed, from the profile-history rows it wrote (old → new
    per field; the dry run rolls them back afterwards): changed records per field, records that change an
    identity field, and the first ``shown`` changed records and identity-changing records, with sensitive values
    masked (``rules.MASKERS``), branches and RMs by name and long values cut. Counted in SQL, so a file of a
    million rows costs two aggregate queries, not a million Python objects."""
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
