"""The small DomainError hierarchy every service raises; mapped to HTTP by one handler."""

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    status_code = 400
    code = "invalid"
    default_message = _("The request could not be processed.")

    def __init__(self, message=None, *, field: str | None = None, fields: dict | None = None):
        self.message = message or self.default_message
        self.fields = fields or ({field: [self.message]} if field else {})
        super().__init__(str(self.message))


class ValidationFailed(DomainError):
    code = "validation_error"
    default_message = _("Some fields are not valid.")


class NotPermitted(DomainError):
    status_code = 403
    code = "permission_denied"
    default_message = _("You are not allowed to do this.")


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    default_message = _("The record changed or already exists.")


class PreconditionFailed(DomainError):
    """A write based on an older version of the record (a stale ETag / edit page)."""

    status_code = 412
    code = "precondition_failed"
    default_message = _("Someone else changed this record since you read it: read it again and redo your change.")


class RateLimited(DomainError):
    """Too many of one action in a window (core.ratelimit): HTTP 429 with Retry-After."""

    status_code = 429
    code = "throttled"
    default_message = _("Too many requests: please wait and try again.")

    def __init__(self, message=None, *, retry_after: int, **kwargs):
        self.retry_after = retry_after
        super().__init__(message, **kwargs)
