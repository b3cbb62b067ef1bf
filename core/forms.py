"""Form helpers every app's pages share."""

from django import forms

from core.errors import DomainError


def add_domain_errors(form, error: DomainError, rename: dict | None = None) -> None:
    """A service's refusal shown on ``form``: each field's messages beside that field (``rename``: service field →
    form field where the names differ), the rest and a message without fields above the form."""
    if not error.fields:
        form.add_error(None, str(error.message))
    for field, msgs in error.fields.items():
        field = (rename or {}).get(field, field)
        for msg in msgs if isinstance(msgs, list | tuple) else [msgs]:
            form.add_error(field if field in form.fields else None, msg)


def style_widgets(form) -> None:
    """Bootstrap's classes on every widget of ``form`` that has none: a check box, a select, or a text control."""
    for field in form.fields.values():
        widget = field.widget
        css = "form-check-input" if isinstance(widget, forms.CheckboxInput) else (
            "form-select" if isinstance(widget, forms.Select) else "form-control")
        widget.attrs.setdefault("class", css)


class StyledForm(forms.Form):
    """A form whose widgets carry Bootstrap's classes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_widgets(self)
