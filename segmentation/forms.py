"""Segmentation forms: the policy editor, overrides, run triggers."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from . import rules
from .constants import CardTier, ValueTier

# ---- policies ------------------------------------------------------------------------------------------------


# ---- runs ----------------------------------------------------------------------------------------------------


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
