from rest_framework.filters import OrderingFilter


class StableOrderingFilter(OrderingFilter):
    """Ordering that always ends with the primary key, so pages never overlap or skip rows."""

    def get_ordering(self, request, queryset, view):
        ordering = list(super().get_ordering(request, queryset, view) or [])
        if ordering and not any(o.lstrip("-") in ("id", "pk") for o in ordering):
            ordering.append("id")
        return ordering
