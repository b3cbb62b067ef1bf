"""Logging helpers for the console of `make run` and of the containers."""

import logging


class QuietClientErrors(logging.Filter):
    """One line, no traceback, for a client error (4xx).

    django.request logs a 403 (PermissionDenied) or a 404 raised as Http404 at WARNING with the exception
    attached, so every refused or missing page printed a full traceback as if the server had failed.
    Server errors (5xx) keep theirs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if record.exc_info and isinstance(status, int) and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
