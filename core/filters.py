from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.filters import OrderingFilter


class FilterBackend(DjangoFilterBackend):
    """django-filter, skipped when the request names none of the view's filters.

    Building a FilterSet deep-copies its filters and creates a form class on every request, a large share of
    an unfiltered list call (bench/README.md); an unfiltered list does not need it.
    """

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None:
            return queryset
        names = filterset_class.base_filters.keys()
        if not any(name in request.query_params for name in names):
            return queryset
        return super().filter_queryset(request, queryset, view)


class StableOrderingFilter(OrderingFilter):
    """Ordering that always ends with the primary key, so pages never overlap or skip rows."""

    def get_ordering(self, request, queryset, view):
        ordering = list(super().get_ordering(request, queryset, view) or [])
        if ordering and not any(o.lstrip("-") in ("id", "pk") for o in ordering):
            ordering.append("id")
        return ordering
