import base64
import binascii

from django.conf import settings
from django.http import Http404
from django.utils import timezone
from django.utils.http import parse_etags
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.collector import gc_paused
from core.errors import DomainError, ValidationFailed
from core.idempotency import idempotent
from customers import selectors, services
from customers.filters import CustomerFilter, HoldingFilter, InteractionFilter, SnapshotFilter, TaskFilter
from customers.ingest.children import holdings_upsert, snapshots_upsert
from customers.ingest.customers import customers_upsert
from customers.permissions import key_can_read_pii
from org.access import actor_ident
from org.constants import Scope

from .serializers import (
    CUSTOMER_LIST_FIELDS,
    BulkCustomersRequest,
    BulkHoldingsRequest,
    BulkResultSerializer,
    BulkSnapshotsRequest,
    ChangesPageSerializer,
    CustomerListSerializer,
    CustomerSerializer,
    CustomerWriteSerializer,
    HoldingSerializer,
    InteractionSerializer,
    InteractionWriteSerializer,
    RevealResultSerializer,
    RevealSerializer,
    SnapshotSerializer,
    TagsChangeSerializer,
    TaskCompleteSerializer,
    TaskSerializer,
    TaskSnoozeSerializer,
    TaskWriteSerializer,
    mask_row,
)


class BulkUpsertMixin:
    """``POST …/bulk/``: up to 5,000 records keyed by their external keys (Idempotency-Key honoured)."""

    bulk_upsert: staticmethod  # the kind's upsert (customers.ingest), called by name

    @action(detail=False, methods=["post"], url_path="bulk")
    @gc_paused()  # many short-lived acyclic objects per request: see core/collector.py
    @idempotent(owner=lambda request: actor_ident(request.user))
    def bulk(self, request):
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        limit = settings.BULK_MAX_RECORDS
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return _too_large(_("The request body is too large: send at most %(n)s records per request.")
                              % {"n": f"{limit:,}"})
        data = request.data
        records = data.get("records") if isinstance(data, dict) else None
        if not isinstance(records, list):
            raise ValidationFailed(fields={"records": [_("Send a JSON object with a list of records: "
                                                         "{\"records\": [...]}.")]})
        if len(records) > limit:
            return _too_large(_("At most %(limit)s records per request; this one has %(n)s. Split the batch.")
                              % {"limit": f"{limit:,}", "n": f"{len(records):,}"})
        try:
            result = self.bulk_upsert(records, actor=request.user, today=timezone.localdate(), source="api")
        finally:
            # Free the parsed body (its many objects) while the collector is still paused: left for later,
            # they would be traversed by the collections that its resumption sets off.
            records.clear()
        counts = result.as_dict()
        request._request.api_counts = {k: v for k, v in counts.items() if k != "errors"}
        return Response(counts)


def _encode_cursor(position):
    if position is None:
        return ""
    return base64.urlsafe_b64encode(f"{position[0]}.{position[1]}".encode()).decode().rstrip("=")


def _decode_cursor(value):
    if not value:
        return None
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
    txid, _sep, pk = raw.partition(".")
    return int(txid), int(pk)


def _too_large(message):
    return Response({"code": "payload_too_large", "detail": message, "errors": {}},
                    status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)


class PreconditionRequired(DomainError):
    status_code = 428
    code = "precondition_required"
    default_message = gettext_lazy("Send If-Match with the ETag of the customer you read: this API requires it "
                                   "for changes.")


def customer_etag(customer) -> str:
    """A strong ETag: the customer's id and the version of its row (see services.customer_version)."""
    return f'"{customer.pk}-{services.customer_version(customer)}"'


def expected_versions(request, customer):
    """The versions ``If-Match`` allows (None: no condition). ``*`` matches any version; weak or other
    customers' tags match none, so the write is refused (412)."""
    header = request.headers.get("If-Match")
    if header is None:
        if settings.API_REQUIRE_IF_MATCH:
            raise PreconditionRequired()
        return None
    tags = parse_etags(header)
    if tags == ["*"]:
        return None
    versions = set()
    for tag in tags:
        pk, _sep, version = tag.strip('"').partition("-")
        if tag.startswith('"') and pk == str(customer.pk) and version.isdigit():
            versions.add(int(version))
    return versions


def with_etag(response, customer):
    response["ETag"] = customer_etag(customer)
    return response


ETAG_HEADER = OpenApiParameter(
    "ETag", str, OpenApiParameter.HEADER, response=[200, 201], required=True,
    description="The version of this customer (strong). Send it back in `If-Match` to change the customer "
                "only if nobody changed it since.")
IF_MATCH = OpenApiParameter(
    "If-Match", str, OpenApiParameter.HEADER, required=False,
    description="The `ETag` of the customer as you read it: the change is refused with 412 if the customer "
                "changed since. Without it the change is made whatever the current version (unless the "
                "server requires it: `API_REQUIRE_IF_MATCH`, then 428).")
PRECONDITION_RESPONSES = {
    412: OpenApiResponse(description="`If-Match` does not match the current version: read the customer again."),
    428: OpenApiResponse(description="`If-Match` is missing and this server requires it."),
}


BULK_REPORT_EXAMPLE = OpenApiExample(
    "Report", response_only=True, status_codes=["200"],
    value={"created": 1, "updated": 0, "unchanged": 0, "rejected": 1, "errors": [
        {"index": 1, "key": {"cif": "CIF0000000002"}, "field": "id_number",
         "reason": "The ID's check character is wrong: please check the number for a typo."}]})
BULK_EXAMPLES = {
    "customers": OpenApiExample("Two customers", request_only=True, value={"records": [
        {"cif": "CIF0000000001", "name": "张伟", "branch": "BJ", "rm": "rm1", "id_type": "resident_id",
         "id_number": "11010519491231002X", "mobile": "+86 138 0013 8000", "tags": ["代发工资"]},
        {"cif": "CIF0000000002", "name": "李娜", "branch": "BJ", "id_type": "resident_id",
         "id_number": "110105199001010000"}]}),
    "snapshots": OpenApiExample("A monthly snapshot", request_only=True, value={"records": [
        {"cif": "CIF0000000001", "period": "2026-10-01", "aum": "523400.00", "aum_avg": "518000.00",
         "deposits": "200000.00", "wealth": "300000.00", "funds": "23400.00", "txn_count": 18,
         "last_txn_date": "2026-10-30", "contribution": "3120.55"}]}),
    "holdings": OpenApiExample("A holding", request_only=True, value={"records": [
        {"cif": "CIF0000000001", "account_no": "6217000010001234567", "product_code": "WM-FI90",
         "product_name": "稳盈90天", "product_type": "wealth", "product_risk": "R2", "balance": "300000.00",
         "opened_on": "2026-08-01", "matures_on": "2026-10-30"}]}),
}

BULK_RESPONSES = {200: BulkResultSerializer, 400: OpenApiResponse(description="Not a list of records."),
                  409: OpenApiResponse(description="Same Idempotency-Key still being processed."),
                  413: OpenApiResponse(description="More than 5,000 records."),
                  422: OpenApiResponse(description="Idempotency-Key reused with a different body.")}


class ScopedViewSetMixin:
    """Objects come from a scoped selector; anything out of scope is simply not found (404)."""

    def full_pii(self):
        return key_can_read_pii(self.request.user)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "full_pii": self.full_pii()}

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            raise
        except (ValueError, TypeError):
            raise Http404 from None


@extend_schema_view(
    list=extend_schema(responses=CustomerListSerializer(many=True),
                       summary="List customers in your scope (sensitive fields masked)"),
    retrieve=extend_schema(summary="One customer (sensitive fields masked)", parameters=[ETAG_HEADER]),
    create=extend_schema(request=CustomerWriteSerializer, responses={201: CustomerSerializer},
                         parameters=[ETAG_HEADER]),
    update=extend_schema(request=CustomerWriteSerializer, parameters=[IF_MATCH, ETAG_HEADER],
                         responses={200: CustomerSerializer, **PRECONDITION_RESPONSES},
                         summary="Replace a customer's fields (If-Match: only if unchanged since read)"),
    partial_update=extend_schema(request=CustomerWriteSerializer, parameters=[IF_MATCH, ETAG_HEADER],
                                 responses={200: CustomerSerializer, **PRECONDITION_RESPONSES},
                                 summary="Change some of a customer's fields (If-Match: only if unchanged "
                                         "since read)"),
    bulk=extend_schema(request=BulkCustomersRequest, responses=BULK_RESPONSES,
                       examples=[BULK_EXAMPLES["customers"], BULK_REPORT_EXAMPLE],
                       summary="Create or update up to 5,000 customers by CIF"),
)
class CustomerViewSet(BulkUpsertMixin, ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                      mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Customer profiles in the caller's scope. ID numbers, mobiles and credit codes are masked
    unless the API key has the ``pii:read`` scope."""

    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
    ordering_fields = ["name", "cif", "aum_latest", "updated_at", "created_at"]
    ordering = ["-aum_latest", "id"]
    bulk_upsert = staticmethod(customers_upsert)
    required_scopes = {
        "bulk": Scope.CUSTOMERS_WRITE, "changes": Scope.CUSTOMERS_READ,
        "list": Scope.CUSTOMERS_READ, "retrieve": Scope.CUSTOMERS_READ, "create": Scope.CUSTOMERS_WRITE,
        "update": Scope.CUSTOMERS_WRITE, "partial_update": Scope.CUSTOMERS_WRITE, "reveal": Scope.PII_READ,
        "tags": Scope.CUSTOMERS_WRITE,
    }

    def get_queryset(self):
        return selectors.customers_visible_to(self.request.user).select_related("branch", "rm")

    def list(self, request, *args, **kwargs):
        # values() + orjson instead of a ModelSerializer per row: same fields, several times faster.
        qs = self.filter_queryset(selectors.customers_visible_to(request.user))
        page = self.paginate_queryset(qs.values(*CUSTOMER_LIST_FIELDS))
        full = self.full_pii()
        return self.get_paginated_response([mask_row(row, full) for row in page])

    def create(self, request, *args, **kwargs):
        serializer = CustomerWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer = services.customer_create(actor=request.user, data=serializer.validated_data,
                                            today=timezone.localdate(), source="api")
        return with_etag(Response(self.get_serializer(customer).data, status=status.HTTP_201_CREATED), customer)

    def retrieve(self, request, *args, **kwargs):
        customer = self.get_object()
        return with_etag(Response(self.get_serializer(customer).data), customer)

    def update(self, request, *args, **kwargs):
        """Without ``If-Match`` the change is made whatever the current version (as before ETags); with it,
        only if the customer is still at that version (checked under the row lock in the service)."""
        customer = self.get_object()
        expected = expected_versions(request, customer)
        serializer = CustomerWriteSerializer(customer, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        customer = services.customer_update(actor=request.user, customer=customer,
                                            data=serializer.validated_data, today=timezone.localdate(),
                                            source="api", expected_version=expected)
        return with_etag(Response(self.get_serializer(customer).data), customer)

    @extend_schema(request=TagsChangeSerializer, parameters=[IF_MATCH, ETAG_HEADER],
                   responses={200: CustomerSerializer, 412: PRECONDITION_RESPONSES[412],
                              428: PRECONDITION_RESPONSES[428]},
                   summary="Add and remove tags (without replacing the list)")
    @action(detail=True, methods=["post"])
    def tags(self, request, pk=None):
        """Adds the tags in ``add`` and removes those in ``remove``, leaving the others as they are, so
        parallel clients adding different tags all keep theirs. Blank tags are ignored; a customer has at
        most 20 tags of at most 30 characters."""
        customer = self.get_object()
        expected = expected_versions(request, customer)
        serializer = TagsChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer = services.customer_tags_change(actor=request.user, customer=customer, source="api",
                                                 expected_version=expected, **serializer.validated_data)
        return with_etag(Response(self.get_serializer(customer).data), customer)

    @extend_schema(
        parameters=[
            OpenApiParameter("since", str, description="The `cursor` of the previous page; omit to start "
                             "from the beginning."),
            OpenApiParameter("limit", int, description="Rows per page (1–5,000, default 500)."),
        ],
        responses={200: ChangesPageSerializer, 400: OpenApiResponse(description="Malformed cursor or limit.")},
        summary="Customers changed since a cursor (stable, resumable)",
    )
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def changes(self, request):
        """Sync without rescanning: keep the returned ``cursor`` and pass it back as ``since``.

        Every customer that was created or changed after the cursor is returned once, oldest change
        first (a record changed again later comes again later, with its latest values). When
        ``has_more`` is false the client is up to date; poll again later with the same cursor.
        """
        errors = {}
        try:
            after = _decode_cursor(request.query_params.get("since"))
        except (ValueError, UnicodeDecodeError, binascii.Error):
            after = None
            errors["since"] = [_("Not a cursor returned by this endpoint.")]
        try:
            limit = int(request.query_params.get("limit", 500))
            if not 1 <= limit <= 5000:
                raise ValueError
        except ValueError:
            errors["limit"] = [_("Give a whole number from 1 to 5000.")]
        if errors:
            raise ValidationFailed(fields=errors)
        rows, last = selectors.customer_changes(request.user, after=after, limit=limit)
        full = self.full_pii()
        return Response({"results": [mask_row(r, full) for r in rows], "cursor": _encode_cursor(last),
                         "has_more": len(rows) == limit})

    @extend_schema(request=RevealSerializer, responses=RevealResultSerializer,
                   summary="Reveal one sensitive value of one customer (logged)")
    @action(detail=True, methods=["post"])
    def reveal(self, request, pk=None):
        customer = self.get_object()
        serializer = RevealSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        field = serializer.validated_data["field"]
        value = services.pii_reveal(actor=request.user, customer=customer, field=field,
                                    reason=serializer.validated_data["reason"],
                                    detail=serializer.validated_data.get("reason_detail", ""))
        return Response({"field": field, "value": value})


@extend_schema_view(bulk=extend_schema(request=BulkSnapshotsRequest, responses=BULK_RESPONSES,
                                       examples=[BULK_EXAMPLES["snapshots"], BULK_REPORT_EXAMPLE],
                                       summary="Create or update up to 5,000 monthly snapshots by CIF + period"))
class SnapshotViewSet(BulkUpsertMixin, ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Monthly financial snapshots pushed by core banking (``period`` is the month's first day)."""

    bulk_upsert = staticmethod(snapshots_upsert)
    serializer_class = SnapshotSerializer
    filterset_class = SnapshotFilter
    ordering_fields = ["period", "aum", "contribution"]
    ordering = ["customer_id", "-period"]
    required_scopes = {"list": Scope.SNAPSHOTS_READ, "retrieve": Scope.SNAPSHOTS_READ,
                       "bulk": Scope.SNAPSHOTS_WRITE}

    def get_queryset(self):
        return selectors.snapshots_visible_to(self.request.user)


@extend_schema_view(bulk=extend_schema(request=BulkHoldingsRequest, responses=BULK_RESPONSES,
                                       examples=[BULK_EXAMPLES["holdings"], BULK_REPORT_EXAMPLE],
                                       summary="Create or update up to 5,000 product holdings by CIF + account"))
class HoldingViewSet(BulkUpsertMixin, ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Product holdings (account numbers masked unless the key has ``pii:read``)."""

    bulk_upsert = staticmethod(holdings_upsert)
    serializer_class = HoldingSerializer
    filterset_class = HoldingFilter
    ordering_fields = ["balance", "opened_on", "matures_on"]
    ordering = ["customer_id", "id"]
    required_scopes = {"list": Scope.SNAPSHOTS_READ, "retrieve": Scope.SNAPSHOTS_READ,
                       "bulk": Scope.SNAPSHOTS_WRITE}

    def get_queryset(self):
        return selectors.holdings_visible_to(self.request.user)


@extend_schema_view(create=extend_schema(request=InteractionWriteSerializer,
                                         responses={201: InteractionSerializer}))
class InteractionViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = InteractionSerializer
    filterset_class = InteractionFilter
    ordering_fields = ["occurred_at"]
    ordering = ["-occurred_at", "-id"]
    required_scopes = {"list": Scope.CUSTOMERS_READ, "retrieve": Scope.CUSTOMERS_READ,
                       "create": Scope.INTERACTIONS_WRITE}

    def get_queryset(self):
        return selectors.interactions_visible_to(self.request.user)

    def create(self, request, *args, **kwargs):
        serializer = InteractionWriteSerializer(
            data=request.data, customers=selectors.customers_visible_to(request.user))
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        customer = data.pop("customer")
        interaction = services.interaction_log(actor=request.user, customer=customer, data=data,
                                               now=timezone.now())
        return Response(InteractionSerializer(interaction).data, status=status.HTTP_201_CREATED)


TASK_CLOSED = OpenApiResponse(description="The task is already done or cancelled.")


@extend_schema_view(create=extend_schema(request=TaskWriteSerializer, responses={201: TaskSerializer}))
class FollowUpTaskViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = TaskSerializer
    filterset_class = TaskFilter
    ordering_fields = ["due_date", "created_at"]
    ordering = ["due_date", "id"]
    required_scopes = {"list": Scope.CUSTOMERS_READ, "retrieve": Scope.CUSTOMERS_READ,
                       "create": Scope.INTERACTIONS_WRITE, "complete": Scope.INTERACTIONS_WRITE,
                       "snooze": Scope.INTERACTIONS_WRITE}

    def get_queryset(self):
        return selectors.tasks_visible_to(self.request.user)

    def create(self, request, *args, **kwargs):
        serializer = TaskWriteSerializer(data=request.data, customers=selectors.customers_visible_to(request.user))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        task = services.task_create(actor=request.user, customer=data["customer"], title=data["title"],
                                    due_date=data["due_date"], today=timezone.localdate())
        return Response(TaskSerializer(task).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TaskCompleteSerializer, responses={200: TaskSerializer, 409: TASK_CLOSED})
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        task = self.get_object()
        serializer = TaskCompleteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = services.task_complete(actor=request.user, task=task,
                                      outcome=serializer.validated_data["outcome"], now=timezone.now())
        return Response(TaskSerializer(task).data)

    @extend_schema(request=TaskSnoozeSerializer, responses={200: TaskSerializer, 409: TASK_CLOSED},
                   parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)])
    @action(detail=True, methods=["post"])
    def snooze(self, request, pk=None):
        task = self.get_object()
        serializer = TaskSnoozeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = services.task_snooze(actor=request.user, task=task, until=serializer.validated_data["until"],
                                    today=timezone.localdate())
        return Response(TaskSerializer(task).data)
