"""Where the writer of a batch may write (``org.access``), asked of whole columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from org.access import AccessScope, scope_of

from .columns import as_objects


@dataclass(frozen=True)
class Scope:
    access: AccessScope

    @classmethod
    def of(cls, actor) -> Scope:
        return cls(scope_of(actor))

    def allows(self, branch_ids) -> np.ndarray:
        """Rows whose branch the writer may write in."""
        if self.access.everything:
            return np.ones(len(branch_ids), dtype=bool)
        allowed = self.access.branch_ids
        return np.fromiter((b in allowed for b in as_objects(branch_ids)), dtype=bool, count=len(branch_ids))

    def keeps(self, rm_ids) -> np.ndarray:
        """Rows the writer may leave with their RM: an RM keeps customers only in its own book."""
        if self.access.rm_id is None:
            return np.ones(len(rm_ids), dtype=bool)
        return np.fromiter((r == self.access.rm_id for r in as_objects(rm_ids)), dtype=bool, count=len(rm_ids))
