"""Segmentation forms: the policy editor, overrides, run triggers."""

from __future__ import annotations

from datetime import date

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from . import rules
from .constants import CardTier, ValueTier

# ---- policies ------------------------------------------------------------------------------------------------


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
