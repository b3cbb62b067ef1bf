"""Signals of the organisation for the apps above it (they must not be imported here).

``calendar_changed(branch_id)``: a working calendar changed, after the change committed; ``branch_id`` None means
the bank's own days or a whole year, so every branch's calendar may have moved. Complaints recompute the due times
of their open complaints (org cannot know them)."""

from django.dispatch import Signal

calendar_changed = Signal()
