"""Segmentation pages: supervision (see views/__init__.py). The supervisor view of the pyramid, the Pareto curve,
contact compliance per RM and the branch comparison; the migration matrix between two runs and the customers of one
of its cells. Supervisors see their branch subtree, head office everything (``segmentation.view_supervision``);
anyone else gets a 404. Figures come from ``selectors`` (one aggregate query each); charts are drawn by
static/js/segmentation.js from the data the page carries as JSON (labels translated here)."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from org.permissions import can

from .. import selectors
from ..models import Run


def _require_supervision(request):
    if not can(request.user, "segmentation.view_supervision"):
        raise Http404


def _run_label(run: Run) -> str:
    label = _("%(month)s · policy v%(version)s") % {"month": date_format(run.as_of, "YEAR_MONTH_FORMAT"),
                                                     "version": run.policy.version}
    return _("%(run)s (in force)") % {"run": label} if run.is_current else label


def _chosen(runs: list[Run], value: str | None, default: Run | None) -> Run | None:
    """The run ``value`` (an id from the query string) names among ``runs``; ``default`` without one; 404 for an
    id that is not a completed run."""
    if not value:
        return default
    try:
        pk = int(value)
    except ValueError:
        raise Http404 from None
    for run in runs:
        if run.pk == pk:
            return run
    raise Http404


def _in_force(runs: list[Run]) -> Run | None:
    return next((r for r in runs if r.is_current), runs[0] if runs else None)


def _before(runs: list[Run], run: Run) -> Run:
    """The completed run before ``run`` (``runs`` is newest first); ``run`` itself when it is the oldest."""
    later = runs[runs.index(run) + 1:]
    return later[0] if later else run


def _number(value) -> float | None:
    return None if value is None else float(value)


def _charts(pyramid, pareto, comparison) -> dict:
    """What static/js/segmentation.js draws: numbers and translated labels only."""
    return {
        "pyramid": {
            "tiers": [t.label for t in pyramid.tiers],
            "series": [
                {"name": _("Customers (%)"), "data": [_number(t.customer_share) for t in pyramid.tiers]},
                {"name": _("AUM (%)"), "data": [_number(t.aum_share) for t in pyramid.tiers]},
                {"name": _("Contribution (%)"), "data": [_number(t.contribution_share) for t in pyramid.tiers]},
            ],
        },
        "pareto": {
            "points": [[float(x), float(y)] for x, y in pareto.points],
            "top": [selectors.PARETO_TOP, _number(pareto.top_share)],
            "names": {"curve": _("Share of contribution"), "even": _("Even spread"),
                      "top": _("Top %(percent)s %%") % {"percent": selectors.PARETO_TOP},
                      "x": _("Top customers (%)"), "y": _("Contribution (%)")},
        },
        "branches": {
            "names": [b.name for b in comparison],
            "series": [{"name": label, "data": [b.tiers[i] for b in comparison]}
                       for i, (_key, label) in enumerate(selectors.tier_keys("value"))],
        },
    }


@login_required
def overview(request):
    _require_supervision(request)
    runs = selectors.done_runs()
    run = _chosen(runs, request.GET.get("run"), _in_force(runs))
    context = {"runs": [(r, _run_label(r)) for r in runs], "run": run}
    if run is not None:
        figures = selectors.supervision(request.user, run, timezone.localdate())
        context.update(
            run_label=_run_label(run), pyramid=figures.pyramid, pareto=figures.pareto, comparison=figures.branches,
            compliance=figures.compliance, tier_labels=[label for _key, label in selectors.tier_keys("value")],
            charts=_charts(figures.pyramid, figures.pareto, figures.branches), pareto_top=selectors.PARETO_TOP)
    return render(request, "segmentation/supervision_overview.html", context)


def _two_runs(request, runs):
    """The (from, to) runs of the query string; default: the run in force and the completed run before it."""
    run_to = _chosen(runs, request.GET.get("to"), _in_force(runs))
    run_from = _chosen(runs, request.GET.get("from"), _before(runs, run_to) if run_to else None)
    dimension = request.GET.get("dimension", "value")
    if dimension not in selectors.DIMENSIONS:
        dimension = "value"
    return run_from, run_to, dimension


def _dimensions():
    return [("value", _("Value tiers")), ("card", _("Card tiers"))]


@login_required
def migration(request):
    _require_supervision(request)
    runs = selectors.done_runs()
    run_from, run_to, dimension = _two_runs(request, runs)
    context = {"runs": [(r, _run_label(r)) for r in runs], "run_from": run_from, "run_to": run_to,
               "dimension": dimension, "dimensions": _dimensions()}
    if run_to is not None:
        context.update(matrix=selectors.migration_matrix(request.user, run_from, run_to, dimension=dimension),
                       from_label=_run_label(run_from), to_label=_run_label(run_to),
                       base_query=urlencode({"from": run_from.pk, "to": run_to.pk, "dimension": dimension}))
    return render(request, "segmentation/supervision_migration.html", context)


@login_required
def movers(request):
    _require_supervision(request)
    runs = selectors.done_runs()
    run_from, run_to, dimension = _two_runs(request, runs)
    if run_to is None:
        raise Http404
    keys = dict(selectors.matrix_keys(dimension))
    from_tier, to_tier = request.GET.get("from_tier", ""), request.GET.get("to_tier", "")
    if from_tier not in keys or to_tier not in keys:
        raise Http404
    page = selectors.movers(request.user, run_from, run_to, from_tier, to_tier, dimension=dimension,
                            page=request.GET.get("page"))
    query = {"from": run_from.pk, "to": run_to.pk, "dimension": dimension, "from_tier": from_tier,
             "to_tier": to_tier}
    return render(request, "segmentation/supervision_movers.html", {
        "page": page, "query": urlencode(query), "from_label": _run_label(run_from), "to_label": _run_label(run_to),
        "from_tier": keys[from_tier], "to_tier": keys[to_tier], "dimension": dimension,
        "back_query": urlencode({"from": run_from.pk, "to": run_to.pk, "dimension": dimension}),
    })


urlpatterns = [
    path("supervision/", overview, name="supervision"),
    path("supervision/migration/", migration, name="migration"),
    path("supervision/migration/movers/", movers, name="movers"),
]
