"""Extension points of the customer book, for the apps above it (dependency inversion).

The customer page, the customer list and the customers API belong to this app, which must not import the
apps built on it (``lint-imports``: segmentation → customers → org → core). An app above that adds something
to them registers it here, once, in its ``AppConfig.ready``; this module knows nothing of who registers what.

- ``customer_panel(fn)``: ``fn(request, customer) -> str`` — a finished, escaped HTML fragment (e.g.
  ``render_to_string``) shown at the top of the customer page's main column; "" shows nothing. It is called
  with a customer the viewer may see (fetched through ``customers.selectors``) and asks its own permissions.
- ``customer_filter(name, filter)``: a ``django_filters.Filter`` added to ``customers.filters.CustomerFilter``
  under ``name``: the customer list page (a select beside the others) and ``/api/v1/customers/`` (a query
  parameter in the schema) both get it. It filters with a callable ``method`` and must keep the query set-based
  (a subquery or EXISTS, never a query per row).
- ``customer_history(fn)``: ``fn(customer) -> list[customers.selectors.HistoryRow]`` — entries merged, newest
  first, into the page's profile history (e.g. tier changes): a fixed number of queries per customer.
"""

from __future__ import annotations

from collections.abc import Callable

_PANELS: list[Callable] = []
_HISTORY: list[Callable] = []
_FILTERS: list[str] = []


def customer_panel(fn: Callable) -> Callable:
    if fn not in _PANELS:
        _PANELS.append(fn)
    return fn


def customer_history(fn: Callable) -> Callable:
    if fn not in _HISTORY:
        _HISTORY.append(fn)
    return fn


def customer_filter(name: str, filter_) -> None:
    """Add ``filter_`` to CustomerFilter as ``name`` (a name CustomerFilter already has is refused)."""
    from .filters import CustomerFilter

    if name in CustomerFilter.base_filters and name not in _FILTERS:
        raise ValueError(f"CustomerFilter already has a filter named {name!r}")
    CustomerFilter.base_filters[name] = filter_
    if name not in _FILTERS:
        _FILTERS.append(name)


def panels(request, customer) -> list[str]:
    """The registered panels' fragments for one customer page (empty ones left out)."""
    return [html for html in (fn(request, customer) for fn in _PANELS) if html]


def history(customer) -> list:
    """The registered history sources' entries for one customer, in no particular order."""
    return [row for fn in _HISTORY for row in fn(customer)]


def filter_names() -> list[str]:
    """The names of the filters added to CustomerFilter, in the order they were registered."""
    return list(_FILTERS)
