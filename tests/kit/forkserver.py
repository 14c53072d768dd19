"""Starting `python -m bot …` children without paying for their imports each time.

A suite run starts about 110 bots, simulators and Slack stand-ins; each fresh interpreter
spends ~0.6 s of CPU importing slack_bolt, aiohttp, pydantic and the bot before it does
anything, a minute of CPU in all on a 2-core machine. So each pytest worker keeps one fork
server: a `python -m tests.kit.forkserver` process that imports those modules once and then,
for each request, forks a child that becomes exactly what `python -m bot ARGS` would be: its
own environment, working directory, open-file limit and log file on stdout and stderr, then
`bot.__main__.main(ARGS)` and an ordinary interpreter exit. Nothing of the bot is started in
the server; configuration is read in the child, from the child's environment.

`Forked` answers as much of `subprocess.Popen` as the tests use (pid, poll, wait, signals).
The server is the child's parent: it reaps it and writes its exit code (negative for a signal,
as Popen says) beside the log, `<log>.rc`. `E2E_FORKSERVER=0` starts plain subprocesses instead.
"""

from __future__ import annotations

import atexit
import json
import os
import resource
import selectors
import signal
import subprocess
import sys
import threading
from functools import partial
from pathlib import Path
from typing import IO, Any

from tests.kit.servers import ROOT, wait_until

PRELOADED = ("bot.__main__", "bot.container", "bot.simulator.cli", "bot.local.standin.cli")


def enabled() -> bool:
    return os.environ.get("E2E_FORKSERVER", "1") != "0"


class Forked:
    """A child of the fork server, driven like a `subprocess.Popen`."""

    def __init__(self, pid: int, log: str) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._rc = Path(f"{log}.rc")

    def poll(self) -> int | None:
        if self.returncode is None and self._rc.exists():
            self.returncode = int(self._rc.read_text())
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        try:
            wait_until(lambda: self.poll() is not None, 3600 if timeout is None else timeout,
                       f"process {self.pid} to end")  # fmt: skip
        except TimeoutError:
            raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0) from None
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkServer:
    """The client side: one server process per pytest worker, started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server: subprocess.Popen[bytes] | None = None

    def spawn(self, args: list[str], env: dict[str, str], log: IO[bytes],
              open_files: int | None = None) -> Forked:  # fmt: skip
        request = {"args": args, "env": env, "log": log.name, "open_files": open_files}
        with self._lock:
            server = self._running()
            assert server.stdin is not None and server.stdout is not None
            server.stdin.write(json.dumps(request).encode() + b"\n")
            server.stdin.flush()
            answer = server.stdout.readline()
        if not answer:
            raise RuntimeError(f"the fork server ended (code {server.wait()})")
        return Forked(int(json.loads(answer)["pid"]), log.name)

    def _running(self) -> subprocess.Popen[bytes]:
        if self._server is None or self._server.poll() is not None:
            self._server = subprocess.Popen(
                [sys.executable, "-m", "tests.kit.forkserver"], cwd=ROOT,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            )  # fmt: skip
            atexit.register(self._stop, self._server)
        return self._server

    @staticmethod
    def _stop(server: subprocess.Popen[bytes]) -> None:
        """At the worker's end: stdin closed, the server ends its children and itself."""
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)


SERVER = ForkServer()


def start(
    args: list[str], env: dict[str, str], log: IO[bytes], open_files: int | None = None
) -> Forked | subprocess.Popen[bytes]:
    """`python -m bot ARGS` with `env`, its output in `log`: forked, or a plain subprocess."""
    if enabled():
        return SERVER.spawn(args, env, log, open_files)
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=None if open_files is None else partial(_limit_open_files, open_files),
    )  # fmt: skip


def _limit_open_files(count: int) -> None:
    """At most `count` open files (`ulimit -n`), in the child before it runs."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (count, count))


# -- the server ---------------------------------------------------------------------------------


def serve() -> dict[str, Any] | None:
    """Answer spawn requests until stdin ends (None); in a new child, its request."""
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ)
    pending = b""
    while True:
        for key, _ in selector.select():
            if key.fd != 0:
                _reap(selector, key)
                continue
            chunk = os.read(0, 65536)
            if not chunk:
                _end_children(selector)
                return None
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    return dict(request)
                os.write(1, json.dumps({"pid": pid}).encode() + b"\n")
                selector.register(os.pidfd_open(pid), selectors.EVENT_READ, (pid, request["log"]))


def _reap(selector: selectors.BaseSelector, key: selectors.SelectorKey) -> None:
    pid, log = key.data
    _, status = os.waitpid(pid, 0)
    selector.unregister(key.fd)
    os.close(key.fd)
    partial = Path(f"{log}.rc.part")
    partial.write_text(str(os.waitstatus_to_exitcode(status)))
    partial.rename(f"{log}.rc")  # whole or absent: a reader never sees half a number


def _end_children(selector: selectors.BaseSelector) -> None:
    """The worker has gone: its children go too, as they would with their process group."""
    for key in list(selector.get_map().values()):
        if key.fd != 0:
            os.kill(key.data[0], signal.SIGKILL)


def become(request: dict[str, Any]) -> None:
    """In the new child: what `Popen([python, -m, bot, …], env=…, cwd=ROOT, stdout=log,
    stderr=STDOUT)` would have given it."""
    log = os.open(request["log"], os.O_WRONLY | os.O_APPEND)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.closerange(3, 1 << 16)  # the server's pipes and the other children's pidfds
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(ROOT)
    if request["open_files"] is not None:
        _limit_open_files(int(request["open_files"]))
    sys.argv = [str(ROOT / "bot" / "__main__.py"), *request["args"]]


if __name__ == "__main__":
    import importlib

    for name in PRELOADED:
        importlib.import_module(name)
    child = serve()
    if child is None:
        raise SystemExit(0)
    become(child)
    from bot.__main__ import main

    raise SystemExit(main(list(child["args"])))
