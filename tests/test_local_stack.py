"""`python -m bot local` (what `make run` starts): Redis and the simulator come up and go down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request

import pytest

from bot.config import ConfigError
from bot.local.stack import Children, ensure_redis, redis_answers
from tests.servers import ROOT, RedisProcess, free_port, wait_until


def test_local_stack_starts_redis_and_simulator_and_stops_them(tmp_path: object) -> None:
    redis_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDFLARE_", "SLACK_"))}
    env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    stack = subprocess.Popen(
        [sys.executable, "-m", "bot", "local"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert stack.stdout is not None
        for line in stack.stdout:
            lines.append(line)
            if "Local stack ready" in line or stack.poll() is not None:
                break
        output = "".join(lines)
        assert "Local stack ready" in output, output
        assert f"started redis-server on port {redis_port}" in output
        assert "SIMULATOR" in output and "detections in the last 24 h" in output
        with urllib.request.urlopen("http://127.0.0.1:8787/__simulator/health", timeout=5) as r:
            assert r.status == 200
    finally:
        stack.send_signal(signal.SIGINT)
        assert stack.wait(timeout=20) == 0

    def simulator_gone() -> bool:
        try:
            urllib.request.urlopen("http://127.0.0.1:8787/__simulator/health", timeout=1)
        except OSError:
            return True
        return False

    wait_until(simulator_gone, 10, "the simulator to stop")


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
