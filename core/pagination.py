"""Page-number pagination whose count stops at a cap.

An exact COUNT(*) over a million visible customers costs more than the page itself; past
``CRM_LIST_COUNT_CAP`` the list says "10,000+" instead. The cap query is
``SELECT count(*) FROM (… LIMIT cap+1)``, constant in the size of the table.
"""

from django.conf import settings
from django.core.paginator import Paginator
from django.utils.functional import cached_property
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response


class CappedPaginator(Paginator):
    @cached_property
    def cap(self):
        return settings.CRM_LIST_COUNT_CAP

    @cached_property
    def count(self):
        # Without ORDER BY: the capped count then stops at the first cap+1 index entries it finds
        # instead of sorting every match first (bench/README.md).
        rows = self.object_list.order_by() if hasattr(self.object_list, "order_by") else self.object_list
        return rows[: self.cap + 1].count()

    @property
    def count_capped(self):
        return self.count > self.cap

    @property
    def display_count(self):
        return f"{self.cap:,}+" if self.count_capped else f"{self.count:,}"


class CappedPageNumberPagination(PageNumberPagination):
    django_paginator_class = CappedPaginator
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_paginated_response(self, data):
        paginator = self.page.paginator
        return Response({
            "count": min(paginator.count, paginator.cap),
            "count_capped": paginator.count_capped,
            "next": self.get_next_link(),
            "previous": self.get_previous_link(),
            "results": data,
        })

    def get_paginated_response_schema(self, schema):
        base = super().get_paginated_response_schema(schema)
        base["properties"]["count"]["description"] = "Number of rows, up to the cap (see count_capped)."
        base["properties"]["next"]["description"] = "URL of the next page, or null."
        base["properties"]["previous"]["description"] = "URL of the previous page, or null."
        base["properties"]["results"]["description"] = "The rows of this page."
        base["properties"]["count_capped"] = {
            "type": "boolean",
            "description": "True when there are more rows than `count` (the count stops at a cap).",
        }
        return base
