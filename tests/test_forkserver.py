"""The test kit's process starts: the fork server gives a child what `python -m bot ARGS` would
have had, and each pytest-xdist worker gives its children ports no other worker picks."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.kit import forkserver, servers
from tests.kit.servers import PORTS, log_file


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


def test_workers_pick_ports_from_slices_no_other_worker_uses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two workers told the same free port raced to bind it; the loser's health check was
    answered by the winner's process. Each worker now walks a slice of its own."""
    picked: dict[str, set[int]] = {}
    for worker in ("gw0", "gw1", "gw7"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "8")
        walk = servers._ports()
        picked[worker] = {next(walk) for _ in range(3000)}
    assert all(PORTS.start <= p < 32768 for ports in picked.values() for p in ports)
    assert len(picked["gw0"]) == len(PORTS) // 8, "a worker's walk goes round its own slice"
    assert not picked["gw0"] & picked["gw1"] and not picked["gw1"] & picked["gw7"]
