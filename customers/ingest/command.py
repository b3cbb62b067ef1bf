"""Shared base of ``manage.py import_customers|import_snapshots|import_holdings FILE``.

The command runs the same import as the upload page (``customers.ingest.importer.import_file``) in the
foreground, as a head-office user (``--as USERNAME``; default: the first active head-office user), and
prints progress lines and a summary. File-level errors (format, encoding, missing key columns) exit
with status 1 before anything is written; rejected records do not change the exit status (they are
listed, and written to ``--rejects-out`` if given).
"""

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from org.constants import Role
from org.models import User
from org.permissions import can

from .files import CHUNK_SIZE, open_table
from .importer import import_file
from .limits import ImportFileError


class ImportCommand(BaseCommand):
    kind: str = ""

    def add_arguments(self, parser):
        parser.add_argument("file", help="A .csv (UTF-8 or GBK) or .xlsx file; the first row names the columns.")
        parser.add_argument("--dry-run", action="store_true",
                            help="Check and count everything, then roll back: nothing is stored.")
        parser.add_argument("--today", type=date.fromisoformat, default=None,
                            help="Reference date YYYY-MM-DD for the date rules (default: today).")
        parser.add_argument("--rejects-out", default=None, metavar="CSV",
                            help="Write every rejected record (line, key, field, reason) to this CSV file.")
        parser.add_argument("--as", dest="username", default=None, metavar="USERNAME",
                            help="Import as this head-office user (default: the first active one).")
        parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE,
                            help="Records per batch (default %(default)s).")
        parser.add_argument("--no-initial-load", dest="initial_load", action="store_const", const=False,
                            default=None,
                            help="Never run as an initial load (by default a large customers file into an empty "
                                 "table is loaded in one transaction with its indexes rebuilt at the end).")

    def _actor(self, username):
        if username:
            user = User.objects.filter(username=username, is_active=True).first()
            if user is None:
                raise CommandError(f"No active user {username!r}.")
            if not can(user, "customers.import_files"):
                raise CommandError(f"{username!r} is not a head-office user and may not import files.")
            return user
        user = User.objects.filter(role=Role.HEAD_OFFICE, is_active=True).order_by("id").first()
        if user is None:
            raise CommandError("There is no active head-office user to import as: create one or give --as USERNAME.")
        return user

    def handle(self, *args, file, dry_run, today, rejects_out, username, chunk_size, initial_load=None, **options):
        if chunk_size < 1:
            raise CommandError("--chunk-size must be positive.")
        actor = self._actor(username)
        today = today or timezone.localdate()

        def progress(done, total):
            share = f" ({100 * done // total}%)" if total else ""
            self.stdout.write(f"{done:,} / {total:,} rows{share}" if total else f"{done:,} rows")
            self.stdout.flush()

        out = open(rejects_out, "w", encoding="utf-8-sig", newline="") if rejects_out else None  # noqa: SIM115  closed in the finally below
        try:
            try:
                table = open_table(file, kind=self.kind, chunk_size=chunk_size)
            except ImportFileError as e:
                raise CommandError(str(e.message)) from None
            encoding = {"utf-8-sig": "UTF-8", "gb18030": "GB18030"}.get(table.encoding, table.encoding)
            self.stdout.write(f"{file}: {table.file_format.upper()}{' ' + encoding if encoding else ''}, "
                              f"{table.rows_total:,} rows, importing {self.kind} as {actor.username}"
                              f"{' (dry run)' if dry_run else ''}")
            for warning in table.warnings:
                self.stderr.write(f"Warning: {warning}")
            result = import_file(file, kind=self.kind, actor=actor, today=today, dry_run=dry_run,
                                 chunk_size=chunk_size, on_progress=progress, rejects_out=out,
                                 table=table, initial_load=initial_load)
        finally:
            if out is not None:
                out.close()
        for error in result.errors:
            key = " ".join(str(v) for v in error["key"].values() if v is not None)
            self.stderr.write(f"line {error['line']} {key}: {error['field']}: {error['reason']}")
        if result.rejected > len({e["line"] for e in result.errors}):
            self.stderr.write("… and more" + (f" (all in {rejects_out})" if rejects_out else
                                                " (use --rejects-out FILE to get all of them)"))
        changes = result.changes
        if changes.get("records"):  # a dry run of customers: what it would change (masked)
            per_field = ", ".join(f"{name} {n:,}" for name, n in changes["fields"].items())
            self.stdout.write(f"Would change {changes['records']:,} customers: {per_field}.")
            if changes["identity_records"]:
                self.stderr.write(f"Warning: {changes['identity_records']:,} would get a new name, ID or mobile, "
                                  f"e.g. {', '.join(r['cif'] for r in changes['identity_examples'][:5])}.")
            for record in changes["examples"]:
                self.stdout.write(f"  {record['cif']}: " + "; ".join(
                    f"{name} {old!s} → {new!s}" for name, old, new in record["changes"]))
        summary = (f"{'Dry run (nothing stored)' if dry_run else 'Done'}: {result.created:,} created, "
                   f"{result.updated:,} updated, {result.unchanged:,} unchanged, {result.rejected:,} rejected "
                   f"in {result.seconds:.1f} s{' (initial load: indexes rebuilt at the end)' if result.initial_load else ''}.")
        self.stdout.write(self.style.SUCCESS(summary) if not result.rejected else self.style.WARNING(summary))
