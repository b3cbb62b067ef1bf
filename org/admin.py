"""The organisation in the admin: head office manages branches, staff and API keys here, through org.services.

Every write goes through a service (rules, audit event); what has no service is read-only. Access is head
office's (org.permissions): the admin asks ``has_perm``, which the rules backend answers.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import APIKey

from core.admin import ReadOnlyAdmin

from . import permissions, services  # noqa: F401 (permissions: registers the rules the admin asks)
from .constants import Scope
from .models import ApiKey, ApiKeyUse, Branch, PiiAccessLog, User

# rest_framework_api_key registers its own (unused) APIKey model: keys made there would not be this project's
# keys (no scopes, no branch) and could not authenticate. Only org.ApiKey is offered.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


class HeadOfficeModelAdmin(admin.ModelAdmin):
    """Shown on the admin index to whoever may view it (Django's default asks for any stored permission)."""

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False  # nothing here is deleted: branches and staff are referenced, keys are revoked


def _apply_errors(form, error: ValidationError):
    """A service's ValidationError shown on the admin form, field by field where it names fields."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


class ServiceFormMixin:
    """Runs the service in the form's validation (a rejected change is shown on the form, nothing is saved);
    ``save_model`` then has nothing left to do but hand the saved object to the admin."""

    def _post_clean(self):
        super()._post_clean()
        if not self.errors:
            try:
                self.instance = self.run_service()
            except ValidationError as e:
                _apply_errors(self, e)

    def save(self, commit=True):
        return self.instance

    def save_m2m(self):
        pass


# --- Branches ---

class BranchAddForm(ServiceFormMixin, forms.ModelForm):
    class Meta:
        model = Branch
        fields = ["code", "name", "level", "parent"]

    def run_service(self):
        data = self.cleaned_data
        return services.branch_create(code=data["code"], name=data["name"], level=data["level"],
                                      parent=data["parent"], actor=self.actor)


class BranchChangeForm(ServiceFormMixin, forms.ModelForm):
    class Meta:
        model = Branch
        fields = ["name"]

    def run_service(self):
        return services.branch_rename(branch=self.instance, name=self.cleaned_data["name"], actor=self.actor)


@admin.register(Branch)
class BranchAdmin(HeadOfficeModelAdmin):
    list_display = ["code", "name", "level", "parent", "path"]
    search_fields = ["code", "name"]
    list_filter = ["level"]
    list_select_related = ["parent"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = BranchChangeForm if obj is not None else BranchAddForm
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def get_fields(self, request, obj=None):
        return ["code", "name", "level", "parent", "path"] if obj is not None else ["code", "name", "level", "parent"]

    def get_readonly_fields(self, request, obj=None):
        return ["code", "level", "parent", "path"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        pass  # saved by the service in the form's validation


# --- Staff ---

class StaffCreationForm(ServiceFormMixin, UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ["username", "last_name", "first_name", "email", "role", "branch"]

    def run_service(self):
        data = self.cleaned_data
        return services.staff_create(username=data["username"], password=data["password1"], role=data["role"],
                                     branch=data["branch"], first_name=data["first_name"],
                                     last_name=data["last_name"], email=data["email"], actor=self.actor)


class StaffChangeForm(ServiceFormMixin, forms.ModelForm):
    class Meta:
        model = User
        fields = ["last_name", "first_name", "email", "role", "branch", "language", "is_active"]

    def run_service(self):
        changes = {field: self.cleaned_data[field] for field in services.STAFF_FIELDS if field in self.cleaned_data}
        return services.staff_update(user=self.instance, actor=self.actor, **changes)


@admin.register(User)
class StaffAdmin(UserAdmin, HeadOfficeModelAdmin):
    list_display = ["username", "last_name", "first_name", "role", "branch", "is_active", "last_login"]
    list_filter = ["role", "branch", "is_active"]
    list_select_related = ["branch"]
    form = StaffChangeForm
    add_form = StaffCreationForm
    fieldsets = (
        (None, {"fields": ("username", "password_status")}),
        (_("Personal info"), {"fields": ("last_name", "first_name", "email", "language")}),
        (_("Role and branch"), {"fields": ("role", "branch", "is_active", "is_staff", "is_superuser")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"fields": ("username", "password1", "password2")}),
        (_("Personal info"), {"fields": ("last_name", "first_name", "email")}),
        (_("Role and branch"), {"fields": ("role", "branch")}),
    )
    readonly_fields = ["username", "password_status", "is_staff", "is_superuser", "last_login", "date_joined"]
    filter_horizontal = []

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    @admin.display(description=_("password"))
    def password_status(self, obj):
        text = gettext("set") if obj.has_usable_password() else gettext("not set")
        url = reverse("admin:auth_user_password_change", args=[obj.pk])
        return format_html('{} · <a href="{}">{}</a>', text, url, gettext("Set a new password"))

    def has_change_permission(self, request, obj=None):
        # Head office manages staff, not the superusers above it (their password or role).
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        pass  # saved by the service in the form's validation


# --- API keys ---

class ApiKeyForm(ServiceFormMixin, forms.ModelForm):
    scopes = forms.MultipleChoiceField(label=_("scopes"), choices=Scope.choices, required=False,
                                       widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "branch", "expiry_date"]

    def run_service(self):
        data = {field: self.cleaned_data[field] for field in ApiKeyForm.Meta.fields if field in self.cleaned_data}
        if self.instance._state.adding:
            api_key, self.generated_key = services.api_key_create(actor=self.actor, **data)
            return api_key
        return services.api_key_update(key=self.instance, actor=self.actor, **data)


@admin.register(ApiKey)
class ApiKeyAdmin(HeadOfficeModelAdmin):
    list_display = ["name", "prefix", "scopes", "branch", "created", "expiry_date", "revoked"]
    list_filter = ["revoked", "created"]
    list_select_related = ["branch"]
    search_fields = ["name", "prefix"]
    form = ApiKeyForm
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        fields = ["name", "scopes", "branch", "expiry_date"]
        return fields if obj is None else ["prefix", *fields, "created", "revoked"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["prefix", "created", "revoked", *(("name", "scopes", "branch", "expiry_date") if obj.revoked else ())]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def save_model(self, request, obj, form, change):
        key = getattr(form, "generated_key", None)
        if key:
            # Shown this once: only the key's hash is stored.
            messages.warning(request, gettext(
                "The API key for “%(name)s” is: %(key)s — copy it now and store it safely: it is shown only this "
                "once.") % {"name": obj.name, "key": key})

    @admin.action(description=_("Revoke the selected API keys"), permissions=["change"])
    def revoke(self, request, queryset):
        revoked = sum(services.api_key_revoke(key=key, actor=request.user) for key in queryset)
        self.message_user(request, gettext("%(count)d API keys revoked.") % {"count": revoked}, messages.SUCCESS)


# --- Logs: read-only ---

@admin.register(ApiKeyUse)
class ApiKeyUseAdmin(ReadOnlyAdmin):
    list_display = ["at", "key", "method", "path", "status"]
    list_select_related = ["key"]
    list_filter = ["method", "status"]


@admin.register(PiiAccessLog)
class PiiAccessLogAdmin(ReadOnlyAdmin):
    list_display = ["at", "user", "api_key", "customer_cif", "field", "reason"]
    list_select_related = ["user", "api_key"]
    list_filter = ["field"]
