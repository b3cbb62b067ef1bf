"""Reads about the organisation: which branches a node covers."""

from .constants import Role
from .models import Branch


def branch_subtree_ids(branch: Branch) -> list[int]:
    """Ids of ``branch`` and every node below it (one indexed prefix query)."""
    return list(Branch.objects.filter(path__startswith=branch.path).values_list("id", flat=True))


def branches_visible_to(user):
    """Branches a user may pick in filters and forms."""
    if not user.is_authenticated:
        return Branch.objects.none()
    if user.role == Role.HEAD_OFFICE or user.is_superuser:
        return Branch.objects.all()
    if user.branch_id is None:
        return Branch.objects.none()
    return Branch.objects.filter(path__startswith=user.branch.path)


def staff_visible_to(user):
    """Staff a user may pick as a customer's RM (filters, forms, handover)."""
    from .models import User

    qs = User.objects.filter(is_active=True, role=Role.RM).select_related("branch")
    if not user.is_authenticated:
        return qs.none()
    if user.role == Role.HEAD_OFFICE or user.is_superuser:
        return qs
    if user.role == Role.SUPERVISOR and user.branch_id:
        return qs.filter(branch__path__startswith=user.branch.path)
    return qs.filter(pk=user.pk)
