from django.contrib import admin

from . import rules
from .models import Customer, CustomerChange, FinancialSnapshot, FollowUpTask, Holding, Interaction


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    """Read-only in the admin: every write goes through customers.services (rules, scope, audit)."""

    list_display = ["cif", "name", "kind", "branch", "rm", "masked_mobile", "lifecycle_stage", "aum_latest"]
    list_select_related = ["branch", "rm"]
    list_filter = ["kind", "lifecycle_stage", "risk_level"]
    search_fields = ["=cif", "name"]
    show_full_result_count = False
    exclude = ["name_bigrams", "id_number", "mobile"]

    @admin.display(description="mobile")
    def masked_mobile(self, obj):
        return rules.mask_mobile(obj.mobile)

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CustomerChange)
class CustomerChangeAdmin(admin.ModelAdmin):
    list_display = ["at", "customer", "actor", "api_key", "source"]
    list_select_related = ["customer", "actor", "api_key"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


for model in (FinancialSnapshot, Holding, Interaction, FollowUpTask):
    admin.site.register(model, list_select_related=["customer"], raw_id_fields=["customer"])
