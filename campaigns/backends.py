"""Where a message leaves the bank: one backend per deployment (``CARE_MESSAGE_BACKEND``). ``file`` writes JSON lines
under ``CARE_MESSAGE_DIR`` (development and the benchmarks: a record of exactly what would have been sent),
``console`` prints them; a production SMS gateway implements ``SmsProvider``; email goes through Django's email
backend. A backend answers with the provider's reference or raises (the dispatcher retries with back-off)."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone


class Backend:
    """Opened once per dispatch batch (``with backend:``), then ``send(message) -> provider reference``."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def send(self, message) -> str:
        raise NotImplementedError


class FileBackend(Backend):
    def __init__(self, directory: str | None = None):
        self.directory = Path(directory or settings.CARE_MESSAGE_DIR)
        self._handle = None

    def __enter__(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.directory / f"messages-{timezone.localdate():%Y%m%d}.jsonl", "a",
                            encoding="utf-8")
        return self

    def __exit__(self, *exc):
        if self._handle is not None:
            self._handle.flush()
            self._handle.close()
            self._handle = None
        return False

    def send(self, message) -> str:
        line = {"id": message.pk, "key": message.key, "channel": message.channel, "to": message.recipient,
                "text": message.body, "at": timezone.now().isoformat()}
        self._handle.write(json.dumps(line, ensure_ascii=False) + "\n")
        return f"file:{message.pk}"


class ConsoleBackend(Backend):
    def send(self, message) -> str:
        print(f"[{message.channel} → {message.recipient}] {message.body}", flush=True)
        return f"console:{message.pk}"


class SmsProvider(Backend):
    """The interface a production SMS gateway adapter implements: ``submit(mobile, text) -> message id``."""

    def submit(self, mobile: str, text: str) -> str:
        raise NotImplementedError

    def send(self, message) -> str:
        if message.channel == "email":
            return EmailBackend().send(message)
        return self.submit(message.recipient, message.body)


class EmailBackend(Backend):
    def send(self, message) -> str:
        send_mail(subject=message.body[:40], message=message.body, from_email=None,
                  recipient_list=[message.recipient])
        return f"email:{message.pk}"


BACKENDS = {"file": FileBackend, "console": ConsoleBackend}


def backend() -> Backend:
    return BACKENDS[settings.CARE_MESSAGE_BACKEND]()
