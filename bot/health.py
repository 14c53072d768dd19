"""/readyz and /metrics, on the bot's HTTP listener in both HTTP and Socket Mode (/healthz, the
liveness check, is in bot.server.build_http).

/readyz is 200 only when every check passes: Redis answers a PING now (asked on every call,
briefly), the configuration is valid (it is, or the process would not have started), and
Slack (auth.test) and Cloudflare (one cheap API call) accepted the credentials once. Those two
are asked at start-up in the background and again with backoff until they pass; serving and
/healthz never wait for them. A failed check says why, never with a secret in it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.cloudflare import ApiError, AuthError, EmailSecurityClient, UnavailableError
from bot.metrics import Metrics
from bot.services.approvals import ApprovalStore
from bot.store.plumbing import FAILURES as STORE_FAILURES

log = logging.getLogger("bot.health")
REDIS_PING_TIMEOUT = 0.8  # seconds: under a typical 1 s probe timeout


class CheckError(Exception):
    """A start-up check failed; the message says why (and never holds a secret)."""


Probe = Callable[[], Awaitable[str]]  # the detail of a pass, or CheckError


@dataclass
class Check:
    ok: bool = False
    detail: str = "not checked yet"


class Readiness:
    def __init__(
        self,
        store: aioredis.Redis,
        probes: dict[str, Probe],
        metrics: Metrics | None = None,
        backoff: tuple[float, float] = (1.0, 60.0),  # first wait, longest wait
    ) -> None:
        self.store = store
        self.probes = probes
        self.metrics = metrics
        self.backoff = backoff
        self.passed: dict[str, Check] = {name: Check() for name in probes}

    async def run_probe(self, name: str) -> None:
        """Ask until it passes once, waiting longer after each failure."""
        delay, longest = self.backoff
        while True:
            try:
                detail = await self.probes[name]()
            except CheckError as exc:
                self.passed[name] = Check(False, str(exc))
            except Exception as exc:  # an unforeseen failure: its type, never its text
                self.passed[name] = Check(False, f"check failed ({type(exc).__name__})")
            else:
                self.passed[name] = Check(True, detail)
                log.info("ready check %s passed", name, extra={"check": name})
                return
            log.warning(
                "ready check %s failed: %s; asking again in %.0fs",
                name, self.passed[name].detail, delay, extra={"check": name},
            )  # fmt: skip
            await asyncio.sleep(delay)
            delay = min(delay * 2, longest)

    async def redis_check(self) -> Check:
        try:
            await asyncio.wait_for(self.store.ping(), REDIS_PING_TIMEOUT)
        except TimeoutError:
            if self.metrics is not None:
                self.metrics.redis_error()
            return Check(False, f"no answer within {REDIS_PING_TIMEOUT}s; check REDIS_URL")
        except STORE_FAILURES as exc:
            return Check(False, f"unreachable ({type(exc).__name__}); check REDIS_URL")
        return Check(True, "PING answered")

    async def report(self) -> tuple[bool, dict[str, Any]]:
        checks = {
            "redis": await self.redis_check(),
            "config": Check(True, "settings valid"),
            **self.passed,
        }
        ready = all(c.ok for c in checks.values())
        return ready, {"ready": ready, "checks": {k: asdict(c) for k, c in checks.items()}}


def slack_probe(slack: AsyncWebClient) -> Probe:
    async def probe() -> str:
        try:
            answer = await slack.auth_test()
        except SlackApiError as exc:
            code = exc.response.get("error", "unknown")
            raise CheckError(f"Slack refused SLACK_BOT_TOKEN ({code})") from None
        except Exception as exc:
            raise CheckError(
                f"cannot reach Slack ({type(exc).__name__}); check SLACK_API_URL and the network"
            ) from None
        return f"auth.test passed (bot user {answer.get('user_id')})"

    return probe


def cloudflare_probe(email: EmailSecurityClient) -> Probe:
    """One cheap read (a page of one blocked sender): proves the credentials and the account."""

    async def probe() -> str:
        try:
            await email.list_blocked_senders(page=1, per_page=1)
        except AuthError as exc:
            raise CheckError(
                f"Cloudflare refused the credentials (HTTP {exc.status}); check "
                "CLOUDFLARE_API_TOKEN (or CLOUDFLARE_EMAIL/CLOUDFLARE_API_KEY) and its permissions"
            ) from None
        except UnavailableError as exc:
            raise CheckError(f"Email Security API unavailable: {exc}") from None
        except ApiError as exc:
            raise CheckError(f"Email Security API answered: {exc}") from None
        return "API call accepted"

    return probe


def add_routes(
    web_app: web.Application,
    *,
    metrics: Metrics,
    approvals: ApprovalStore,
    store: aioredis.Redis,
    slack: AsyncWebClient,
    email: EmailSecurityClient,
) -> Readiness:
    """GET /readyz and GET /metrics, and the start-up checks, run while the app is served."""
    readiness = Readiness(
        store, {"slack": slack_probe(slack), "cloudflare": cloudflare_probe(email)}, metrics
    )

    async def readyz(_: web.Request) -> web.Response:
        ready, body = await readiness.report()
        return web.json_response(body, status=200 if ready else 503)

    async def metrics_view(_: web.Request) -> web.Response:
        await metrics.refresh(approvals, store)
        return web.Response(
            body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def probes(_: web.Application) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(readiness.run_probe(name)) for name in readiness.probes]
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    web_app.router.add_get("/readyz", readyz)
    web_app.router.add_get("/metrics", metrics_view)
    web_app.cleanup_ctx.append(probes)
    return readiness
