"""Complaint forms: intake, the actions on one complaint, and the export's period. The services check everything
again and their refusals are shown beside the fields (core.forms.add_domain_errors)."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.forms import StyledForm
from org.access import complaint_scope_of

from . import selectors
from .constants import Channel, Priority

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class CategoryChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return str(obj)


def category_field(**kwargs) -> CategoryChoiceField:
    return CategoryChoiceField(queryset=selectors.active_categories().order_by("parent__position", "position",
                                                                               "code"),
                               label=_("Category"), empty_label=_("Choose…"), **kwargs)


class IntakeForm(StyledForm):
    cif = forms.CharField(label=_("Customer CIF"), max_length=32, required=False,
                          help_text=_("Leave empty for an unidentified complainant, and give their name and a phone "
                                      "number or email."))
    complainant_name = forms.CharField(label=_("Complainant"), max_length=100, required=False)
    complainant_phone = forms.CharField(label=_("Phone"), max_length=20, required=False)
    complainant_email = forms.EmailField(label=_("Email"), required=False)
    branch = forms.ModelChoiceField(queryset=None, label=_("Handling branch"), required=False,
                                    empty_label=_("The customer's branch"))
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    category = category_field()
    description = forms.CharField(label=_("Description"), max_length=4000, widget=forms.Textarea(attrs={"rows": 4}))
    received_at = forms.DateTimeField(label=_("Received"), widget=DATETIME_WIDGET,
                                      help_text=_("When the bank received it; it may be earlier than now, never "
                                                  "later."))
    complainants = forms.IntegerField(label=_("Number of complainants"), min_value=1, max_value=100000, initial=1,
                                      help_text=_("20 or more in person at the counter: a major complaint."))
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices, initial=Priority.NORMAL)

    def __init__(self, *args, user, customer=None, now: dt.datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer
        self.fields["branch"].queryset = complaint_scope_of(user).branches().order_by("path")
        self.fields["branch"].widget.attrs["class"] = "form-select"
        if customer is not None:
            for name in ("cif", "complainant_name", "complainant_phone", "complainant_email"):
                del self.fields[name]
        if not self.is_bound:
            self.initial.setdefault("received_at", timezone.localtime(now).replace(second=0, microsecond=0))


class ActForm(StyledForm):
    action = forms.CharField(widget=forms.HiddenInput)
    version = forms.IntegerField(widget=forms.HiddenInput)
    note = forms.CharField(label=_("Note"), max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 2}))


class CloseForm(StyledForm):
    action = forms.CharField(widget=forms.HiddenInput, initial="close")
    version = forms.IntegerField(widget=forms.HiddenInput)
    resolution_summary = forms.CharField(label=_("Resolution summary"), max_length=4000, required=False,
                                         widget=forms.Textarea(attrs={"rows": 2}))
    root_cause = forms.CharField(label=_("Root cause"), max_length=30, required=False,
                                 help_text=_("A short code, e.g. fee_rule, staff_conduct, system_fault."))
    remedy = forms.CharField(label=_("Remedy"), max_length=2000, required=False)
    remedies_told = forms.BooleanField(label=_("The customer was told of further remedies (re-check, mediation, "
                                               "arbitration, litigation)"), required=False)
    note = forms.CharField(label=_("Note"), max_length=4000, required=False)


class MessageForm(StyledForm):
    version = forms.IntegerField(widget=forms.HiddenInput)
    outgoing = forms.TypedChoiceField(label=_("Direction"), coerce=lambda v: v == "1", initial="1",
                                      choices=[("1", _("To the customer")), ("0", _("From the customer"))])
    text = forms.CharField(label=_("Message"), max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))


class NoteForm(StyledForm):
    text = forms.CharField(label=_("Internal note"), max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))


class AssignForm(StyledForm):
    version = forms.IntegerField(widget=forms.HiddenInput)
    handler = forms.ModelChoiceField(queryset=None, label=_("Handler"), required=False, empty_label=_("Nobody"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["handler"].queryset = selectors.complaint_handlers(user)
        self.fields["handler"].label_from_instance = lambda u: f"{u.display_name} · {u.get_role_display()} · {u.branch}"


class ChangeForm(StyledForm):
    version = forms.IntegerField(widget=forms.HiddenInput)
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)
    category = category_field()
    note = forms.CharField(label=_("Why"), max_length=2000, required=False)


class ExtensionRequestForm(StyledForm):
    reason = forms.CharField(label=_("Reason for the extension"), max_length=2000, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))


class ExtensionDecideForm(StyledForm):
    approve = forms.TypedChoiceField(coerce=lambda v: v == "1", choices=[("1", "1"), ("0", "0")],
                                     widget=forms.HiddenInput)
    complainant_told = forms.BooleanField(label=_("The complainant was told of the extension"), required=False)
    note = forms.CharField(label=_("Note"), max_length=2000, required=False)


class HoldForm(StyledForm):
    held = forms.TypedChoiceField(coerce=lambda v: v == "1", choices=[("1", "1"), ("0", "0")],
                                  widget=forms.HiddenInput)
    note = forms.CharField(label=_("Which appraisal or mediation (and that the complainant was told)"),
                           max_length=2000, required=False)


class SatisfactionForm(StyledForm):
    score = forms.TypedChoiceField(label=_("Satisfaction"), coerce=int,
                                   choices=[(5, _("5 · very satisfied")), (4, _("4 · satisfied")),
                                            (3, _("3 · neutral")), (2, _("2 · dissatisfied")),
                                            (1, _("1 · very dissatisfied"))])
    follow_up = forms.ChoiceField(label=_("If dissatisfied"), initial="reopen",
                                  choices=[("reopen", _("Reopen the complaint")),
                                           ("task", _("Give the RM a follow-up task"))])
    note = forms.CharField(label=_("Comment"), max_length=500, required=False)


class ReviewForm(StyledForm):
    requested_at = forms.DateTimeField(label=_("Re-check requested"), widget=DATETIME_WIDGET)
    description = forms.CharField(label=_("What the complainant disputes"), max_length=4000, required=False,
                                  widget=forms.Textarea(attrs={"rows": 2}))


class ExportForm(StyledForm):
    FORMATS = [("csv", "CSV"), ("xlsx", "Excel")]
    received_from = forms.DateField(label=_("Received from"), widget=DATE_WIDGET)
    received_to = forms.DateField(label=_("Received to"), widget=DATE_WIDGET)
    format = forms.ChoiceField(label=_("Format"), choices=FORMATS, initial="xlsx")

    MAX_DAYS = 366

    def clean(self):
        data = super().clean()
        start, end = data.get("received_from"), data.get("received_to")
        if start and end:
            if end < start:
                self.add_error("received_to", _("The end of the period comes before its start."))
            elif (end - start).days >= self.MAX_DAYS:
                self.add_error("received_to", _("Export at most a year at a time."))
        return data


