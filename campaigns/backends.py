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
    """Opened once per dispatch batch (``with backend:``), then ``send(message) -> provider reference``.
    ``lookup(message)`` asks the provider's records whether it took a message: its reference, ``""`` when the
    provider confirms it never got it, or None when the provider cannot tell (then a person reconciles)."""

    def lookup(self, message) -> str | None:
        return None

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
        # line-buffered: every line is written to the file when sent, so a worker killed mid-batch leaves a record
        # of exactly what went out (the provider's records, for reconcile)
        self._handle = open(self.directory / f"messages-{timezone.localdate():%Y%m%d}.jsonl", "a",
                            encoding="utf-8", buffering=1)
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

    def lookup(self, message) -> str | None:
        needle = f'"key": {json.dumps(message.key, ensure_ascii=False)},'
        for path in sorted(self.directory.glob("messages-*.jsonl")):
            with open(path, encoding="utf-8") as handle:
                if any(needle in line for line in handle):
                    return f"file:{message.pk}"
        return ""


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
