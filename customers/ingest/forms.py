"""The upload form of the file import (head office)."""

from pathlib import Path

from django import forms
from django.utils.translation import gettext_lazy as _

from customers.models import ImportKind

from .files import EXTENSIONS
from .jobs import upload_limit_bytes


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("What the file holds"), choices=ImportKind.choices,
                             widget=forms.Select(attrs={"class": "form-select"}))
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV (UTF-8 or GBK) or Excel .xlsx; the first row names the columns (API field names or the "
                    "usual Chinese headers)."),
        widget=forms.ClearableFileInput(attrs={"class": "form-control", "accept": ".csv,.xlsx"}))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name or "").suffix.lower() not in EXTENSIONS:
            raise forms.ValidationError(_("Upload a .csv or .xlsx file."), code="extension")
        limit = upload_limit_bytes()
        if upload.size > limit:
            raise forms.ValidationError(
                _("The file is %(size).1f MB; files of up to %(limit)d MB can be imported.")
                % {"size": upload.size / 1024 / 1024, "limit": limit // 1024 // 1024}, code="size")
        if upload.size == 0:
            raise forms.ValidationError(_("The file is empty."), code="empty")
        return upload
