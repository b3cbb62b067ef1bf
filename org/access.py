"""Who may see what, and where they may write: the one place that decides access.

An actor is a member of staff (``User``: relationship manager, branch supervisor, complaint officer, head
office, superuser) or an integration client (``ApiClient``: a request made with an API key). ``scope_of``
answers for any of them (DOMAIN.md §1):

- head office and superusers → every branch;
- branch supervisor → their branch subtree;
- relationship manager → their own book (the customers assigned to them); they place customers in their
  branch subtree, and only in their own book;
- complaint officer → nothing through the customer book; the complaints of their branch subtree
  (``complaint_scope_of``), with the complainants' data only of the complaints they handle (purpose-bound
  access, ``sees_complainant``);
- API key → every branch, or its branch subtree when the key is limited to one; what it may do is
  decided by its scopes (``key_has_scope``), per endpoint;
- anyone else (anonymous, an inactive user, no role) → nothing.

A new kind of access (as complaint officers' purpose-bound access was) is added here, as a function of the
actor, never as a role check in an app.
"""

from dataclasses import dataclass
from functools import cached_property

import rules
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import F, QuerySet, Subquery

from core.expressions import EqualsAny

from .constants import Role
from .models import ApiKey, Branch, User


class ApiClient:
    """The principal of a request made with an API key (a machine, never a human login)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_superuser = False
    role = None
    pk = None
    id = None
    branch_id = None

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key
        self.branch_id = api_key.branch_id

    def __str__(self):
        return f"api-key:{self.api_key.name}"

    def has_scope(self, scope: str) -> bool:
        return self.api_key.has_scope(scope)


# --- the actor ---

def user_of(actor) -> User | None:
    """The member of staff acting (None for an API key or an anonymous caller)."""
    if actor is None or isinstance(actor, ApiClient) or not actor.is_authenticated:
        return None
    return actor


def api_key_of(actor) -> ApiKey | None:
    """The API key acting (None for a member of staff or an anonymous caller)."""
    return actor.api_key if isinstance(actor, ApiClient) else None


def actor_ids(actor) -> tuple[int | None, str | None]:
    """(user id, API key id) of an actor, for the actor columns of an audit row."""
    user, key = user_of(actor), api_key_of(actor)
    return (user.pk if user else None), (key.pk if key else None)


def actor_ident(actor) -> str:
    """A short, stable name of the caller for counters and keyed records: ``key:<prefix>`` or ``user:<id>``.

    An API key's pk is "<prefix>.<hash>" (about 100 characters); its prefix is unique and short.
    """
    key = api_key_of(actor)
    return f"key:{key.prefix}" if key is not None else f"user:{actor.pk}"


# --- role predicates (django-rules predicates: callable, and composable with | & ~) ---

@rules.predicate
def is_api_client(actor) -> bool:
    return isinstance(actor, ApiClient)


@rules.predicate
def is_staff_user(actor) -> bool:
    """A signed-in, active member of staff (not an API key)."""
    return (actor is not None and not isinstance(actor, ApiClient) and bool(actor.is_authenticated)
            and bool(actor.is_active))


def _has_role(actor, role: str) -> bool:
    # A superuser is head office, whatever their role says.
    return is_staff_user(actor) and not actor.is_superuser and actor.role == role


@rules.predicate
def is_head_office(actor) -> bool:
    """Head office, or a superuser."""
    return is_staff_user(actor) and (actor.is_superuser or actor.role == Role.HEAD_OFFICE)


@rules.predicate
def is_supervisor(actor) -> bool:
    return _has_role(actor, Role.SUPERVISOR)


@rules.predicate
def is_rm(actor) -> bool:
    return _has_role(actor, Role.RM)


@rules.predicate
def is_complaint_officer(actor) -> bool:
    return _has_role(actor, Role.COMPLAINT_OFFICER)


def key_has_scope(actor, scope: str) -> bool:
    """The actor is an API key holding ``scope`` (an ``org.constants.Scope``)."""
    return isinstance(actor, ApiClient) and actor.has_scope(scope)


# --- the branch tree ---

def branch_subtree(branch_id: int | None) -> QuerySet[Branch]:
    """The branch ``branch_id`` and every branch below it (one query when evaluated)."""
    root_path = Branch.objects.filter(pk=branch_id).order_by().values("path")[:1]
    return Branch.objects.filter(path__startswith=Subquery(root_path))


def branch_subtree_ids(branch_id: int | None) -> frozenset[int]:
    """Ids of the branch ``branch_id`` and every branch below it."""
    return frozenset(branch_subtree(branch_id).order_by().values_list("id", flat=True))


# --- the scope ---

@dataclass(frozen=True)
class AccessScope:
    """What an actor sees and where it writes.

    ``everything``: every branch. Else ``root_id``: the branch subtree it sees and places customers in
    (none when None). ``rm_id``: an RM's own book: of the rows that have an RM, it sees only its own, and it
    keeps customers only in its own book.
    """

    everything: bool = False
    root_id: int | None = None
    rm_id: int | None = None

    @cached_property
    def branch_ids(self) -> frozenset[int]:
        """Ids of the branches of the subtree (one query, made once); empty without a subtree."""
        return branch_subtree_ids(self.root_id) if self.root_id is not None else frozenset()

    def branches(self) -> QuerySet[Branch]:
        """The branches in scope (pickers in filters and forms)."""
        if self.everything:
            return Branch.objects.all()
        if self.root_id is None:
            return Branch.objects.none()
        return branch_subtree(self.root_id)

    def filter(self, qs: QuerySet, *, branch: str, rm: str | None = None, semijoin: bool = False) -> QuerySet:
        """``qs`` narrowed to the scope. ``branch``: the lookup of a row's branch id (``"branch_id"``);
        ``rm``: the lookup of a row's RM id, for rows that belong to an RM's book. ``semijoin``: ``rm`` goes through
        one relation (``"customer__rm_id"``) and is asked as ``customer_id = ANY(ARRAY(SELECT id … WHERE rm_id = …))``
        (core.expressions.EqualsAny): the RM's rows are found through the relation's index instead of the related row
        of every candidate being probed."""
        if self.everything:
            return qs
        if self.rm_id is not None and rm is not None:
            if semijoin:
                relation, field = rm.split("__", 1)
                related = qs.model._meta.get_field(relation).related_model
                book = related.objects.filter(**{field: self.rm_id}).order_by().values("pk")
                return qs.filter(EqualsAny(F(f"{relation}_id"), ArraySubquery(book)))
            return qs.filter(**{rm: self.rm_id})
        if self.root_id is None:
            return qs.none()
        return qs.filter(**{f"{branch}__in": self.branch_ids})

    def may_place(self, branch_id: int | None) -> bool:
        """May the actor put a customer in this branch?"""
        if branch_id is None:
            return False
        return self.everything or branch_id in self.branch_ids

    def may_keep(self, rm_id: int | None) -> bool:
        """May the actor leave a customer with this RM (None: no RM)? An RM keeps customers only in their book."""
        return self.rm_id is None or rm_id == self.rm_id


NOTHING = AccessScope()


def scope_of(actor) -> AccessScope:
    """What ``actor`` (a member of staff, an ``ApiClient`` or an anonymous user) may see and where it may write."""
    if isinstance(actor, ApiClient):
        return AccessScope(everything=actor.branch_id is None, root_id=actor.branch_id)
    if not is_staff_user(actor):
        return NOTHING
    if is_head_office(actor):
        return AccessScope(everything=True)
    if is_supervisor(actor):
        return AccessScope(root_id=actor.branch_id)
    if is_rm(actor):
        return AccessScope(root_id=actor.branch_id, rm_id=actor.pk)
    return NOTHING


# --- complaints: purpose-bound access ---

def complaint_scope_of(actor) -> AccessScope:
    """Which complaints ``actor`` sees: head office every one; a supervisor, and a complaint officer, those handled
    in their branch subtree; an RM those of the customers in their book (``rm`` lookup: the customer's RM); an API
    key those of its branches (what it may do: its ``complaints:*`` scopes); anyone else none."""
    if is_complaint_officer(actor):
        return AccessScope(root_id=actor.branch_id)
    return scope_of(actor)


def sees_complainant(actor, *, handler_id: int | None) -> bool:
    """Whether ``actor``, who sees a complaint (``complaint_scope_of``), also sees who complained and how to reach
    them. A complaint officer sees complainants' data only for the complaints they handle (purpose-bound access);
    whoever else sees the complaint sees its complainant."""
    if is_complaint_officer(actor):
        return handler_id is not None and handler_id == actor.pk
    return is_staff_user(actor) or is_api_client(actor)


def may_handle_complaint(user, branch_id: int) -> bool:
    """Whether ``user`` can be the handler of a complaint of branch ``branch_id``: an active member of staff who sees
    every complaint of that branch (an officer or supervisor of it or of a branch above it, head office)."""
    if not is_staff_user(user):
        return False
    scope = complaint_scope_of(user)
    return scope.rm_id is None and scope.may_place(branch_id)
