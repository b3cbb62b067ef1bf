"""FilterSets of the head-office audit log page: by who, what and when (dates in the display time zone)."""

import django_filters
from django.utils.translation import gettext_lazy as _

from .models import ApiKey, ApiKeyUse, PiiAccessLog, User


class _DateInput(django_filters.widgets.DateRangeWidget):
    """Two <input type="date">: from and to (both days included)."""

    suffixes = ["from", "to"]

    def __init__(self, attrs=None):
        super().__init__(attrs={"type": "date", "class": "form-control form-control-sm", **(attrs or {})})


def _date_range():
    # DateRangeField turns the two dates into [from 00:00, to 23:59:59.999999] in the current (display) time
    # zone, so the filter is a plain range on the indexed ``at`` column.
    return django_filters.DateFromToRangeFilter(field_name="at", label=_("Date"), widget=_DateInput())


class _Styled(django_filters.FilterSet):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.form.fields.values():
            if not isinstance(field.widget, _DateInput):
                field.widget.attrs.setdefault("class", "form-select form-select-sm")


class PiiAccessFilter(_Styled):
    user = django_filters.ModelChoiceFilter(queryset=User.objects.order_by("username"), label=_("User"))
    action = django_filters.ChoiceFilter(field_name="field", label=_("Action"),
                                         choices=PiiAccessLog._meta.get_field("field").choices)
    date = _date_range()

    class Meta:
        model = PiiAccessLog
        fields = []


class ApiKeyUseFilter(_Styled):
    key = django_filters.ModelChoiceFilter(queryset=ApiKey.objects.order_by("name"), label=_("Key"))
    method = django_filters.ChoiceFilter(label=_("Action"), choices=[
        ("GET", _("Read (GET)")), ("POST", _("Create (POST)")), ("PUT", _("Replace (PUT)")),
        ("PATCH", _("Change (PATCH)")), ("DELETE", _("Delete (DELETE)"))])
    date = _date_range()

    class Meta:
        model = ApiKeyUse
        fields = []
