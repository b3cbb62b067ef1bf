"""Segmentation forms: the policy editor, overrides, run triggers."""

from __future__ import annotations

from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _

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
