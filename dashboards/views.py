"""The home page (``/``): an RM's start page, or for a supervisor and head office the RMs of a branch with their
counts, each RM's home one click away (``?rm=<id>``). Outside the viewer's scope (another RM's id for an RM, an RM
or a branch outside a supervisor's subtree) it is a 404, never a hint. Staff without a home (complaint officers) go
to the customer list, as ``/`` always did."""

import re

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone

from org.models import Branch, User
from org.permissions import can

from . import selectors


def _id(request, name: str) -> int | None:
    """The id in the query parameter ``name`` (None when absent; anything but a positive integer: a 404)."""
    value = request.GET.get(name)
    if value in (None, ""):
        return None
    if not re.fullmatch(r"[0-9]{1,18}", value):
        raise Http404
    return int(value)


@login_required
def home(request):
    if not can(request.user, "dashboards.view_home"):
        return redirect("customers:list")
    today = timezone.localdate()
    try:
        rm = selectors.home_rm(request.user, _id(request, "rm"))
    except User.DoesNotExist:
        raise Http404 from None
    context = {"today": today, "sees_team": can(request.user, "dashboards.view_team")}
    if rm is not None:
        context["home"] = selectors.rm_home(request.user, rm, today=today)
        context["own"] = rm.pk == request.user.pk
        return render(request, "dashboards/home.html", context)
    try:
        branch = selectors.team_branch(request.user, _id(request, "branch"))
    except Branch.DoesNotExist:
        raise Http404 from None
    context["team"] = selectors.team(request.user, branch=branch, today=today, page=request.GET.get("page"))
    context["branches"] = selectors.team_branches(request.user)
    context["query"] = f"branch={branch.pk}" if branch is not None else ""
    return render(request, "dashboards/home.html", context)
