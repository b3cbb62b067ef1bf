"""The complaint taxonomy and the SLA policies in the admin (head office), written through the services (checks,
audit); nothing is deleted: a category or a policy is retired (``active`` off) so past complaints keep theirs."""

from django import forms
from django.contrib import admin

from core.errors import DomainError
from core.forms import add_domain_errors

from . import permissions, services  # noqa: F401 (permissions: the rules the admin asks)
from .models import Category, SlaPolicy


class _ServiceForm(forms.ModelForm):
    """Runs the service in the form's validation: a refusal is shown beside the fields, nothing is saved."""

    service = None
    noun = ""
    actor = None

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        values = {name: self.cleaned_data[name] for name in self._meta.fields if name in self.cleaned_data}
        existing = {self.noun: self._meta.model.objects.get(pk=self.instance.pk)} if self.instance.pk else {}
        try:
            self.instance = type(self).service(actor=self.actor, values=values, **existing)
        except DomainError as refused:
            add_domain_errors(self, refused)

    def save(self, commit=True):
        return self.instance

    def save_m2m(self):
        pass


class CategoryForm(_ServiceForm):
    service, noun = staticmethod(services.category_save), "category"

    class Meta:
        model = Category
        fields = list(services.CATEGORY_FIELDS)


class SlaPolicyForm(_ServiceForm):
    service, noun = staticmethod(services.sla_policy_save), "policy"

    class Meta:
        model = SlaPolicy
        fields = list(services.POLICY_FIELDS)


class _SettingsAdmin(admin.ModelAdmin):
    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("complaints.view_settings")

    def has_add_permission(self, request):
        return request.user.has_perm("complaints.change_settings")

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("complaints.change_settings")

    def has_delete_permission(self, request, obj=None):
        return False

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def save_model(self, request, obj, form, change):
        pass  # saved by the service in the form's validation


@admin.register(Category)
class CategoryAdmin(_SettingsAdmin):
    form = CategoryForm
    list_display = ["code", "name", "parent", "active", "position"]
    list_filter = ["active"]
    search_fields = ["code", "name"]
    list_select_related = ["parent"]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(_SettingsAdmin):
    form = SlaPolicyForm
    list_display = ["name", "is_default", "active", "priority", "channel", "category", "first_response_seconds",
                    "first_response_mode", "resolution_seconds", "resolution_mode"]
    list_filter = ["active", "priority", "channel"]
    list_select_related = ["category"]
