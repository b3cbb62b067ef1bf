"""Segmentation forms: the policy editor, overrides, run triggers."""

from __future__ import annotations

from datetime import date

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from customers.constants import Channel

from . import rules
from .constants import CardTier, ValueTier
from .models import Policy
from .selectors import POLICY_GROUPS, SERVICE_FIELDS
from .services import POLICY_FIELDS, REJECT_REASON_MAX, plain_numbers

# ---- policies ------------------------------------------------------------------------------------------------


class PolicyForm(forms.ModelForm):
    """The editor of a draft: every setting, checked field by field and together (``rules.policy_problems``), so
    one submit shows every error beside its field. The service checks the same again when it saves."""

    class Meta:
        model = Policy
        fields = POLICY_FIELDS
        widgets = {"note": forms.TextInput(attrs={"maxlength": 200})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in POLICY_FIELDS:
            if name.endswith("_channels"):
                field = self.fields[name] = forms.MultipleChoiceField(
                    label=self.fields[name].label, choices=Channel.choices, required=False,
                    widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}))
                field.initial = getattr(self.instance, name)
            else:
                widget = self.fields[name].widget
                css = "form-check-input" if isinstance(widget, forms.CheckboxInput) else (
                    "form-select" if isinstance(widget, forms.Select) else "form-control")
                widget.attrs.setdefault("class", css)

    def clean(self):
        cleaned = super().clean()
        values = {f: cleaned.get(f) for f in POLICY_FIELDS if f not in self.errors}
        # Errors added here also keep the model's check constraints (the same rules) from being checked again.
        for field, message in rules.policy_problems(plain_numbers(values)).items():
            if field not in self.errors:
                self.add_error(field, message)
        return cleaned

    def groups(self):
        """(key, title, help, bound fields) per group of the detail page, service policy excluded."""
        return [(key, title, help_text, [self[f] for f, _kind in fields])
                for key, title, help_text, fields in POLICY_GROUPS]

    def service_rows(self):
        """Per value tier: (tier label, contact interval, dedicated RM, channels) bound fields."""
        labels = dict(ValueTier.choices)
        return [(labels[tier], self[days], self[dedicated], self[channels])
                for tier, days, dedicated, channels in SERVICE_FIELDS]


class PolicyRejectForm(forms.Form):
    reason = forms.CharField(label=_("Why send it back"), max_length=REJECT_REASON_MAX,
                             widget=forms.TextInput(attrs={"class": "form-control"}))


# ---- runs ----------------------------------------------------------------------------------------------------

class MonthField(forms.CharField):
    """A month as "2026-11" (an <input type="month">), cleaned to its first day."""

    widget = forms.TextInput(attrs={"type": "month"})

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            year, month = (int(part) for part in value.split("-"))
            return date(year, month, 1)
        except ValueError:
            raise forms.ValidationError(_("Give a month as YYYY-MM, e.g. 2026-11.")) from None


class RunStartForm(forms.Form):
    as_of = MonthField(label=_("Month to classify"), required=False,
                       help_text=_("Empty: the newest month core banking has sent."))


class PreviewForm(forms.Form):
    policy = forms.ModelChoiceField(queryset=None, label=_("Policy version"), empty_label=_("Please choose"))
    as_of = MonthField(label=_("Month"))

    def __init__(self, *args, policies, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["policy"].queryset = policies


# ---- overrides -----------------------------------------------------------------------------------------------


class OverrideForm(forms.Form):
    """Pin a customer's tiers (``services.override_set``); the checks are ``rules.override_problems``, shown on
    their fields before the confirmation step. ``confirm`` is set by the confirmation page's button."""

    value_tier = forms.ChoiceField(label=_("Value tier"), required=False,
                                   choices=[("", _("Keep the computed tier")), *ValueTier.choices])
    card_tier = forms.ChoiceField(label=_("Card tier"), required=False,
                                  choices=[("", _("Keep the tier the AUM holds")), *CardTier.choices])
    reason = forms.CharField(label=_("Reason"), required=False, max_length=300,
                             widget=forms.Textarea(attrs={"rows": 2}))
    expires_on = forms.DateField(label=_("Expires on"), widget=forms.DateInput(attrs={"type": "date"}),
                                 help_text=_("The override ends on this day; the computed tier applies again."))
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, today, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        for name, field in self.fields.items():
            if name != "confirm":
                field.widget.attrs.setdefault(
                    "class", "form-select" if isinstance(field.widget, forms.Select) else "form-control")

    def clean(self):
        data = super().clean()
        problems = rules.override_problems(
            reason=data.get("reason", ""), expires_on=data.get("expires_on"), value_tier=data.get("value_tier", ""),
            card_tier=data.get("card_tier", ""), today=self.today, max_days=settings.SEGMENTATION_OVERRIDE_MAX_DAYS)
        for field, message in problems.items():
            if field not in self.errors:
                self.add_error(field, message)
        return data
