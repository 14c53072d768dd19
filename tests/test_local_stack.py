"""`python -m bot local` (what `make run` starts): Redis and the simulator come up and go down."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from bot.config import ConfigError
from bot.local.stack import Children, ensure_redis, redis_answers
from tests.kit.servers import ROOT, RedisProcess, free_port, wait_until


@pytest.mark.starts_first(18)
def test_make_run_stack_serves_a_console_user_end_to_end() -> None:
    """What `make run` starts with no credentials: Redis, simulator, Slack stand-in, bot and
    the console in the foreground; a typed command comes back as a rendered card. Every
    listener is on the port its setting gives (none of the defaults), and alerts are on in the
    console's channel: alert cards and a campaign thread arrive from the simulator's traffic."""
    redis_port, bot_port = free_port(), free_port()
    simulator_port, standin_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CLOUDFLARE_", "SLACK_", "BOT_", "ALERT_"))
    }
    env.update(REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", PORT=str(bot_port))
    env.update(SIMULATOR_PORT=str(simulator_port), STANDIN_PORT=str(standin_port))
    stack = subprocess.Popen(
        [sys.executable, "-m", "bot", "local"], cwd=ROOT, env=env, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
    )  # fmt: skip
    assert stack.stdin is not None and stack.stdout is not None
    seen: list[str] = []
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in stack.stdout], daemon=True).start()

    def read_until(marker: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                seen.append(lines.get(timeout=0.2))
            except queue.Empty:
                continue
            if marker in seen[-1]:
                return "".join(seen)
        raise AssertionError(f"no {marker!r} in:\n{''.join(seen)}")

    try:
        # What the stack says is folded to 80 columns: read it unfolded.
        output = " ".join(read_until("Local stack ready").split())
        assert f"started redis-server on port {redis_port}" in output
        assert "SIMULATOR" in output and "detections in the last 24 h" in output
        assert f"127.0.0.1:{simulator_port}/client/v4" in output
        assert f"stand-in at http://127.0.0.1:{standin_port}" in output
        assert "U0LOCAL is an operator" in output
        assert "Alerts: on, in the console's channel C0LOCAL" in output
        read_until("Type help")
        stack.stdin.write("/email search disposition:malicious\n")
        stack.stdin.flush()
        read_until("Open")
        posts = f"http://127.0.0.1:{standin_port}/__standin/messages?channel=C0LOCAL"

        def alerts() -> list[dict[str, object]]:
            with urllib.request.urlopen(posts, timeout=2) as answer:
                found: list[dict[str, object]] = json.load(answer)
            return [m for m in found if m["bot_id"] and not m["ephemeral"]]

        # A campaign thread: an alert root with at least one reply in its thread.
        wait_until(
            lambda: any(m["thread_ts"] not in (None, m["ts"]) for m in alerts()),
            50,
            "an alert campaign thread in the console's channel",
        )
        # The console announces alerts in one line each and lists them, with their threads.
        if "new alert" not in "".join(seen):
            read_until("new alert")
        stack.stdin.write("alerts\n")
        stack.stdin.flush()
        listed = read_until("alert N shows one").rsplit("══ alerts in #C0LOCAL", 1)[1]
        assert re.search(r" 1\) \d\d:\d\d:\d\d · (no replies|\d+ repl)", listed), listed
        assert re.search(r"\) \d\d:\d\d:\d\d · \d+ repl(y|ies) · ", listed), "a campaign's thread"
        stack.stdin.write("quit\n")
        stack.stdin.flush()
        assert stack.wait(timeout=30) == 0
    finally:
        if stack.poll() is None:
            stack.send_signal(signal.SIGINT)
            stack.wait(timeout=20)

    def gone(url: str) -> bool:
        try:
            urllib.request.urlopen(url, timeout=1)
        except OSError:
            return True
        return False

    simulator = f"http://127.0.0.1:{simulator_port}/__simulator/health"
    wait_until(lambda: gone(simulator), 10, "the simulator to stop")
    standin = f"http://127.0.0.1:{standin_port}/__standin/health"
    wait_until(lambda: gone(standin), 10, "the stand-in to stop")
    wait_until(lambda: gone(f"http://127.0.0.1:{bot_port}/healthz"), 10, "the bot to stop")


def test_taken_ports_are_named_with_their_settings_and_nothing_starts() -> None:
    """A second `make run` beside a running one: each taken port is named with the setting
    that moves it, before anything starts (no Redis, no simulator), without a traceback."""
    redis_port, standin_port = free_port(), free_port()
    with socket.socket() as simulator_holder, socket.socket() as bot_holder:
        for holder in (simulator_holder, bot_holder):
            holder.bind(("127.0.0.1", 0))
            holder.listen()
        simulator_port = simulator_holder.getsockname()[1]
        bot_port = bot_holder.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDFLARE_", "SLACK_"))}
        env.update(REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", PORT=str(bot_port))
        env.update(SIMULATOR_PORT=str(simulator_port), STANDIN_PORT=str(standin_port))
        result = subprocess.run(
            [sys.executable, "-m", "bot", "local"], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    assert result.returncode == 1
    assert (
        f"port {simulator_port} is in use (SIMULATOR_PORT): stop what uses it or set "
        "SIMULATOR_PORT=" in result.stderr
    )
    assert f"port {bot_port} is in use (PORT): stop what uses it or set PORT=" in result.stderr
    assert "STANDIN_PORT" not in result.stderr
    assert "Traceback" not in result.stderr
    assert "started redis-server" not in result.stdout and "SIMULATOR" not in result.stdout
    assert not port_in_use(redis_port) and not port_in_use(standin_port)


def test_a_port_taken_by_something_other_than_redis_names_redis_url() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDFLARE_", "SLACK_"))}
        env.update(REDIS_URL=f"redis://127.0.0.1:{port}/0", PORT=str(free_port()))
        env.update(SIMULATOR_PORT=str(free_port()), STANDIN_PORT=str(free_port()))
        result = subprocess.run(
            [sys.executable, "-m", "bot", "local"], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"port {port} is in use (REDIS_URL)" in result.stderr
    assert "set REDIS_URL=redis://127.0.0.1:" in result.stderr
    assert "Traceback" not in result.stderr and "SIMULATOR" not in result.stdout


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_local_stack_refuses_bad_settings() -> None:
    env = dict(os.environ, CLOUDFLARE_ACCOUNT_ID="nope")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "local"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "CLOUDFLARE_ACCOUNT_ID" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_command_prints_usage() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "bogus"], cwd=ROOT,
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2 and "usage: python -m bot" in result.stderr


def test_bot_without_slack_credentials_names_them() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDFLARE_", "SLACK_"))}
    result = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr and "SLACK_SIGNING_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


async def test_redis_probe_answers_only_for_a_live_server(redis_server: RedisProcess) -> None:
    assert await redis_answers(redis_server.url)
    assert not await redis_answers(f"redis://127.0.0.1:{free_port()}/0")


async def test_remote_redis_that_does_not_answer_is_not_replaced() -> None:
    children = Children()
    with pytest.raises(ConfigError, match="does not answer"):
        await ensure_redis("redis://redis.invalid:6379/0", children)
    assert children.processes == []
