"""Real processes for the tests: the simulator and redis-server, each on a free port.

Helpers only; the pytest fixtures that use them live in conftest.py.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import IO, Any, Protocol

import httpx
import redis

from bot.simulator.changes import MAX_WAIT_SECONDS
from tests.kit.http import TLS

ROOT = Path(__file__).resolve().parents[2]  # tests/kit/servers.py -> the repository
# Reference files the tests check against, vendored with their licences (see its README).
VENDOR = ROOT / "tests" / "kit" / "vendor"
DOCKERFILE = ROOT / "Dockerfile"
ACCOUNT_ID = "023e105f4ecef8ad9ca31a8372d0c353"
API_TOKEN = "sim-test-token"
API_EMAIL = "secops@example.com"
API_KEY = "sim-legacy-key"


def log_file(prefix: str) -> IO[bytes]:
    """A new log file for a child process: in the session's log directory when conftest set
    one (`E2E_LOG_DIR`, under pytest's temporary directories, which keep the last three runs),
    else in the system's temporary directory."""
    where = os.environ.get("E2E_LOG_DIR") or None
    return tempfile.NamedTemporaryFile(prefix=prefix, suffix=".log", delete=False, dir=where)


# Where the tests' listeners go: below the system's ephemeral ports (32768 and up on Linux), so
# that no outgoing connection holds one as its local port. Asking the system for a free port
# (bind to 0) gave two pytest-xdist workers the same port now and then: both children bound
# it in turn, the second failed "address in use", and its health check was answered by the
# first worker's process, so a test drove another worker's bot.
PORTS = range(10000, 30000)


def _ports() -> Iterator[int]:
    """This process's ports: under pytest-xdist each worker walks a slice of PORTS no other
    worker of the run uses, from a random point (another run beside it starts elsewhere)."""
    count = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) % count if worker[2:].isdigit() else 0
    size = len(PORTS) // count
    first = PORTS.start + index * size
    offset = random.randrange(size)
    for n in itertools.count():
        yield first + (offset + n) % size


@functools.cache
def _walk() -> Iterator[int]:
    return _ports()  # made on first use: by then pytest-xdist has named the worker


def free_port() -> int:
    """A port nothing listens on now, that no other worker of this run will pick."""
    for port in _walk():
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("unreachable: the port walk is endless")


# Between looks at a condition nothing signals: short at first (most things happen within
# milliseconds), then longer, so that a wait of seconds costs next to no CPU.
FIRST_LOOK, LAST_LOOK = 0.01, 0.2


class Signal(Protocol):
    """Something that says when it changed: a local server's change counter."""

    def mark(self) -> int: ...

    def wait(self, after: int, seconds: float) -> int: ...


class Changes:
    """The change counter of a simulator or stand-in (`bot.simulator.changes`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._http = httpx.Client(timeout=MAX_WAIT_SECONDS + 10, verify=TLS)

    def mark(self) -> int:
        return int(self._http.get(self.url).json()["seq"])

    def wait(self, after: int, seconds: float) -> int:
        answer = self._http.get(self.url, params={"after": str(after), "wait": f"{seconds:.3f}"})
        return int(answer.json()["seq"])


def wait_until(
    predicate: Callable[[], bool], timeout: float, what: str, signal: Signal | None = None
) -> None:
    """Look at `predicate` until it holds, again at each change `signal` reports (and at least
    every LAST_LOOK seconds), or with growing pauses without one; fail with `what` after
    `timeout` seconds. The mark is taken before each look, so no change is missed."""
    deadline = time.monotonic() + timeout
    mark = signal.mark() if signal is not None else 0
    pause = FIRST_LOOK
    while not predicate():
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        if signal is not None:
            mark = signal.wait(mark, min(left, LAST_LOOK))
        else:
            time.sleep(min(pause, left))
            pause = min(pause * 2, LAST_LOOK)


async def eventually(check: Callable[[], Awaitable[Any]], within: float, what: str) -> Any:
    """Await `check` until it gives something truthy, and return that; fail naming `what`
    after `within` seconds (the async twin of `wait_until`)."""
    deadline = time.monotonic() + within
    pause = FIRST_LOOK
    while time.monotonic() < deadline:
        if found := await check():
            return found
        await asyncio.sleep(pause)
        pause = min(pause * 2, LAST_LOOK)
    raise TimeoutError(f"timed out after {within}s waiting for {what}")


def _http_json(method: str, url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


class SimulatorProcess:
    """`python -m bot simulator` in a child process, driven through its /__simulator hooks."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.root = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.root}/client/v4"
        self.changes = Changes(f"{self.root}/__simulator/changes")
        self._log = log_file("simulator-")
        cmd = ["simulator", "--host", "127.0.0.1", "--port", str(self.port), *args]
        from tests.kit import forkserver  # it imports this module

        self.process = forkserver.start(cmd, dict(os.environ), self._log)
        try:
            wait_until(self._healthy, 20, f"simulator on port {self.port}")
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"simulator did not start:\n{self.log()}") from None

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"simulator exited early:\n{self.log()}")
        try:
            _http_json("GET", f"{self.root}/__simulator/health")
        except (OSError, urllib.error.URLError):
            return False
        return True

    def log(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def hook(self, method: str, name: str, body: Any = None) -> Any:
        return _http_json(method, f"{self.root}/__simulator/{name}", body)

    def reset(self) -> None:
        self.hook("POST", "reset")

    def faults(self, **settings: Any) -> None:
        self.hook("POST", "faults", settings)

    def calls(self) -> list[dict[str, Any]]:
        return list(self.hook("GET", "calls"))

    def advance(self, seconds: float) -> None:
        """Run the simulator's clock of reviews, bulk jobs and domain checks ahead."""
        self.hook("POST", "clock", {"seconds": seconds})

    def requests(self) -> list[dict[str, Any]]:
        return list(self.hook("GET", "requests"))

    def add_messages(self, messages: Any) -> list[str]:
        return list(self.hook("POST", "messages", messages))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class RedisProcess:
    """A throw-away redis-server on a free port with its own data directory."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed: run `make test` (it installs Debian's redis-server)"
            )
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tempfile.mkdtemp(prefix="redis-test-")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                self.dir,
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._pong, 10, f"redis-server on port {self.port}")

    def _pong(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisClusterProcess:
    """A throw-away Redis Cluster: three primaries (no replicas) of Debian's redis-server in
    cluster mode, each on free ports with its own data directory, joined by `redis-cli --cluster
    create`. `url` names one node, as REDIS_URL would; the bot finds the rest."""

    NODES = 3

    def __init__(self) -> None:
        binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if binary is None or cli is None:
            raise RuntimeError(
                "redis-server is not installed: run `make test` (it installs Debian's redis-server)"
            )
        self.dir = tempfile.mkdtemp(prefix="redis-cluster-test-")
        # The bus port is given too: the default (port + 10000) may be taken or past 65535.
        self.ports = [free_port() for _ in range(self.NODES)]
        self.processes = [self._node(binary, port) for port in self.ports]
        self.url = f"redis://127.0.0.1:{self.ports[0]}/0"
        try:
            for port in self.ports:
                wait_until(functools.partial(_pong, port), 10, f"redis-server on port {port}")
            subprocess.run(
                [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports),
                 "--cluster-replicas", "0", "--cluster-yes"],
                check=True, capture_output=True, timeout=30,
            )  # fmt: skip
            wait_until(self._ok, 20, "the test cluster's cluster_state:ok on every node")
        except BaseException:
            self.stop()
            raise

    def _node(self, binary: str, port: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [binary, "--port", str(port), "--cluster-port", str(free_port()),
             "--bind", "127.0.0.1", "--dir", self.dir, "--save", "", "--appendonly", "no",
             "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
             "--cluster-node-timeout", "5000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def _ok(self) -> bool:
        return all(b"cluster_state:ok" in _ask(port, b"CLUSTER INFO") for port in self.ports)

    def flush(self) -> None:
        """Empty every primary (FLUSHALL on one node empties only its own slots)."""
        for port in self.ports:
            _ask(port, b"FLUSHALL")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def _ask(port: int, command: bytes) -> bytes:
    """One inline command to the redis-server on `port`, its raw answer (b"" when it fails)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(command + b"\r\n")
            return sock.recv(65536)
    except OSError:
        return b""


def _pong(port: int) -> bool:
    return _ask(port, b"PING").startswith(b"+PONG")


def flush_redis(url: str) -> None:
    """Empty the Redis at `url` before a test: its database on a single server, every primary
    of a Redis Cluster."""
    client = redis.Redis.from_url(url)
    try:
        if client.info("cluster").get("cluster_enabled"):
            nodes = redis.RedisCluster.from_url(url)
            try:
                nodes.flushall(target_nodes=redis.RedisCluster.PRIMARIES)
            finally:
                nodes.close()
        else:
            client.flushdb()
    finally:
        client.close()


AnyRedis = RedisProcess | RedisClusterProcess  # what REDIS_URL may lead to
