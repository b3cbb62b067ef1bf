import re

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.forms import StyledForm

from . import rules
from .constants import CalendarKind

WEEKDAY_LABELS = (_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday"))


class LanguageForm(forms.Form):
    language = forms.ChoiceField(choices=settings.LANGUAGES, label=_("Language"))
    next = forms.CharField(required=False, widget=forms.HiddenInput)


class CalendarDayForm(StyledForm):
    day = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    kind = forms.ChoiceField(label=_("Kind"), choices=CalendarKind.choices)
    name = forms.CharField(label=_("Name"), max_length=60, required=False,
                           help_text=_("E.g. Spring Festival, or the reason for a branch's own day."))


class CalendarDayRemoveForm(forms.Form):
    day = forms.DateField(label=_("Date"))


HOURS_FORMAT = re.compile(r"^\s*(\d{2}:\d{2})\s*[-–~]\s*(\d{2}:\d{2})\s*$")


class WorkingHoursForm(StyledForm):
    """A branch's working hours, a line per weekday: intervals like "09:00-12:00, 13:30-17:30"; empty: closed."""

    def __init__(self, *args, initial_week=None, **kwargs):
        super().__init__(*args, **kwargs)
        for k, label in enumerate(WEEKDAY_LABELS):
            self.fields[f"day{k}"] = forms.CharField(
                label=label, required=False, max_length=100,
                initial=", ".join(f"{a}-{b}" for a, b in (initial_week or [[]] * 7)[k]))

    def clean(self):
        data = super().clean()
        week = []
        for k in range(7):
            intervals = []
            for part in [p for p in re.split(r"[,，;；]", data.get(f"day{k}") or "") if p.strip()]:
                match = HOURS_FORMAT.match(part)
                if match is None:
                    self.add_error(f"day{k}", _("Write intervals as 09:00-12:00, separated by commas."))
                    break
                intervals.append([match.group(1), match.group(2)])
            week.append(intervals)
        data["week"] = week
        return data


class CalendarImportForm(StyledForm):
    MAX_BYTES = 1024 * 1024

    year = forms.IntegerField(label=_("Year"), min_value=1990, max_value=2100)
    confirm = forms.BooleanField(label=_("Replace the year's bank-wide days off and make-up working days"),
                                 required=True)
    file = forms.FileField(label=_("CSV file"), help_text=_(
        "One row per day: date (YYYY-MM-DD), kind (holiday or workday, or 休 / 班), name. UTF-8; a header row is "
        "allowed. The year's bank-wide days are replaced."))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 1 MB."))
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError(_("Save the file as UTF-8 CSV.")) from None
        return rules.calendar_rows(text)
