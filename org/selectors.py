"""Reads about the organisation: which branches and staff a viewer's scope covers."""

from .constants import Role
from .models import Branch, User


def branch_subtree_ids(branch: Branch) -> list[int]:
    """Ids of ``branch`` and every node below it (one indexed prefix query)."""
    return list(Branch.objects.filter(path__startswith=branch.path).values_list("id", flat=True))


def _scope_root(user) -> tuple[bool, Branch | None]:
    """(sees everything, root branch of the scope) for a staff user or an API-key principal."""
    if not user.is_authenticated:
        return False, None
    if getattr(user, "api_key", None) is not None:
        return user.branch is None, user.branch
    if user.is_superuser or user.role == Role.HEAD_OFFICE:
        return True, None
    if user.role == Role.SUPERVISOR:
        return False, user.branch
    return False, None


def branches_visible_to(user):
    """Branches a viewer may pick in filters and forms."""
    everything, root = _scope_root(user)
    if everything:
        return Branch.objects.all()
    if root is not None:
        return Branch.objects.filter(path__startswith=root.path)
    if getattr(user, "role", None) == Role.RM and user.branch_id:
        return Branch.objects.filter(path__startswith=user.branch.path)
    return Branch.objects.none()


def staff_visible_to(user):
    """Relationship managers a viewer may pick in filters and forms."""
    qs = User.objects.filter(is_active=True, role=Role.RM).select_related("branch").order_by("username")
    everything, root = _scope_root(user)
    if everything:
        return qs
    if root is not None:
        return qs.filter(branch__path__startswith=root.path)
    if getattr(user, "role", None) == Role.RM:
        return qs.filter(pk=user.pk)
    return qs.none()
