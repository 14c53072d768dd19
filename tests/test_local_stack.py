"""`python -m bot local` (what `make run` starts): Redis and the simulator come up and go down."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from bot.config import ConfigError
from bot.local.stack import Children, ensure_redis, redis_answers
from tests.kit.servers import ROOT, RedisProcess, free_port, wait_until


def test_make_run_stack_serves_a_console_user_end_to_end() -> None:
    """What `make run` starts with no credentials: Redis, simulator, Slack stand-in, bot and
    the console in the foreground; a typed command comes back as a rendered card."""
    redis_port, bot_port = free_port(), free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CLOUDFLARE_", "SLACK_", "BOT_"))
    }
    env.update(REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", PORT=str(bot_port))
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
        output = read_until("Local stack ready")
        assert f"started redis-server on port {redis_port}" in output
        assert "SIMULATOR" in output and "detections in the last 24 h" in output
        assert "U0LOCAL is an operator" in output
        read_until("Type help")
        stack.stdin.write("/email search disposition:malicious\n")
        stack.stdin.flush()
        read_until("Open")
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

    wait_until(
        lambda: gone("http://127.0.0.1:8787/__simulator/health"), 10, "the simulator to stop"
    )
    wait_until(lambda: gone("http://127.0.0.1:8790/__standin/health"), 10, "the stand-in to stop")
    wait_until(lambda: gone(f"http://127.0.0.1:{bot_port}/healthz"), 10, "the bot to stop")


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
