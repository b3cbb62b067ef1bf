"""Where a bulk writer (an integration key or head office) may write: the branches of its scope."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from org.api.authentication import ApiClient
from org.constants import Role
from org.models import Branch

from .columns import as_objects


@dataclass
class Scope:
    all_branches: bool
    branch_ids: frozenset[int]

    @classmethod
    def of(cls, actor) -> Scope:
        if isinstance(actor, ApiClient):
            root = actor.branch
        elif actor.is_superuser or actor.role == Role.HEAD_OFFICE:
            root = None
        else:
            return cls(False, frozenset())  # bulk writes are for integration keys and head office
        if root is None:
            return cls(True, frozenset())
        ids = Branch.objects.filter(path__startswith=root.path).values_list("id", flat=True)
        return cls(False, frozenset(ids))

    def allows(self, branch_ids) -> np.ndarray:
        if self.all_branches:
            return np.ones(len(branch_ids), dtype=bool)
        return np.fromiter((b in self.branch_ids for b in as_objects(branch_ids)), dtype=bool, count=len(branch_ids))


def actor_ids(actor) -> tuple[int | None, int | None]:
    """(user id, API key id) of the writer, as the history rows store it."""
    if isinstance(actor, ApiClient):
        return None, actor.api_key.pk
    return actor.pk, None

