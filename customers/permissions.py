"""One predicate per rule (django-rules), used by views, the API and the admin alike.

Object predicates assume the object was fetched through ``selectors`` (so it is in scope);
they decide what the viewer may *do* with it. Roles and scopes are ``org.access``'s.
"""

import rules

from org.access import is_api_client, is_head_office, is_rm, is_supervisor, key_has_scope
from org.constants import Scope


@rules.predicate
def key_can_read_pii(user):
    return key_has_scope(user, Scope.PII_READ)


@rules.predicate
def key_can_write_customers(user):
    return key_has_scope(user, Scope.CUSTOMERS_WRITE)


is_customer_staff = is_rm | is_supervisor | is_head_office

rules.add_perm("customers.add_customer", is_customer_staff | key_can_write_customers)
rules.add_perm("customers.change_customer", is_customer_staff | key_can_write_customers)
rules.add_perm("customers.reveal_pii", is_customer_staff | key_can_read_pii)
rules.add_perm("customers.export_customers", is_supervisor | is_head_office)
rules.add_perm("customers.log_interaction", is_customer_staff | is_api_client)
# An opt-out pushed by an integration (an SMS gateway's 退订 replies), or recorded by staff.
rules.add_perm("customers.withdraw_consent", is_customer_staff | rules.predicate(
    lambda actor: key_has_scope(actor, Scope.CONSENTS_WRITE)))
# Bulk upserts and file imports: integration keys (their scope is checked per endpoint) and head office.
rules.add_perm("customers.bulk_upsert", is_head_office | is_api_client)
# The file-import pages and commands: head office only.
rules.add_perm("customers.import_files", is_head_office)
