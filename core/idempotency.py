"""Idempotency-Key for POST endpoints (IETF httpapi draft "The Idempotency-Key HTTP Header Field").

- first request with a key: processed; its status and body are stored;
- a retry with the same key and the same body: the stored response is replayed, nothing is re-applied
  (header ``Idempotent-Replayed: true``);
- the same key with a different body: 422; a repeat while the first is still being processed: 409.

Keys belong to their caller, named by the ``owner`` function the endpoint passes (``owner(request)``: at most
40 characters, e.g. "key:<prefix>" or "user:<id>"), and are kept ``IDEMPOTENCY_TTL_HOURS`` (``purge``).
A request that fails with an exception or a 5xx is forgotten, so it can be retried with the same key.
"""

import hashlib
from collections.abc import Callable
from datetime import timedelta
from functools import wraps

import orjson
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.response import Response

from .models import IdempotencyRecord

HEADER = "Idempotency-Key"


def _error(code, detail, http_status):
    return Response({"code": code, "detail": detail, "errors": {}}, status=http_status)


def idempotent(*, owner: Callable[[object], str]):
    """Decorate a DRF view method (``self, request, …``) to honour the Idempotency-Key header."""
    return lambda view_method: _idempotent(view_method, owner)


def _idempotent(view_method, owner_of):
    @wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view_method(self, request, *args, **kwargs)
        if not key.strip() or len(key) > 255:
            return _error("invalid_idempotency_key", _("The Idempotency-Key must be 1 to 255 characters."),
                          status.HTTP_400_BAD_REQUEST)
        body_hash = hashlib.sha256(orjson.dumps(request.data, option=orjson.OPT_SORT_KEYS,
                                                default=str)).hexdigest()
        owner = owner_of(request)
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(owner=owner, key=key, method=request.method,
                                                          path=request.path[:255], body_hash=body_hash)
        except IntegrityError:
            record = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
            if record is None:  # expired and removed in between: treat as in flight, the caller retries
                return _error("idempotency_conflict", _("A request with this Idempotency-Key is being processed."),
                              status.HTTP_409_CONFLICT)
            if record.body_hash != body_hash or record.path != request.path[:255]:
                return _error("idempotency_key_reused",
                              _("This Idempotency-Key was used for a different request."),
                              status.HTTP_422_UNPROCESSABLE_ENTITY)
            if record.status is None:
                return _error("idempotency_conflict",
                              _("A request with this Idempotency-Key is still being processed; retry later."),
                              status.HTTP_409_CONFLICT)
            return Response(record.response, status=record.status, headers={"Idempotent-Replayed": "true"})
        try:
            response = view_method(self, request, *args, **kwargs)
        except Exception:
            record.delete()
            raise
        if response.status_code >= 500:
            record.delete()
        else:
            record.status = response.status_code
            record.response = orjson.loads(orjson.dumps(response.data, default=str))
            record.save(update_fields=["status", "response"])
        return response

    return wrapper


def purge(*, now) -> int:
    """Forget keys older than ``IDEMPOTENCY_TTL_HOURS``; returns how many."""
    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=now - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)).delete()
    return deleted
