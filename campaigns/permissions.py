"""Who may do what with campaigns (django-rules). Which customers and campaigns an actor sees is org.access's.

- see campaigns, preview audiences, record outcomes on their contacts: RMs, supervisors, head office, keys with
  campaigns:read (outcomes: campaigns:write);
- create and change drafts, cancel: supervisors (for their branch) and head office;
- approve a launch: a supervisor or head office, never who created the campaign;
- push opt-outs: keys with consents:write.
"""

import rules

from org.access import is_head_office, is_rm, is_supervisor, key_has_scope
from org.constants import Scope


@rules.predicate
def key_reads_campaigns(actor):
    return key_has_scope(actor, Scope.CAMPAIGNS_READ) or key_has_scope(actor, Scope.CAMPAIGNS_WRITE)


@rules.predicate
def key_writes_campaigns(actor):
    return key_has_scope(actor, Scope.CAMPAIGNS_WRITE)


@rules.predicate
def created_it(actor, campaign):
    return campaign is not None and campaign.created_by_id is not None and campaign.created_by_id == actor.pk


is_manager = is_supervisor | is_head_office

rules.add_perm("campaigns.view_campaign", is_rm | is_manager | key_reads_campaigns)
rules.add_perm("campaigns.change_campaign", is_manager | key_writes_campaigns)
rules.add_perm("campaigns.approve_campaign", is_manager & ~created_it)
rules.add_perm("campaigns.record_outcome", is_rm | is_manager | key_writes_campaigns)
rules.add_perm("campaigns.push_opt_out", lambda actor: key_has_scope(actor, Scope.CONSENTS_WRITE))
