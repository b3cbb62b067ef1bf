"""core.collector.gc_paused: the cyclic collector is off inside, and back to what it was after."""

import gc
import threading

import pytest

from core.collector import gc_paused


@pytest.fixture(autouse=True)
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    gc.enable() if was else gc.disable()


def test_off_inside_and_on_after():
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_back_on_after_an_exception():
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_as_decorator():
    seen = []

    @gc_paused()
    def work():
        seen.append(gc.isenabled())

    work()
    work()
    assert seen == [False, False]
    assert gc.isenabled()


def test_nested_pauses_resume_at_the_outermost_end():
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_pauses_in_two_threads():
    """The collector is process-wide: it resumes only when the last pause ends."""
    first_in, second_done = threading.Event(), threading.Event()
    seen = {}

    def first():
        with gc_paused():
            first_in.set()
            second_done.wait(5)
            seen["first, after the second ended"] = gc.isenabled()

    t = threading.Thread(target=first)
    t.start()
    first_in.wait(5)
    with gc_paused():
        pass
    second_done.set()
    t.join(5)
    assert seen == {"first, after the second ended": False}
    assert gc.isenabled()
