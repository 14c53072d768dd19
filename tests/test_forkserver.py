"""The test kit's fork server gives a child what `python -m bot ARGS` would have had."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.kit import forkserver
from tests.kit.servers import log_file


def test_a_forked_child_runs_the_command_with_its_own_output_and_exit_code() -> None:
    log = log_file("fork-")
    child = forkserver.SERVER.spawn(["no-such-command"], {"PATH": "/usr/bin"}, log)
    assert child.wait(timeout=20) == 2
    assert "usage: python -m bot" in Path(log.name).read_text()


def test_a_forked_child_killed_by_a_signal_says_so_as_popen_does() -> None:
    log = log_file("fork-")
    # The simulator serves until it is stopped; a port of 0 lets the system pick one.
    child = forkserver.SERVER.spawn(["simulator", "--port", "0"], {"PATH": "/usr/bin"}, log)
    assert child.poll() is None
    child.kill()
    assert child.wait(timeout=20) == -signal.SIGKILL
