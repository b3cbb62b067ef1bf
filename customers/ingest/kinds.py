"""What each kind of import holds: its key columns, its fields, what a file may clear, and its upsert."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.functional import Promise

from customers.models import Customer, Holding, ImportKind

from .children import HOLDING_TEXT, HOLDINGS, SNAPSHOTS, holdings_upsert, snapshots_upsert
from .customers import CUSTOMER_FIELDS, CUSTOMER_TEXT, customers_upsert


@dataclass(frozen=True)
class Kind:
    name: str
    label: Promise
    keys: tuple[str, ...]  # the record's key columns, the CIF first
    fields: list[str]  # what a record may give
    clearable: frozenset[str]  # fields a file's clear marker may clear: text that may be blank, and tags
    upsert: Callable  # writes one batch: (records, *, actor, today, source, offset, dry_run) → BulkResult


CUSTOMERS = Kind(ImportKind.CUSTOMERS, ImportKind.CUSTOMERS.label, ("cif",), CUSTOMER_FIELDS,
                 frozenset({n for n in CUSTOMER_TEXT if n != "cif" and Customer._meta.get_field(n).blank} | {"tags"}),
                 customers_upsert)
SNAPSHOTS_KIND = Kind(ImportKind.SNAPSHOTS, ImportKind.SNAPSHOTS.label, ("cif", SNAPSHOTS.key),
                      SNAPSHOTS.fields, frozenset(), snapshots_upsert)
HOLDINGS_KIND = Kind(ImportKind.HOLDINGS, ImportKind.HOLDINGS.label, ("cif", HOLDINGS.key), HOLDINGS.fields,
                     frozenset(n for n in HOLDING_TEXT if Holding._meta.get_field(n).blank), holdings_upsert)
KINDS = {kind.name: kind for kind in (CUSTOMERS, SNAPSHOTS_KIND, HOLDINGS_KIND)}
