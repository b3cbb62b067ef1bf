"""`make test` (scripts/test.py) runs the suite in parallel unless the caller chooses the workers."""

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("test_command", Path(__file__).resolve().parents[2] / "scripts" / "test.py")
test_command = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(test_command)


@pytest.mark.parametrize("argv", [
    ["-n", "2"], ["-n2"], ["-n", "0"], ["-nauto"], ["--numprocesses", "3"], ["--numprocesses=3"],
    ["-q", "-p", "no:xdist"], ["-pno:xdist"],
])
def test_the_callers_choice_of_workers_is_kept(argv):
    assert test_command.chooses_workers(argv)


@pytest.mark.parametrize("argv", [
    [], ["-q"], ["-p", "no:randomly"], ["--no-header"], ["tests/org", "-x"], ["-k", "name"],
])
def test_otherwise_every_core_gets_a_worker(argv):
    assert not test_command.chooses_workers(argv)
