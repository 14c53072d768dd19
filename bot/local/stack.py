"""`python -m bot local`: Redis, the Email Security backend and the bot on one machine.

Used by `make run`. Redis: the one at REDIS_URL if it answers, else a local `redis-server`
started here (only for a loopback REDIS_URL). Email Security: the real API when Cloudflare
credentials are set, otherwise the simulator, with a banner saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import redis.asyncio as redis

from bot.cloudflare import ApiError, EmailSecurityClient, UnavailableError
from bot.config import (
    SIMULATOR_ACCOUNT_ID,
    SIMULATOR_TOKEN,
    SIMULATOR_URL,
    ConfigError,
    Settings,
    load_settings,
)

LOOPBACK = {"localhost", "127.0.0.1", "::1"}


@dataclass
class Children:
    """Child processes started here, stopped in reverse order on the way out."""

    processes: list[tuple[str, asyncio.subprocess.Process]] = field(default_factory=list)

    async def start(self, name: str, *cmd: str) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(*cmd, stdin=asyncio.subprocess.DEVNULL)
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
    if settings.uses_cloudflare:
        assert settings.cloudflare_account_id is not None
        return EmailSecurityClient(
            settings.cloudflare_account_id,
            api_token=_secret(settings.cloudflare_api_token),
            email=settings.cloudflare_email,
            api_key=_secret(settings.cloudflare_api_key),
            base_url=settings.cloudflare_api_url,
        )
    port = str(urlsplit(SIMULATOR_URL).port)
    print(
        "*** No Cloudflare credentials set (CLOUDFLARE_API_TOKEN): using the Email Security API "
        f"SIMULATOR at {SIMULATOR_URL}. Nothing here touches a real tenant. ***",
        flush=True,
    )
    await children.start(
        "simulator", sys.executable, "-m", "bot", "simulator", "--host", "127.0.0.1", "--port", port
    )
    return EmailSecurityClient(
        SIMULATOR_ACCOUNT_ID, api_token=SIMULATOR_TOKEN, base_url=SIMULATOR_URL
    )


def _secret(value: object) -> str | None:
    get = getattr(value, "get_secret_value", None)
    return str(get()) if get else None


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
    children = Children()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        print(await ensure_redis(settings.redis_url, children), flush=True)
        async with await ensure_backend(settings, children) as client:
            print(await check_backend(client, patience=15), flush=True)
        print("Local stack ready. Press Ctrl-C to stop.", flush=True)
        exited = asyncio.ensure_future(children.first_exit()) if children.processes else None
        stopping = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait(
            [t for t in (exited, stopping) if t], return_when=asyncio.FIRST_COMPLETED
        )
        if exited in done:
            print(f"{exited.result()} exited; stopping the local stack", file=sys.stderr)
            return 1
        return 0
    except (ConfigError, ApiError) as exc:
        print(f"Cannot start the local stack: {exc}", file=sys.stderr)
        return 1
    finally:
        with contextlib.suppress(Exception):
            await children.stop()


def main(argv: list[str]) -> int:
    if argv:
        print(
            "usage: python -m bot local   (configuration comes from the environment)",
            file=sys.stderr,
        )
        return 2
    return asyncio.run(run())
