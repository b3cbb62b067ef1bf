"""The RM home's tests: the clock pinned at ``builders.NOW``; ``w`` is the home's world (``build_home_world``)."""

import pytest
import time_machine

from .builders import NOW, build_home_world


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def w(db):
    return build_home_world()
