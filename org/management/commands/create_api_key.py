"""``manage.py create_api_key NAME --scopes customers:read,customers:write [--branch CODE] [--expires-days N]``."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from org.constants import Scope
from org.models import Branch
from org.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for an integration client and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Who uses the key, e.g. 'core-banking-nightly'.")
        parser.add_argument("--scopes", required=True,
                            help="Comma-separated scopes; one or more of: " + ", ".join(Scope.values))
        parser.add_argument("--branch", default=None,
                            help="Branch code: limit the key to this branch and everything below it.")
        parser.add_argument("--expires-days", type=int, default=None,
                            help="Days until the key expires (default: never).")

    def handle(self, *args, name, scopes, branch, expires_days, **options):
        name = name.strip()
        if not name:
            raise CommandError("Give the key a name.")
        requested = [s.strip() for s in scopes.split(",") if s.strip()]
        if not requested:
            raise CommandError(f"Give at least one scope with --scopes (valid: {', '.join(Scope.values)}).")
        unknown = [s for s in requested if s not in Scope.values]
        if unknown:
            plural = "s" if len(unknown) > 1 else ""
            raise CommandError(f"Unknown scope{plural}: {', '.join(unknown)}. "
                               f"Valid scopes: {', '.join(Scope.values)}.")
        requested = list(dict.fromkeys(requested))
        node = None
        if branch:
            try:
                node = Branch.objects.get(code=branch)
            except Branch.DoesNotExist:
                raise CommandError(f"No branch with code {branch!r}.") from None
        expiry = None
        if expires_days is not None:
            if expires_days < 1:
                raise CommandError("--expires-days must be 1 or more.")
            expiry = timezone.now() + timedelta(days=expires_days)

        api_key, key = api_key_create(name=name, scopes=requested, branch=node, expiry_date=expiry)
        expires = f"{timezone.localtime(expiry):%Y-%m-%d %H:%M %Z}" if expiry else "never"
        self.stdout.write(f"Created API key {api_key.prefix}… '{api_key.name}' scopes={','.join(requested)} "
                          f"branch={node.code if node else '(all)'} expires={expires}")
        self.stdout.write("Key (shown once; send it as 'Authorization: Api-Key <key>'):")
        self.stdout.write(key)
