"""org.access: for every kind of actor, what it sees (customers, branches, staff) and where it may write.

Actors: each role of the shared world, plus a superuser (created with the default role, RM, and no branch),
inactive users, staff without a branch, anonymous callers and API keys (every branch, one subtree, no scopes).
"""

import pytest
from django.contrib.auth.models import AnonymousUser

from customers.selectors import customers_visible_to
from org import access
from org.access import AccessScope, ApiClient, scope_of
from org.constants import Role, Scope
from org.permissions import can
from org.selectors import branches_visible_to, staff_visible_to

from .builders import ALL_SCOPES, ApiKeyFactory, HeadOfficeUserFactory, RMFactory, SupervisorFactory

BRANCHES = ("HO", "B1", "B1A", "B2")


def make_actor(world, who):
    """The actor called ``who``: a member of the world, or an extra one made for the test."""
    if hasattr(world, who):
        return getattr(world, who)
    if who == "anonymous":
        return AnonymousUser()
    if who == "nobody":
        return None
    if who == "superuser":  # as ``createsuperuser`` makes one: the default role (RM) and no branch
        return HeadOfficeUserFactory(username="root", role=Role.RM, branch=None, is_superuser=True)
    if who == "inactive_ho":
        return HeadOfficeUserFactory(username="gone_ho", branch=world.ho, is_active=False)
    if who == "inactive_sup":
        return SupervisorFactory(username="gone_sup", branch=world.b1, is_active=False)
    if who == "inactive_rm":
        return RMFactory(username="gone_rm", branch=world.b1, is_active=False)
    if who == "sup_no_branch":
        return SupervisorFactory(username="sup_nowhere", branch=None)
    if who == "rm_no_branch":
        return RMFactory(username="rm_nowhere", branch=None)
    if who == "key":
        return ApiClient(ApiKeyFactory(scopes=ALL_SCOPES))
    if who == "key_b2":
        return ApiClient(ApiKeyFactory(scopes=ALL_SCOPES, branch=world.b2))
    if who == "key_no_scopes":
        return ApiClient(ApiKeyFactory(scopes=[]))
    raise KeyError(who)


# who → (customers seen, branches seen, RMs pickable, branches it may place customers in)
MATRIX = {
    "rm": ({"c_rm", "c_rm_outlet"}, {"B1", "B1A"}, {"rm"}, {"B1", "B1A"}),
    "other_rm": ({"c_other"}, {"B1", "B1A"}, {"other_rm"}, {"B1", "B1A"}),
    "rm_b2": ({"c_b2"}, {"B2"}, {"rm_b2"}, {"B2"}),
    "sup_b1": ({"c_rm", "c_rm_outlet", "c_other"}, {"B1", "B1A"}, {"rm", "other_rm"}, {"B1", "B1A"}),
    "sup_b2": ({"c_b2"}, {"B2"}, {"rm_b2"}, {"B2"}),
    "ho_user": ({"c_rm", "c_rm_outlet", "c_other", "c_b2"}, set(BRANCHES), {"rm", "other_rm", "rm_b2"},
                set(BRANCHES)),
    "superuser": ({"c_rm", "c_rm_outlet", "c_other", "c_b2"}, set(BRANCHES), {"rm", "other_rm", "rm_b2", "root"},
                  set(BRANCHES)),
    "co_b1": (set(), set(), set(), set()),
    "inactive_ho": (set(), set(), set(), set()),
    "inactive_sup": (set(), set(), set(), set()),
    "inactive_rm": (set(), set(), set(), set()),
    "sup_no_branch": (set(), set(), set(), set()),
    "rm_no_branch": (set(), set(), {"rm_nowhere"}, set()),
    "anonymous": (set(), set(), set(), set()),
    "nobody": (set(), set(), set(), set()),
    "key": ({"c_rm", "c_rm_outlet", "c_other", "c_b2"}, set(BRANCHES), {"rm", "other_rm", "rm_b2"}, set(BRANCHES)),
    "key_b2": ({"c_b2"}, {"B2"}, {"rm_b2"}, {"B2"}),
    "key_no_scopes": ({"c_rm", "c_rm_outlet", "c_other", "c_b2"}, set(BRANCHES), {"rm", "other_rm", "rm_b2"},
                      set(BRANCHES)),
}


@pytest.mark.parametrize("who", list(MATRIX))
def test_what_each_actor_sees_and_where_it_may_place_customers(world, who):
    actor = make_actor(world, who)
    customers, branches, rms, places = MATRIX[who]
    names = {pk: name for name, pk in ((n, c.pk) for n, c in world.customers.items())}
    assert {names[pk] for pk in customers_visible_to(actor).values_list("pk", flat=True)} == customers
    assert {b.code for b in branches_visible_to(actor)} == branches
    assert {u.username for u in staff_visible_to(actor)} == rms
    scope = scope_of(actor)
    assert {code for code in BRANCHES if scope.may_place(getattr(world, code.lower()).pk)} == places
    assert not scope.may_place(None)


@pytest.mark.parametrize(("who", "expected"), [
    ("ho_user", ("everything", None)), ("superuser", ("everything", None)), ("key", ("everything", None)),
    ("key_no_scopes", ("everything", None)),
    ("sup_b1", ("b1", None)), ("key_b2", ("b2", None)), ("rm", ("b1", "rm")), ("rm_no_branch", (None, "rm")),
    ("co_b1", (None, None)), ("inactive_ho", (None, None)), ("inactive_rm", (None, None)),
    ("sup_no_branch", (None, None)), ("anonymous", (None, None)), ("nobody", (None, None)),
])
def test_scope_of_each_actor(world, who, expected):
    actor = make_actor(world, who)
    root, own_book = expected
    scope = scope_of(actor)
    assert scope.everything is (root == "everything")
    assert scope.root_id == (getattr(world, root).pk if root not in (None, "everything") else None)
    assert scope.rm_id == (actor.pk if own_book else None)


@pytest.mark.parametrize(("who", "keeps"), [
    # May the actor leave a customer with: no RM, itself, another RM?
    ("rm", (False, True, False)),
    ("rm_no_branch", (False, True, False)),
    ("sup_b1", (True, True, True)),
    ("ho_user", (True, True, True)),
    ("superuser", (True, True, True)),
    ("key_b2", (True, True, True)),
])
def test_an_rm_keeps_customers_only_in_their_own_book(world, who, keeps):
    actor = make_actor(world, who)
    scope = scope_of(actor)
    assert (scope.may_keep(None), scope.may_keep(actor.pk), scope.may_keep(world.rm_b2.pk)) == keeps


ROLES = {  # who → the role predicates that hold
    "rm": {"is_staff_user", "is_rm"},
    "sup_b1": {"is_staff_user", "is_supervisor"},
    "co_b1": {"is_staff_user", "is_complaint_officer"},
    "ho_user": {"is_staff_user", "is_head_office"},
    "superuser": {"is_staff_user", "is_head_office"},  # a superuser is head office, whatever their role
    "inactive_ho": set(),
    "inactive_rm": set(),
    "anonymous": set(),
    "nobody": set(),
    "key": {"is_api_client"},
    "key_no_scopes": {"is_api_client"},
}
PREDICATES = ("is_staff_user", "is_head_office", "is_supervisor", "is_rm", "is_complaint_officer", "is_api_client")


@pytest.mark.parametrize("who", list(ROLES))
def test_role_predicates(world, who):
    actor = make_actor(world, who)
    assert {name for name in PREDICATES if getattr(access, name)(actor)} == ROLES[who]


@pytest.mark.parametrize(("who", "perms"), [
    ("rm", {"customers.add_customer", "customers.change_customer", "customers.reveal_pii",
            "customers.log_interaction"}),
    ("sup_b1", {"customers.add_customer", "customers.change_customer", "customers.reveal_pii",
                "customers.log_interaction", "customers.export_customers"}),
    ("ho_user", {"customers.add_customer", "customers.change_customer", "customers.reveal_pii",
                 "customers.log_interaction", "customers.export_customers", "customers.bulk_upsert",
                 "customers.import_files", "org.view_audit"}),
    ("co_b1", set()),
    ("inactive_ho", set()),
    ("inactive_rm", set()),
    ("anonymous", set()),
    ("key", {"customers.add_customer", "customers.change_customer", "customers.reveal_pii",
             "customers.log_interaction", "customers.bulk_upsert"}),
    ("key_no_scopes", {"customers.log_interaction", "customers.bulk_upsert"}),
])
def test_what_each_actor_may_do(world, who, perms):
    every = {"customers.add_customer", "customers.change_customer", "customers.reveal_pii",
             "customers.log_interaction", "customers.export_customers", "customers.bulk_upsert",
             "customers.import_files", "org.view_audit"}
    actor = make_actor(world, who)
    assert {perm for perm in every if can(actor, perm)} == perms


def test_actor_helpers(world):
    key = ApiKeyFactory(scopes=[Scope.CUSTOMERS_READ])
    client = ApiClient(key)
    assert (access.user_of(client), access.api_key_of(client)) == (None, key)
    assert access.actor_ids(client) == (None, key.pk)
    assert access.actor_ident(client) == f"key:{key.prefix}"
    assert access.key_has_scope(client, Scope.CUSTOMERS_READ) and not access.key_has_scope(client, Scope.PII_READ)

    assert (access.user_of(world.rm), access.api_key_of(world.rm)) == (world.rm, None)
    assert access.actor_ids(world.rm) == (world.rm.pk, None)
    assert access.actor_ident(world.rm) == f"user:{world.rm.pk}"
    assert not access.key_has_scope(world.ho_user, Scope.CUSTOMERS_READ)

    assert access.user_of(AnonymousUser()) is None and access.user_of(None) is None
    assert access.actor_ids(None) == (None, None)


def test_branch_subtree(world):
    assert access.branch_subtree_ids(world.ho.pk) == {world.ho.pk, world.b1.pk, world.b1a.pk, world.b2.pk}
    assert access.branch_subtree_ids(world.b1.pk) == {world.b1.pk, world.b1a.pk}
    assert access.branch_subtree_ids(world.b1a.pk) == {world.b1a.pk}
    assert access.branch_subtree_ids(None) == frozenset()


def test_a_code_with_an_underscore_is_no_wildcard(world):
    """Branch codes may hold "_", which LIKE reads as any character: the subtree escapes it."""
    from .builders import BranchFactory

    a_b = BranchFactory(code="A_B", parent=world.ho)
    BranchFactory(code="AXB", parent=world.ho)  # "/HO/AXB/" would match "/HO/A_B/%" unescaped
    assert access.branch_subtree_ids(a_b.pk) == {a_b.pk}


def test_the_subtree_is_read_once_per_scope(world, django_assert_num_queries):
    scope = scope_of(world.sup_b1)
    with django_assert_num_queries(1):
        assert scope.may_place(world.b1a.pk) and not scope.may_place(world.b2.pk)
        assert scope.branch_ids == {world.b1.pk, world.b1a.pk}


def test_the_scope_is_a_value():
    assert AccessScope(root_id=3) == AccessScope(root_id=3)
    with pytest.raises(AttributeError):
        AccessScope().everything = True
