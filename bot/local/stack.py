"""`python -m bot local`: Redis, the Email Security backend and the bot on one machine.

Used by `make run`. Redis: the one at REDIS_URL if it answers, else a local `redis-server`
started here (only for a loopback REDIS_URL). Email Security: the real API when Cloudflare
credentials are set, otherwise the simulator, with a banner saying so. Slack: the real one when
SLACK_BOT_TOKEN is set; otherwise the local stand-in, and a console in this terminal to act as a
Slack user (the other processes then log to files, so the console stays readable).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import redis.asyncio as redis

from bot.clients import email_client
from bot.cloudflare import ApiError, EmailSecurityClient, UnavailableError
from bot.config import ConfigError, Settings, load_settings
from bot.local.columns import fit

LOOPBACK = {"localhost", "127.0.0.1", "::1"}
LOCAL_USER = "U0LOCAL"
LOCAL_APPROVER = "U0APPROVER"
LOCAL_CHANNEL = "C0LOCAL"
LOCAL_TOKEN = "xoxb-local"  # noqa: S105 - the stand-in's, not a credential
# The simulator's new mail in the local stack (N/MINUTES), and how often the bot polls for it:
# short, so a newcomer sees alert cards and a campaign thread within a minute of start.
LOCAL_MAIL_PER_MINUTE = 12
LOCAL_TRAFFIC = f"{LOCAL_MAIL_PER_MINUTE}/1"
LOCAL_ALERT_POLL_SECONDS = "5"


def tell(text: str) -> None:
    """A line for the person at the terminal, folded to 80 columns like the console's."""
    print("\n".join(fit(text)), flush=True)


@dataclass
class Children:
    """Child processes started here, stopped in reverse order on the way out. With `log_dir`,
    each one's output goes to `<log_dir>/<name>.log` instead of this terminal."""

    log_dir: Path | None = None
    processes: list[tuple[str, asyncio.subprocess.Process]] = field(default_factory=list)

    async def start(
        self, name: str, *cmd: str, env: dict[str, str] | None = None, interactive: bool = False
    ) -> asyncio.subprocess.Process:
        output: Any = None
        if self.log_dir is not None and not interactive:
            output = (self.log_dir / f"{name}.log").open("ab")
        process = await asyncio.create_subprocess_exec(
            *cmd, env=env, stdout=output, stderr=output,
            stdin=None if interactive else asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        self.processes.append((name, process))
        return process

    async def first_exit(self) -> str:
        waits = {asyncio.ensure_future(p.wait()): name for name, p in self.processes}
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return waits[done.pop()]

    async def stop(self) -> None:
        for _, process in reversed(self.processes):
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 10)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(await client.ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False
    finally:
        await client.aclose()


async def ensure_redis(url: str, children: Children) -> str:
    """Use the Redis at `url`, or start a local redis-server for a loopback URL."""
    if await redis_answers(url):
        return f"Redis at {url} answers"
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK:
        raise ConfigError(f"Redis at REDIS_URL ({parts.hostname}) does not answer; check it")
    binary = shutil.which("redis-server")
    if binary is None:
        raise ConfigError(
            "no Redis answers at REDIS_URL and redis-server is not installed: "
            "run `make run` as root (it installs Debian's redis-server) or apt-get install it"
        )
    data = tempfile.mkdtemp(prefix="email-bot-redis-")
    port = str(parts.port or 6379)
    await children.start(
        "redis-server", binary, "--port", port, "--bind", "127.0.0.1", "--dir", data,
        "--appendonly", "yes", "--loglevel", "warning",
    )  # fmt: skip
    for _ in range(100):
        if await redis_answers(url):
            return f"Redis: started redis-server on port {port} (data in {data})"
        await asyncio.sleep(0.05)
    raise ConfigError(f"redis-server did not start on port {port}; is the port in use?")


async def ensure_backend(settings: Settings, children: Children) -> EmailSecurityClient:
    """The client the bot will use; starts the simulator first when it is the backend."""
    if not settings.uses_cloudflare:
        tell(
            "*** No Cloudflare credentials set (CLOUDFLARE_API_TOKEN): using the Email Security "
            f"API SIMULATOR at {settings.simulator_url}, with new mail arriving "
            f"({LOCAL_MAIL_PER_MINUTE} a minute). Nothing here touches a real tenant. ***"
        )
        await children.start(
            "simulator", sys.executable, "-m", "bot", "simulator", "--host", "127.0.0.1",
            "--port", str(settings.simulator_port), "--traffic", LOCAL_TRAFFIC,
        )  # fmt: skip
        root = settings.simulator_url.removesuffix("/client/v4")
        await wait_healthy(f"{root}/__simulator/health", children, "simulator")
    return email_client(settings)


async def check_backend(client: EmailSecurityClient, patience: float) -> str:
    """One search, to prove the URL and credentials work before anything else runs. A backend
    that cannot be reached yet (the simulator still starting) is retried for `patience` s."""
    since = datetime.now(UTC) - timedelta(days=1)
    deadline = asyncio.get_running_loop().time() + patience
    while True:
        try:
            page = await client.search_page(start=since, per_page=50)
            break
        except UnavailableError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)
    count = f"{len(page.messages)}{'+' if page.next_cursor else ''}"
    return f"Email Security API at {client.base_url} answers: {count} detections in the last 24 h"


async def run() -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    local_slack = settings.slack_bot_token is None
    logs = Path(tempfile.mkdtemp(prefix="email-bot-logs-")) if local_slack else None
    children = Children(logs)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        # Every port is checked before anything starts, so nothing half-starts.
        await check_ports(settings, local_slack)
        tell(await ensure_redis(settings.redis_url, children))
        async with await ensure_backend(settings, children) as client:
            tell(await check_backend(client, patience=15))
        if local_slack:
            foreground = await start_local_slack(settings, children, logs)
        else:
            foreground = await children.start("bot", sys.executable, "-m", "bot")
        tell("Local stack ready. Press Ctrl-C to stop.")
        return await until_done(children, foreground, stop)
    except (ConfigError, ApiError) as exc:
        print(f"Cannot start the local stack: {exc}", file=sys.stderr)
        return 1
    finally:
        with contextlib.suppress(Exception):
            await children.stop()


async def start_local_slack(
    settings: Settings, children: Children, logs: Path | None
) -> asyncio.subprocess.Process:
    """The Slack stand-in, the bot pointed at it, and the console in this terminal."""
    secret = secrets.token_hex(16)
    env = dict(os.environ, SLACK_BOT_TOKEN=LOCAL_TOKEN, SLACK_SIGNING_SECRET=secret)
    standin_url = f"http://127.0.0.1:{settings.standin_port}"
    env.update(SLACK_API_URL=f"{standin_url}/api/", HOST="127.0.0.1", PORT=str(settings.port))
    env.pop("SLACK_APP_TOKEN", None)
    if settings.alert_channel is None:
        # Alerts into the console's channel, so the third thing the product does shows too.
        env.update(ALERT_CHANNEL=LOCAL_CHANNEL, ALERT_POLL_SECONDS=LOCAL_ALERT_POLL_SECONDS)
        tell(
            f"Alerts: on, in the console's channel {LOCAL_CHANNEL} (polled every "
            f"{LOCAL_ALERT_POLL_SECONDS} s; ALERT_CHANNEL moves them)."
        )
    if not (settings.bot_viewers or settings.bot_operators or settings.bot_approvers):
        # The stand-in's own users only: a real workspace never gets these defaults.
        env.update(BOT_OPERATORS=LOCAL_USER, BOT_APPROVERS=LOCAL_APPROVER)
        tell(
            f"No roles configured: in this local workspace {LOCAL_USER} is an operator and "
            f"{LOCAL_APPROVER} an approver (the console's `user` command switches)."
        )
    # The bot is in the console's channel and the alert channel; elsewhere the stand-in refuses
    # its posts as Slack does until someone types /invite in the console.
    member_of = dict.fromkeys([LOCAL_CHANNEL, settings.alert_channel or LOCAL_CHANNEL])
    await children.start(
        "slack-standin", sys.executable, "-m", "bot", "slack-standin",
        "--port", str(settings.standin_port),
        "--bot-token", LOCAL_TOKEN, "--bot-in", ",".join(member_of),
    )  # fmt: skip
    await children.start("bot", sys.executable, "-m", "bot", env=env)
    bot_url = f"http://127.0.0.1:{settings.port}"
    await wait_healthy(f"{bot_url}/healthz", children, "bot")
    tell(f"Slack: the local stand-in at {standin_url}; logs in {logs}")
    return await children.start(
        "console", sys.executable, "-m", "bot", "console", "--bot-url", f"{bot_url}/slack/events",
        "--standin", standin_url, "--signing-secret", secret, "--user", LOCAL_USER,
        "--channel", LOCAL_CHANNEL, "--alert-channel", settings.alert_channel or LOCAL_CHANNEL,
        interactive=True,
    )  # fmt: skip


def port_free(host: str, port: int) -> bool:
    """Whether a listener could bind `host:port` now (what the child will do next)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As the servers bind: a port in TIME_WAIT after a stop is not "in use".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def next_free(host: str, port: int, taken: set[int]) -> int:
    """A port above `port` that is free now, to suggest in the message."""
    for candidate in range(port + 1, min(port + 100, 65536)):
        if candidate not in taken and port_free(host, candidate):
            return candidate
    return port + 1


async def check_ports(settings: Settings, local_slack: bool) -> None:
    """Refuse, naming the setting that moves it, every port this stack would listen on that is
    taken; a local Redis that must be started counts too. Raises ConfigError."""
    wanted: list[tuple[str, str, int]] = []  # setting, host, port
    if not settings.uses_cloudflare:
        wanted.append(("SIMULATOR_PORT", "127.0.0.1", settings.simulator_port))
    if local_slack:
        wanted.append(("STANDIN_PORT", "127.0.0.1", settings.standin_port))
    wanted.append(("PORT", "127.0.0.1" if local_slack else settings.host, settings.port))
    problems: list[str] = []
    seen: dict[int, str] = {}
    for name, _host, port in wanted:
        if port in seen:
            problems.append(f"{name} and {seen[port]} are both {port}: set one to another port")
        seen[port] = name
    taken = set(seen)
    for name, host, port in wanted:
        if not port_free(host, port):
            other = next_free(host, port, taken)
            taken.add(other)
            problems.append(
                f"port {port} is in use ({name}): stop what uses it or set {name}={other}"
            )
    problems += await redis_problem(settings.redis_url, taken)
    if problems:
        raise ConfigError("\n  - ".join(["nothing was started:", *problems]))


async def redis_problem(url: str, taken: set[int]) -> list[str]:
    """A local Redis this stack would start whose port something else (not Redis) holds."""
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK or parts.scheme != "redis" or await redis_answers(url):
        return []
    port = parts.port or 6379
    if port_free("127.0.0.1", port):
        return []
    other = next_free("127.0.0.1", port, taken)
    return [
        f"port {port} is in use (REDIS_URL) by something that is not an answering Redis: "
        f"stop what uses it or set REDIS_URL=redis://127.0.0.1:{other}/0"
    ]


async def wait_healthy(url: str, children: Children, name: str, patience: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + patience
    async with httpx.AsyncClient(timeout=1) as http:
        while asyncio.get_running_loop().time() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code == 200:
                    return
            if any(p.returncode is not None for n, p in children.processes if n == name):
                break
            await asyncio.sleep(0.1)
    where = f"; see {children.log_dir}/{name}.log" if children.log_dir else ""
    raise ConfigError(f"the {name} did not start{where}")


async def until_done(
    children: Children, foreground: asyncio.subprocess.Process, stop: asyncio.Event
) -> int:
    """Run until Ctrl-C, the foreground process (console or bot) ends, or any child dies."""
    exited = asyncio.ensure_future(children.first_exit())
    stopping = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait([exited, stopping], return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if exited not in done:
        exited.cancel()
        return 0
    name = exited.result()
    if name == "console" and foreground.returncode == 0:
        return 0
    print(f"{name} exited; stopping the local stack", file=sys.stderr)
    return 1


def main(argv: list[str]) -> int:
    if argv:
        print(
            "usage: python -m bot local   (configuration comes from the environment)",
            file=sys.stderr,
        )
        return 2
    return asyncio.run(run())
