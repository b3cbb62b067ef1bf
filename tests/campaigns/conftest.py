"""Campaign tests' shared fixtures: messages go to the file backend in the test's own directory; ``pinned_now`` pins
the clock at ``NOW`` (a Monday morning in Shanghai, outside quiet hours) for tests of pages and the API, which read
the clock themselves."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 6, 1, 10, tzinfo=SH)


@pytest.fixture(autouse=True)
def message_files(tmp_path, settings):
    settings.CARE_MESSAGE_BACKEND, settings.CARE_MESSAGE_DIR = "file", str(tmp_path)
    return tmp_path


@pytest.fixture
def pinned_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW
