"""Who may open which home (django-rules). Which RMs and customers an actor sees is ``org.access``'s.

- the RM home: RMs (their own), supervisors and head office (the RMs of their scope);
- the team table (the RMs of a branch with their counts): supervisors and head office.
"""

import rules

from org.access import is_head_office, is_rm, is_supervisor

rules.add_perm("dashboards.view_home", is_rm | is_supervisor | is_head_office)
rules.add_perm("dashboards.view_team", is_supervisor | is_head_office)
