from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.serializers import StrictMixin
from customers import rules, selectors
from customers.constants import SENSITIVE_CUSTOMER_FIELDS, RevealReason
from customers.models import Customer, FinancialSnapshot, FollowUpTask, Holding, Interaction
from org.models import Branch, User


class StrictSerializer(StrictMixin, serializers.Serializer):
    """Rejects fields it does not know, naming each one (a typo must not be silently dropped)."""


class BoundedDateField(serializers.DateField):
    """A date from 1900-01-01 to 2100-12-31 (a field-level 400 otherwise)."""

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not rules.date_in_bounds(day):
            raise serializers.ValidationError(rules.DATE_BOUNDS_MESSAGE)
        return day


class BoundedDateTimeField(serializers.DateTimeField):
    """A moment whose date is from 1900-01-01 to 2100-12-31 (a field-level 400 otherwise)."""

    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        if not rules.date_in_bounds(moment):
            raise serializers.ValidationError(rules.DATE_BOUNDS_MESSAGE)
        return moment


class CrmModelSerializer(serializers.ModelSerializer):
    """ModelSerializer whose date and datetime inputs are bounded (see BoundedDateField)."""

    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping,
                                models.DateField: BoundedDateField, models.DateTimeField: BoundedDateTimeField}


def mask_row(row: dict, full: bool) -> dict:
    """Mask the sensitive values of one output row unless the viewer may see them in full."""
    if not full:
        for field in SENSITIVE_CUSTOMER_FIELDS:
            if row.get(field):
                row[field] = rules.MASKERS[field](row[field])
        if row.get("account_no"):
            row["account_no"] = rules.mask_account_no(row["account_no"])
    return row


class MaskedModelSerializer(CrmModelSerializer):
    def to_representation(self, instance):
        return mask_row(super().to_representation(instance), self.context.get("full_pii", False))


CUSTOMER_LIST_FIELDS = selectors.CUSTOMER_LIST_FIELDS


class CustomerListSerializer(serializers.Serializer):
    """Documents the list rows; the list itself is built from ``values()`` (see CustomerViewSet.list)."""

    id = serializers.IntegerField()
    cif = serializers.CharField()
    kind = serializers.CharField()
    name = serializers.CharField()
    gender = serializers.CharField()
    birth_date = serializers.DateField(allow_null=True)
    id_type = serializers.CharField()
    id_number = serializers.CharField(help_text=_("Masked unless the API key has the pii:read scope."))
    mobile = serializers.CharField(help_text=_("Masked unless the API key has the pii:read scope."))
    credit_code = serializers.CharField()
    lifecycle_stage = serializers.CharField()
    risk_level = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    aum_latest = serializers.DecimalField(max_digits=18, decimal_places=2)
    last_txn_date = serializers.DateField(allow_null=True)
    branch = serializers.IntegerField()
    rm = serializers.IntegerField(allow_null=True)
    do_not_contact = serializers.BooleanField()
    updated_at = serializers.DateTimeField()


class CustomerSerializer(MaskedModelSerializer):
    branch_name = serializers.CharField(source="branch.name", read_only=True)
    rm_name = serializers.CharField(source="rm.display_name", read_only=True, default="")

    class Meta:
        model = Customer
        exclude = ["name_bigrams"]
        read_only_fields = ["aum_latest", "last_txn_date", "created_at", "updated_at"]


class CustomerWriteSerializer(StrictSerializer, CrmModelSerializer):
    branch = serializers.PrimaryKeyRelatedField(queryset=Branch.objects.all(), required=False)
    rm = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), required=False, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=30), max_length=20, required=False)
    mobile = serializers.CharField(max_length=20, required=False, allow_blank=True,
                                   help_text=_("Mainland mobile; +86, spaces and dashes are accepted and removed."))

    class Meta:
        model = Customer
        exclude = ["id", "name_bigrams", "aum_latest", "last_txn_date", "created_at", "updated_at"]
        extra_kwargs = {"cif": {"validators": []}}  # uniqueness is the service's, with a clear message


class TagsChangeSerializer(StrictSerializer):
    add = serializers.ListField(child=serializers.CharField(max_length=30, allow_blank=True), max_length=20,
                                required=False, default=list, help_text=_("Tags to add (blank ones are ignored)."))
    remove = serializers.ListField(child=serializers.CharField(allow_blank=True), max_length=50, required=False,
                                   default=list, help_text=_("Tags to remove (absent ones are ignored)."))


class RevealSerializer(StrictSerializer):
    field = serializers.ChoiceField(choices=[(f, f) for f in rules.MASKERS], help_text=_("Which value to reveal."))
    reason = serializers.ChoiceField(choices=RevealReason.choices, help_text=_(
        "Why the full value is needed; logged with the reveal."))
    reason_detail = serializers.CharField(max_length=150, required=False, allow_blank=True, help_text=_(
        "A few words; required when the reason is \"other\"."))


class RevealResultSerializer(serializers.Serializer):
    field = serializers.CharField()
    value = serializers.CharField()


class SnapshotSerializer(CrmModelSerializer):
    cif = serializers.CharField(source="customer.cif", read_only=True)

    class Meta:
        model = FinancialSnapshot
        fields = "__all__"


class HoldingSerializer(MaskedModelSerializer):
    cif = serializers.CharField(source="customer.cif", read_only=True)

    class Meta:
        model = Holding
        fields = "__all__"


class InteractionSerializer(CrmModelSerializer):
    staff_name = serializers.CharField(source="staff.display_name", read_only=True, default="")

    class Meta:
        model = Interaction
        fields = "__all__"
        read_only_fields = ["staff", "created_at"]


class InteractionWriteSerializer(StrictSerializer, CrmModelSerializer):
    class Meta:
        model = Interaction
        fields = ["customer", "channel", "occurred_at", "outcome", "notes", "next_follow_up"]
        extra_kwargs = {"customer": {"queryset": Customer.objects.none()}}

    def __init__(self, *args, customers=None, **kwargs):
        super().__init__(*args, **kwargs)
        if customers is not None:
            self.fields["customer"].queryset = customers


class TaskSerializer(CrmModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)

    class Meta:
        model = FollowUpTask
        fields = "__all__"
        read_only_fields = ["assignee", "status", "outcome", "completed_at", "created_at", "source_interaction"]


class TaskWriteSerializer(StrictSerializer, CrmModelSerializer):
    class Meta:
        model = FollowUpTask
        fields = ["customer", "title", "due_date"]

    def __init__(self, *args, customers=None, **kwargs):
        super().__init__(*args, **kwargs)
        if customers is not None:
            self.fields["customer"].queryset = customers


class TaskCompleteSerializer(StrictSerializer):
    outcome = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class TaskSnoozeSerializer(StrictSerializer):
    until = BoundedDateField()


class BulkErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text=_("Position of the record in the request (0-based)."))
    key = serializers.DictField(help_text=_("The record's external key, e.g. {\"cif\": \"CIF0000000001\"}."))
    field = serializers.CharField(help_text=_("The field at fault (non_field_errors for the record as a whole)."))
    reason = serializers.CharField()


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField(help_text=_("Records equal to what is stored: nothing was written."))
    rejected = serializers.IntegerField()
    errors = BulkErrorSerializer(many=True, help_text=_("One entry per rejected field; a rejected record "
                                                        "is not written at all, the others are."))


def bulk_request_serializer(name, record_serializer):
    """Schema of a bulk request: {"records": [<record>, …]} (documentation only; parsing is column-wise)."""
    return type(name, (serializers.Serializer,), {
        "records": record_serializer(many=True, help_text=_("At most 5,000 records.")),
        "__module__": __name__,
    })


class BulkCustomerRecordSerializer(CustomerWriteSerializer):
    branch = serializers.CharField(required=False, help_text=_("Branch code (or id)."))
    rm = serializers.CharField(required=False, allow_null=True,
                               help_text=_("The relationship manager's username (or id)."))


class BulkSnapshotRecordSerializer(CrmModelSerializer):
    cif = serializers.CharField(help_text=_("The customer's CIF."))

    class Meta:
        model = FinancialSnapshot
        exclude = ["id", "customer"]


class BulkHoldingRecordSerializer(CrmModelSerializer):
    cif = serializers.CharField(help_text=_("The customer's CIF."))

    class Meta:
        model = Holding
        exclude = ["id", "customer"]


BulkCustomersRequest = bulk_request_serializer("BulkCustomersRequest", BulkCustomerRecordSerializer)
BulkSnapshotsRequest = bulk_request_serializer("BulkSnapshotsRequest", BulkSnapshotRecordSerializer)
BulkHoldingsRequest = bulk_request_serializer("BulkHoldingsRequest", BulkHoldingRecordSerializer)


class ChangesPageSerializer(serializers.Serializer):
    results = CustomerListSerializer(many=True)
    cursor = serializers.CharField(help_text=_("Pass back as `since` to continue after the last row."))
    has_more = serializers.BooleanField(help_text=_("True when more changes are waiting: ask again at once."))
