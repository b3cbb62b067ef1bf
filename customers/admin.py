"""Customers in the admin: read-only (every write goes through customers.services: rules, scope, audit), and
sensitive values masked as everywhere else (rules.MASKERS); a full value is only ever shown through a logged
reveal in the app."""

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyAdmin

from . import rules
from .models import Customer, CustomerChange, FinancialSnapshot, FollowUpTask, Holding, Interaction


def masked(field: str, value):
    """The value as the admin may show it: masked when it is one of the sensitive fields."""
    masker = rules.MASKERS.get(field)
    return masker(value) if masker is not None and isinstance(value, str) else value


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    list_display = ["cif", "name", "kind", "branch", "rm", "masked_mobile", "lifecycle_stage", "aum_latest"]
    list_select_related = ["branch", "rm"]
    list_filter = ["kind", "lifecycle_stage", "risk_level"]
    search_fields = ["=cif", "name"]
    show_full_result_count = False
    exclude = ["name_bigrams", "id_number", "mobile", "credit_code"]
    readonly_fields = ["masked_id_number", "masked_mobile", "masked_credit_code"]

    @admin.display(description=_("ID number"))
    def masked_id_number(self, obj):
        return masked("id_number", obj.id_number)

    @admin.display(description=_("mobile"))
    def masked_mobile(self, obj):
        return masked("mobile", obj.mobile)

    @admin.display(description=_("unified social credit code"))
    def masked_credit_code(self, obj):
        return masked("credit_code", obj.credit_code)


@admin.register(CustomerChange)
class CustomerChangeAdmin(ReadOnlyAdmin):
    list_display = ["at", "customer", "actor", "api_key", "source", "changed_fields"]
    list_select_related = ["customer", "actor", "api_key"]
    exclude = ["changes"]
    readonly_fields = ["masked_changes"]

    @admin.display(description=_("fields"))
    def changed_fields(self, obj):
        return ", ".join(obj.changes)

    @admin.display(description=_("changes"))
    def masked_changes(self, obj):
        """old → new per field, sensitive values masked."""
        return format_html("<ul>{}</ul>", format_html_join(
            "", "<li>{}: {} → {}</li>",
            ((field, masked(field, old), masked(field, new)) for field, (old, new) in obj.changes.items())))


@admin.register(Holding)
class HoldingAdmin(ReadOnlyAdmin):
    list_display = ["customer", "masked_account_no", "product_name", "product_type", "balance", "status"]
    list_select_related = ["customer"]
    list_filter = ["product_type", "status"]
    exclude = ["account_no"]
    readonly_fields = ["masked_account_no"]

    @admin.display(description=_("account number"))
    def masked_account_no(self, obj):
        return masked("account_no", obj.account_no)


@admin.register(FinancialSnapshot)
class FinancialSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["customer", "period", "aum"]
    list_select_related = ["customer"]


@admin.register(Interaction)
class InteractionAdmin(ReadOnlyAdmin):
    list_display = ["customer", "occurred_at", "channel", "outcome"]
    list_select_related = ["customer"]


@admin.register(FollowUpTask)
class FollowUpTaskAdmin(ReadOnlyAdmin):
    list_display = ["customer", "title", "due_date", "status"]
    list_select_related = ["customer"]
