from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from rest_framework_api_key.admin import APIKeyModelAdmin

from .models import ApiKey, ApiKeyUse, Branch, PiiAccessLog, User


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "level", "parent", "path"]
    search_fields = ["code", "name"]
    list_filter = ["level"]


@admin.register(User)
class StaffAdmin(UserAdmin):
    list_display = ["username", "last_name", "first_name", "role", "branch", "is_active"]
    list_filter = ["role", "branch", "is_active"]
    list_select_related = ["branch"]
    fieldsets = UserAdmin.fieldsets + ((None, {"fields": ("role", "branch", "language")}),)


@admin.register(ApiKey)
class ApiKeyAdmin(APIKeyModelAdmin):
    list_display = [*APIKeyModelAdmin.list_display, "scopes", "branch"]


@admin.register(ApiKeyUse)
class ApiKeyUseAdmin(admin.ModelAdmin):
    list_display = ["at", "key", "method", "path", "status"]
    list_select_related = ["key"]
    list_filter = ["method", "status"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(PiiAccessLog)
class PiiAccessLogAdmin(admin.ModelAdmin):
    list_display = ["at", "user", "api_key", "customer_cif", "field", "reason"]
    list_select_related = ["user", "api_key"]
    list_filter = ["field"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
