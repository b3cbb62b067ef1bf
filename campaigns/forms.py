"""Campaign pages' forms: the editor (the audience filter as fields, the control group in percent, channels, the two
templates, the offer and the schedule) and an RM's outcome. The editor's ``values()`` is what ``services.campaign_save``
takes; the service checks everything again (templates' variables, the start, the control share)."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.forms import StyledForm
from customers.constants import LifecycleStage, ProductRisk, ProductType, RiskLevel
from org.access import scope_of
from org.selectors import staff_visible_to
from segmentation.constants import CardTier, ValueTier

from .constants import CampaignStatus, Exclusion, MessageChannel, Outcome

MULTI = ("value_tier", "card_tier", "lifecycle_stage", "risk_level")
NUMBERS = ("age_min", "age_max")
CHOSEN = ("product_held", "product_not_held")


def _checkboxes():
    return forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"})


def _blank(choices) -> list:
    return [("", "—"), *choices]


class CampaignForm(StyledForm):
    name = forms.CharField(label=_("Name"), max_length=100)
    goal = forms.CharField(label=_("Goal"), max_length=300, required=False,
                           help_text=_("What the campaign should achieve, e.g. 200 new wealth-management accounts."))
    value_tier = forms.MultipleChoiceField(label=_("Customer tier"), choices=ValueTier.choices, required=False,
                                           widget=_checkboxes())
    card_tier = forms.MultipleChoiceField(label=_("Card tier"), choices=CardTier.choices, required=False,
                                          widget=_checkboxes())
    lifecycle_stage = forms.MultipleChoiceField(label=_("Lifecycle stage"), choices=LifecycleStage.choices,
                                                required=False, widget=_checkboxes())
    risk_level = forms.MultipleChoiceField(label=_("Risk tolerance"), choices=RiskLevel.choices, required=False,
                                           widget=_checkboxes())
    tags = forms.CharField(label=_("Tags"), max_length=300, required=False,
                           help_text=_("Any of these tags, separated by commas."))
    branch = forms.ModelChoiceField(label=_("Branch"), queryset=None, required=False, empty_label=_("All in scope"))
    rm = forms.ModelChoiceField(label=_("Relationship manager"), queryset=None, required=False,
                                empty_label=_("All"))
    age_min = forms.IntegerField(label=_("Age from"), min_value=0, max_value=120, required=False)
    age_max = forms.IntegerField(label=_("Age to"), min_value=0, max_value=120, required=False)
    birthday_month = forms.TypedChoiceField(label=_("Birthday month"), coerce=int, empty_value=None, required=False,
                                            choices=_blank([(m, str(m)) for m in range(1, 13)]))
    product_held = forms.ChoiceField(label=_("Holds the product"), choices=_blank(ProductType.choices),
                                     required=False)
    product_not_held = forms.ChoiceField(label=_("Does not hold the product"), choices=_blank(ProductType.choices),
                                         required=False)
    control_percent = forms.IntegerField(label=_("Control group (%)"), min_value=0, max_value=50, initial=0,
                                         help_text=_("A share of the audience, 0 to 50 percent, held out to measure the uplift."))
    channels = forms.MultipleChoiceField(label=_("Channels"), choices=MessageChannel.choices, widget=_checkboxes(),
                                         help_text=_("Each customer is contacted once, on the first of these they "
                                                     "consented to; an RM task goes to their RM."))
    template_zh = forms.CharField(label=_("Message (Chinese)"), required=False, max_length=500,
                                  widget=forms.Textarea(attrs={"rows": 3}),
                                  help_text=_("Variables: {name}, {surname}, {honorific}, {rm}, {branch}. An SMS gets "
                                              "the opt-out line."))
    template_en = forms.CharField(label=_("Message (English)"), required=False, max_length=500,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    product_risk = forms.ChoiceField(label=_("Offered product's risk"), choices=_blank(ProductRisk.choices),
                                     required=False, help_text=_("A product offer reaches only customers it suits."))
    product_type = forms.ChoiceField(label=_("Conversion: product opened"), choices=_blank(ProductType.choices),
                                     required=False)
    starts_at = forms.DateTimeField(label=_("Starts"), required=False,
                                    widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                               format="%Y-%m-%dT%H:%M"))
    attribution_days = forms.IntegerField(label=_("Attribution window (days)"), min_value=1, max_value=365,
                                          initial=30)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["branch"].queryset = scope_of(user).branches().order_by("path")
        self.fields["rm"].queryset = staff_visible_to(user)

    @classmethod
    def initial_of(cls, campaign) -> dict:
        a = campaign.audience or {}
        initial = {name: getattr(campaign, name) for name in (
            "name", "goal", "template_zh", "template_en", "product_risk", "product_type", "attribution_days",
            "channels", "version")}
        initial |= {name: a.get(name) for name in (*MULTI, *NUMBERS, *CHOSEN, "birthday_month", "branch", "rm")}
        initial["tags"] = ", ".join(a.get("tags") or [])
        initial["control_percent"] = int(campaign.control_share * 100)
        initial["starts_at"] = timezone.localtime(campaign.starts_at) if campaign.starts_at else None
        return initial

    def clean_tags(self) -> list[str]:
        tags = [t.strip() for t in self.cleaned_data["tags"].replace("，", ",").split(",") if t.strip()]
        if any(len(t) > 30 for t in tags):
            raise forms.ValidationError(_("A tag is at most 30 characters."))
        return tags

    def values(self) -> dict:
        """The campaign's fields as ``services.campaign_save`` takes them (the audience as its saved filter)."""
        data = self.cleaned_data
        audience = {name: data[name] for name in MULTI if data.get(name)}
        audience |= {name: data[name] for name in (*NUMBERS, "birthday_month") if data.get(name) is not None}
        audience |= {name: data[name] for name in CHOSEN if data.get(name)}
        if data.get("tags"):
            audience["tags"] = data["tags"]
        for name in ("branch", "rm"):
            if data.get(name) is not None:
                audience[name] = data[name].pk
        return {"name": data["name"], "goal": data["goal"], "audience": audience,
                "control_share": Decimal(data["control_percent"]) / 100, "channels": data["channels"],
                "template_zh": data["template_zh"], "template_en": data["template_en"],
                "product_risk": data["product_risk"], "product_type": data["product_type"],
                "starts_at": data["starts_at"], "attribution_days": data["attribution_days"]}


class CampaignFilterForm(StyledForm):
    q = forms.CharField(label=_("Search"), max_length=50, required=False)
    status = forms.ChoiceField(label=_("Status"), choices=_blank(CampaignStatus.choices), required=False)


class MemberFilterForm(StyledForm):
    tier = forms.ChoiceField(label=_("Customer tier"), choices=_blank(ValueTier.choices), required=False)
    group = forms.ChoiceField(label=_("Group"), required=False, choices=_blank(
        [("contacted", _("Contacted")), *Exclusion.choices]))
    outcome = forms.ChoiceField(label=_("Outcome"), required=False, choices=_blank(
        [("none", _("Not recorded yet")), *Outcome.choices]))


class OutcomeForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=Outcome.choices)


class CancelForm(StyledForm):
    reason = forms.CharField(label=_("Why"), max_length=200, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))
