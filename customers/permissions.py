"""One predicate per rule (django-rules), used by views, the API and the admin alike.

Object predicates assume the object was fetched through ``selectors`` (so it is in scope);
they decide what the viewer may *do* with it.
"""

import rules

from org.api.authentication import ApiClient
from org.constants import Role, Scope


@rules.predicate
def is_api_client(user):
    return isinstance(user, ApiClient)


@rules.predicate
def is_rm(user):
    return getattr(user, "role", None) == Role.RM


@rules.predicate
def is_supervisor(user):
    return getattr(user, "role", None) == Role.SUPERVISOR


@rules.predicate
def is_head_office(user):
    return getattr(user, "role", None) == Role.HEAD_OFFICE or getattr(user, "is_superuser", False)


@rules.predicate
def key_can_read_pii(user):
    return isinstance(user, ApiClient) and user.has_scope(Scope.PII_READ)


@rules.predicate
def key_can_write_customers(user):
    return isinstance(user, ApiClient) and user.has_scope(Scope.CUSTOMERS_WRITE)


is_customer_staff = is_rm | is_supervisor | is_head_office

rules.add_perm("customers.add_customer", is_customer_staff | key_can_write_customers)
rules.add_perm("customers.change_customer", is_customer_staff | key_can_write_customers)
rules.add_perm("customers.reveal_pii", is_customer_staff | key_can_read_pii)
rules.add_perm("customers.export_customers", is_supervisor | is_head_office)
rules.add_perm("customers.log_interaction", is_customer_staff | is_api_client)
rules.add_perm("org.view_audit", is_head_office)
# Bulk upserts and file imports: integration keys (their scope is checked per endpoint) and head office.
rules.add_perm("customers.bulk_upsert", is_head_office | is_api_client)
# The file-import pages and commands: head office only.
rules.add_perm("customers.import_files", is_head_office)


def can(user, perm, obj=None) -> bool:
    """``rules`` check that also works for API-key principals (which are not Django users)."""
    return rules.has_perm(perm, user, obj)
