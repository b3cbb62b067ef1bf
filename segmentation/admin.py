"""Read-only admin pages: policies, runs and overrides are written through the segmentation pages and services
(versioning, four eyes, audit), never here."""

from django.contrib import admin

from core.admin import ReadOnlyAdmin

from .models import Override, Policy, Run


@admin.register(Policy)
class PolicyAdmin(ReadOnlyAdmin):
    list_display = ["version", "status", "note", "created_by", "approved_by", "published_at"]
    list_filter = ["status"]


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = ["id", "as_of", "policy", "status", "is_current", "trigger", "started_at", "finished_at",
                    "customers_done", "customers_total"]
    list_filter = ["status", "trigger"]
    exclude = ["ranking"]


@admin.register(Override)
class OverrideAdmin(ReadOnlyAdmin):
    list_display = ["customer", "value_tier", "card_tier", "expires_on", "created_by", "created_at", "ended_at"]
    raw_id_fields = ["customer"]
