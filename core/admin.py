"""The kernel's records in the admin, read-only: audit events and the outbox (who may view them is the
permission rules' business: ``core.view_auditevent``, ``core.view_outboxmessage``)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from . import audit
from .models import AuditEvent, OutboxMessage


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable by whoever may view it, never written here."""

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EventTypeFilter(admin.SimpleListFilter):
    title = _("event")
    parameter_name = "type"

    def lookups(self, request, model_admin):
        return audit.type_choices()

    def queryset(self, request, queryset):
        return queryset.filter(type=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "user", "api_key", "on_behalf_of", "type_label", "object_type", "object_repr", "changes"]
    list_select_related = ["user", "on_behalf_of"]
    list_filter = [EventTypeFilter, "object_type"]
    search_fields = ["object_repr", "object_id"]

    @admin.display(description=_("event"), ordering="type")
    def type_label(self, obj):
        return obj.get_type_display()


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "topic", "created", "state", "attempts", "available_at", "delivered_at", "last_error"]
    list_filter = ["topic"]
    search_fields = ["topic"]

    @admin.display(description=_("state"))
    def state(self, obj):
        if obj.delivered_at is not None:
            return _("Delivered")
        return _("Given up") if obj.available_at is None else _("Waiting")
