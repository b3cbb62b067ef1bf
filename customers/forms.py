import re

from django import forms
from django.utils.translation import gettext_lazy as _

from org.selectors import branches_visible_to, staff_visible_to

from .constants import SENSITIVE_CUSTOMER_FIELDS, RevealReason
from .models import Customer, Interaction

# Django's label suffix, named here so that makemessages keeps it in our catalogue: ":" in English, the
# full-width "：" in Chinese (Django's own zh_Hans catalogue has the ASCII colon). Our catalogue comes first
# (LOCALE_PATHS), so every form's label_tag, filter forms included, gets it.
LABEL_SUFFIX = _(":")
# The empty choice of a select on an edit form (filters say "All": FILTERS_EMPTY_CHOICE_LABEL).
CHOOSE = _("Choose…")
TAG_MAX_LENGTH = 30


class DateInput(forms.DateInput):
    input_type = "date"


def _choose_placeholders(form):
    """Selects of ``form`` start with "Choose…" instead of Django's "---------"."""
    for field in form.fields.values():
        if isinstance(field, forms.ModelChoiceField):
            if field.empty_label is not None:
                field.empty_label = CHOOSE
        elif isinstance(field, forms.ChoiceField):
            choices = list(field.choices)
            if choices and choices[0][0] == "":
                field.choices = [("", CHOOSE), *choices[1:]]


class TagsField(forms.CharField):
    """Tags typed as one line, separated by commas (a Chinese "，" or "、" too). Blank entries and repeats are
    dropped ("a, , b" → [a, b]); a tag that is too long gets one plain message naming it.

    Written by hand instead of SimpleArrayField, whose errors read "Item 2 in the array did not validate: …"
    and which refuses the blank entry of "a, , b".
    """

    default_error_messages = {
        "tag_too_long": _("The tag “%(tag)s” is too long: a tag has at most %(max)d characters."),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list | tuple) else value

    def to_python(self, value):
        text = super().to_python(value)
        return list(dict.fromkeys(t.strip() for t in re.split(r"[,，、]", text) if t.strip()))

    def validate(self, value):
        super().validate(value)
        for tag in value:
            if len(tag) > TAG_MAX_LENGTH:
                raise forms.ValidationError(self.error_messages["tag_too_long"], code="tag_too_long",
                                            params={"tag": tag, "max": TAG_MAX_LENGTH})

    def run_validators(self, value):
        for tag in value:  # each tag, not the list (e.g. no NUL characters)
            super().run_validators(tag)


class CustomerForm(forms.ModelForm):
    tags = TagsField(label=_("Tags"), help_text=_("Separate tags with commas."))
    # Typed as people write them (+86, spaces, dashes); the service normalises and checks them.
    mobile = forms.CharField(max_length=20, required=False, label=_("Mobile"))
    id_number = forms.CharField(max_length=32, required=False, label=_("ID number"))
    # The version of the customer the page was loaded with: a save over a newer version is refused.
    version = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    class Meta:
        model = Customer
        fields = [
            "cif", "kind", "name", "gender", "birth_date", "id_type", "id_number", "occupation", "income_band",
            "credit_code", "industry", "company_size", "legal_representative", "contact_person",
            "mobile", "email", "address", "consent_sms", "consent_email", "consent_phone", "consent_app",
            "do_not_contact", "lunar_birthday", "risk_level", "risk_assessed_on", "lifecycle_stage", "branch", "rm",
            "tags", "notes",
        ]
        widgets = {"birth_date": DateInput, "risk_assessed_on": DateInput,
                   "notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, user, **kwargs):
        kwargs.setdefault("label_suffix", LABEL_SUFFIX)
        super().__init__(*args, **kwargs)
        _choose_placeholders(self)
        self.fields["branch"].queryset = branches_visible_to(user)
        self.fields["rm"].queryset = staff_visible_to(user)
        if self.instance.pk:
            self.initial["version"] = self.instance.change_txid or 0  # services.customer_version
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
        kwargs.setdefault("label_suffix", LABEL_SUFFIX)
        super().__init__(*args, **kwargs)
        _choose_placeholders(self)
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)

    def _post_clean(self):
        pass


class TaskForm(forms.Form):
    """A follow-up task added on the customer page (``services.task_create`` checks the rules)."""

    title = forms.CharField(label=_("Task"), max_length=200,
                            widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}))
    due_date = forms.DateField(label=_("Due"), widget=DateInput(attrs={"class": "form-control form-control-sm"}))


class SnoozeForm(forms.Form):
    until = forms.DateField(label=_("Snooze until"), widget=DateInput(
        attrs={"class": "form-control form-control-sm", "aria-label": _("Snooze until")}))


class DoneForm(forms.Form):
    outcome = forms.CharField(label=_("Outcome"), max_length=500, required=False,
                              widget=forms.TextInput(attrs={"class": "form-control form-control-sm",
                                                            "placeholder": _("Outcome"), "aria-label": _("Outcome")}))


class RevealForm(forms.Form):
    """Why a full sensitive value is shown (prefixed with the field: one form per masked value on a page).
    The service checks the reason again (and that "other" comes with a few words): one rule for page and API."""

    reason = forms.ChoiceField(label=_("Reason"), choices=[("", _("Choose a reason"))] + RevealReason.choices,
                               widget=forms.Select(attrs={"class": "form-select form-select-sm"}))
    reason_detail = forms.CharField(label=_("Details"), max_length=150, required=False,
                                    widget=forms.TextInput(attrs={"class": "form-control form-control-sm",
                                                                  "placeholder": _("Required for “other”")}))
