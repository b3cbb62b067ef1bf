"""Lines a test module wants at the end of the run (e.g. the schemathesis figures), also from xdist workers,
whose own output pytest-xdist does not show."""

import pytest

_KEY = "summary_lines"
_LINES = pytest.StashKey[list]()


def summary_line(config, line: str) -> None:
    """Print ``line`` in the run's terminal summary."""
    if hasattr(config, "workeroutput"):  # an xdist worker: sent to the controller when the worker ends
        config.workeroutput.setdefault(_KEY, []).append(f"[{config.workerinput['workerid']}] {line}")
    else:
        config.stash.setdefault(_LINES, []).append(line)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    node.config.stash.setdefault(_LINES, []).extend(getattr(node, "workeroutput", {}).get(_KEY, []))


def pytest_terminal_summary(terminalreporter):
    for line in terminalreporter.config.stash.get(_LINES, []):
        terminalreporter.write_line(line)
