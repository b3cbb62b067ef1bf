"""One error format for every 4xx of the API:

    {"code": "validation_error", "detail": "Some fields are not valid.",
     "errors": {"mobile": ["Enter a mainland mobile number: 11 digits starting 13–19."]}}

``errors`` is always flat: a name → a list of strings. An error inside a list or an object is named by its
path: ``tags[2]`` (the third tag), ``records[0].cif``, ``address.city``.
"""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import DomainError


def _flatten(detail, prefix="", out=None):
    """DRF's nested error detail → ``{path: [messages]}`` (``tags[2]``, ``records[0].cif``)."""
    out = {} if out is None else out
    if isinstance(detail, dict):
        for key, value in detail.items():
            key = str(key)
            if not prefix:
                path = key
            elif key.isdigit():
                path = f"{prefix}[{key}]"
            else:
                path = f"{prefix}.{key}"
            _flatten(value, path, out)
    elif isinstance(detail, list | tuple):
        for index, value in enumerate(detail):
            if isinstance(value, dict | list | tuple):
                _flatten(value, f"{prefix}[{index}]" if prefix else str(index), out)
            else:
                out.setdefault(prefix or "non_field_errors", []).append(str(value))
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        response = Response({"code": exc.code, "detail": str(exc.message), "errors": _flatten(exc.fields)},
                            status=exc.status_code)
        if getattr(exc, "retry_after", None):
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(fields)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        body = {"code": "validation_error", "detail": _("Some fields are not valid."), "errors": _flatten(errors)}
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        body = {"code": codes if isinstance(codes, str) else "error",
                "detail": str(exc.detail) if hasattr(exc, "detail") else str(exc), "errors": {}}
    response.data = body
    if response.status_code == status.HTTP_401_UNAUTHORIZED and "WWW-Authenticate" not in response:
        response["WWW-Authenticate"] = "Api-Key"
    return response
