"""What complaints do when something below them changes (connected in apps.ready)."""

from . import tasks


def calendar_changed(sender, branch_id=None, **kwargs):
    """A working calendar changed (sent after the commit): the open complaints it governs get their due times
    computed again by a worker."""
    tasks.complaints_recompute.delay(branch_id)
