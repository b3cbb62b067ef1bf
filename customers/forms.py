from django import forms
from django.contrib.postgres.forms import SimpleArrayField
from django.utils.translation import gettext_lazy as _

from org.selectors import branches_visible_to, staff_visible_to

from .constants import SENSITIVE_CUSTOMER_FIELDS, RevealReason
from .models import Customer, Interaction


class DateInput(forms.DateInput):
    input_type = "date"


class CustomerForm(forms.ModelForm):
    tags = SimpleArrayField(forms.CharField(max_length=30), required=False, label=_("Tags"),
                            help_text=_("Separate tags with commas."))
    # Typed as people write them (+86, spaces, dashes); the service normalises and checks them.
    mobile = forms.CharField(max_length=20, required=False, label=_("Mobile"))
    id_number = forms.CharField(max_length=32, required=False, label=_("ID number"))

    class Meta:
        model = Customer
        fields = [
            "cif", "kind", "name", "gender", "birth_date", "id_type", "id_number", "occupation", "income_band",
            "credit_code", "industry", "company_size", "legal_representative", "contact_person",
            "mobile", "email", "address", "consent_sms", "consent_email", "consent_phone", "consent_app",
            "do_not_contact", "risk_level", "risk_assessed_on", "lifecycle_stage", "branch", "rm", "tags", "notes",
        ]
        widgets = {"birth_date": DateInput, "risk_assessed_on": DateInput,
                   "notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["branch"].queryset = branches_visible_to(user)
        self.fields["rm"].queryset = staff_visible_to(user)
        if self.instance.pk:
            # Sensitive values are never sent to the browser: editing them means typing a new value.
            for field in SENSITIVE_CUSTOMER_FIELDS:
                self.initial[field] = ""
                self.fields[field].help_text = _("Leave empty to keep the current value.")
        for field in self.fields.values():
            css = "form-check-input" if isinstance(field.widget, forms.CheckboxInput) else (
                "form-select" if isinstance(field.widget, forms.Select) else "form-control")
            field.widget.attrs.setdefault("class", css)

    def clean(self):
        data = super().clean()
        if self.instance.pk:
            for field in SENSITIVE_CUSTOMER_FIELDS:
                if not data.get(field):
                    data[field] = getattr(self.instance, field)
        return data

    def changed_data_dict(self):
        return {f: self.cleaned_data[f] for f in self.Meta.fields if f in self.cleaned_data}

    def _post_clean(self):
        # Model validation runs once, in the service, with the cross-field rules.
        pass


class InteractionForm(forms.ModelForm):
    class Meta:
        model = Interaction
        fields = ["channel", "occurred_at", "outcome", "notes", "next_follow_up"]
        widgets = {
            "occurred_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "next_follow_up": DateInput,
            "notes": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)

    def _post_clean(self):
        pass


class SnoozeForm(forms.Form):
    until = forms.DateField(label=_("Snooze until"), widget=DateInput(attrs={"class": "form-control"}))


class DoneForm(forms.Form):
    outcome = forms.CharField(label=_("Outcome"), max_length=500, required=False,
                              widget=forms.TextInput(attrs={"class": "form-control"}))


class RevealForm(forms.Form):
    """Why a full sensitive value is shown (prefixed with the field: one form per masked value on a page).
    The service checks the reason again (and that "other" comes with a few words): one rule for page and API."""

    reason = forms.ChoiceField(label=_("Reason"), choices=[("", _("Choose a reason"))] + RevealReason.choices,
                               widget=forms.Select(attrs={"class": "form-select form-select-sm"}))
    reason_detail = forms.CharField(label=_("Details"), max_length=150, required=False,
                                    widget=forms.TextInput(attrs={"class": "form-control form-control-sm",
                                                                  "placeholder": _("Required for “other”")}))
