"""The atomic rate counter (core.ratelimit): windows, limits, parsing."""

import pytest
from django.core.cache import cache

from core.ratelimit import Rate, hit


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.parametrize(("text", "limit", "period"), [
    ("600/min", 600, 60), ("30/h", 30, 3600), ("5/10min", 5, 600), ("1/s", 1, 1), ("100/day", 100, 86400)])
def test_rate_parse(text, limit, period):
    assert Rate.parse(text) == Rate(limit, period)


@pytest.mark.parametrize("text", ["", "10", "ten/min", "10/fortnight", "/min"])
def test_rate_parse_rejects(text):
    with pytest.raises(ValueError, match="Not a rate"):
        Rate.parse(text)


def test_limit_within_window_then_new_window():
    rate = Rate(3, 60)
    t0 = 1_800_000_000.0  # a window boundary (divisible by 60)
    results = [hit("reveal", 7, rate, now=t0 + i) for i in range(5)]
    assert [r.allowed for r in results] == [True, True, True, False, False]
    assert [r.count for r in results] == [1, 2, 3, 4, 5]
    assert results[3].retry_after == 57
    assert hit("reveal", 8, rate, now=t0 + 5).allowed  # another identity has its own count
    assert hit("export", 7, rate, now=t0 + 5).allowed  # and another scope
    assert hit("reveal", 7, rate, now=t0 + 60).count == 1  # the next window starts from zero
