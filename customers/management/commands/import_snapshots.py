"""``manage.py import_snapshots FILE [--dry-run] [--today YYYY-MM-DD] [--rejects-out CSV] [--as USERNAME]``."""

from customers.ingest.command import ImportCommand


class Command(ImportCommand):
    help = "Import snapshots from a core-banking CSV (UTF-8 or GBK) or Excel .xlsx file; see customers/ingest/."
    kind = "snapshots"
