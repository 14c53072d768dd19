"""Wiring: settings -> API clients, Redis, services, the Bolt app and its HTTP server.

`python -m bot` runs `main()`: HTTP mode (POST /slack/events, GET /healthz) unless
SLACK_APP_TOKEN is set, then Socket Mode (with /healthz still served over HTTP).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import socket
import sys
from dataclasses import dataclass

import aiohttp
import redis.asyncio as redis
from aiohttp import web
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.cloudflare import EmailSecurityClient
from bot.config import (
    SIMULATOR_ACCOUNT_ID,
    SIMULATOR_TOKEN,
    SIMULATOR_URL,
    ConfigError,
    Settings,
    load_settings,
)
from bot.services.actions import ActionService
from bot.services.alerts import AlertPoller
from bot.services.approvals import ApprovalStore
from bot.services.audit import AuditLog
from bot.services.gate import WorkGate
from bot.services.lookup import LookupService
from bot.services.policy import GroupLookupError, Policy
from bot.services.routes import Routes, load_routes
from bot.store import CardStore, SearchStore

log = logging.getLogger("bot")
WEBHOOK_TIMEOUT = 10  # seconds for one answer to a response_url


@dataclass
class Services:
    """Everything a handler may call; built once per process from the settings."""

    settings: Settings
    email: EmailSecurityClient
    lookup: LookupService
    actions: ActionService
    policy: Policy
    searches: SearchStore
    cards: CardStore
    approvals: ApprovalStore
    audit: AuditLog
    routes: Routes | None  # alert routing (None when alerts are off)
    gate: WorkGate  # admission control for people's requests
    instance_id: str  # this process, as owner of execution leases
    webhooks: aiohttp.ClientSession  # pooled connections for answers to response_url


def _secret(value: object) -> str | None:
    get = getattr(value, "get_secret_value", None)
    return str(get()) if get else None


def email_client(settings: Settings) -> EmailSecurityClient:
    if not settings.uses_cloudflare:
        return EmailSecurityClient(
            SIMULATOR_ACCOUNT_ID, api_token=SIMULATOR_TOKEN, base_url=SIMULATOR_URL,
            rate_limit=settings.rate_limit,
        )  # fmt: skip
    assert settings.cloudflare_account_id is not None
    return EmailSecurityClient(
        settings.cloudflare_account_id,
        api_token=_secret(settings.cloudflare_api_token),
        email=settings.cloudflare_email,
        api_key=_secret(settings.cloudflare_api_key),
        base_url=settings.cloudflare_api_url,
        rate_limit=settings.rate_limit,
    )


def redis_client(url: str) -> redis.Redis:
    """Redis that reconnects by itself: after a restart or a failover the next command gets a
    fresh connection (a few quick retries) instead of failing on the dead one."""
    return redis.Redis.from_url(
        url,
        socket_timeout=5,
        socket_connect_timeout=5,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=3),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )


def slack_client(settings: Settings) -> AsyncWebClient:
    return AsyncWebClient(
        token=_secret(settings.slack_bot_token),
        base_url=settings.slack_api_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=5),
        ],
    )


def build_services(
    settings: Settings,
    slack: AsyncWebClient,
    store: redis.Redis,
    email: EmailSecurityClient,
    webhooks: aiohttp.ClientSession,
) -> Services:
    async def group_members(group_id: str) -> frozenset[str]:
        try:
            answer = await slack.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            raise GroupLookupError(f"user group {group_id}: {exc.response.get('error')}") from None
        return frozenset(answer.get("users") or [])

    return Services(
        settings=settings,
        email=email,
        lookup=LookupService(email),
        actions=ActionService(email, settings),
        policy=Policy(settings, group_members),
        searches=SearchStore(store),
        cards=CardStore(store),
        approvals=ApprovalStore(store),
        audit=AuditLog(store),
        routes=alert_routes(settings),
        gate=WorkGate(settings.bot_max_in_progress),
        instance_id=f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}",
        webhooks=webhooks,
    )


def alert_routes(settings: Settings) -> Routes | None:
    if settings.alert_channel is None:
        return None
    try:
        return load_routes(settings.alert_routes, settings.alert_channel)
    except ValueError as exc:
        raise ConfigError(f"The bot cannot start; fix ALERT_ROUTES: {exc}") from None


def build_app(settings: Settings, services: Services, slack: AsyncWebClient) -> AsyncApp:
    from handlers import register

    # Bolt skips the signature check for Socket Mode requests by itself; anything that comes
    # over HTTP is always checked (and in Socket Mode there is no HTTP route to reach it).
    app = AsyncApp(
        client=slack, signing_secret=_secret(settings.slack_signing_secret) or "socket-mode"
    )
    register(app, services)
    return app


def build_http(app: AsyncApp, *, request_url: bool = True) -> web.Application:
    """/healthz, and Slack's Request URL (POST /slack/events) unless in Socket Mode."""

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    # Slack payloads are small; a large body is not from Slack and is refused before parsing.
    web_app = web.Application(client_max_size=256 * 1024)
    if request_url:
        web_app.router.add_post("/slack/events", events)
    web_app.router.add_get("/healthz", healthz)
    return web_app


async def serve(settings: Settings) -> None:
    if not settings.uses_cloudflare:
        log.warning(
            "No Cloudflare credentials set: using the Email Security API SIMULATOR at %s",
            SIMULATOR_URL,
        )
    slack = slack_client(settings)
    store = redis_client(settings.redis_url)
    webhooks = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT))
    async with email_client(settings) as email, webhooks:
        services = build_services(settings, slack, store, email, webhooks)
        app = build_app(settings, services, slack)
        http = build_http(app, request_url=settings.slack_app_token is None)
        runner = web.AppRunner(http, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, settings.host, settings.port).start()
        socket_mode = None
        if settings.slack_app_token is not None:
            socket_mode = AsyncSocketModeHandler(app, _secret(settings.slack_app_token))
            await socket_mode.connect_async()  # type: ignore[no-untyped-call]
        sweeper = asyncio.create_task(sweep_forever(services, slack))
        stop_alerts = asyncio.Event()
        alerts = start_alerts(settings, services, store, slack, stop_alerts)
        mode = "Socket Mode" if socket_mode else f"HTTP on {settings.host}:{settings.port}"
        log.info("bot ready (%s, command %s)", mode, settings.bot_command)
        print(f"bot ready ({mode})", flush=True)
        try:
            await _until_signalled()
        finally:
            sweeper.cancel()
            stop_alerts.set()
            if alerts is not None:
                await asyncio.wait_for(alerts, timeout=10)
            if socket_mode is not None:
                await socket_mode.close_async()  # type: ignore[no-untyped-call]
            await runner.cleanup()
            await store.aclose()


def start_alerts(
    settings: Settings,
    services: Services,
    store: redis.Redis,
    slack: AsyncWebClient,
    stop: asyncio.Event,
) -> asyncio.Task[None] | None:
    """With ALERT_CHANNEL set, every replica runs a poller; a Redis lock lets one poll."""
    if settings.alert_channel is None or services.routes is None:
        return None
    from handlers.alerts import SlackAlertSender

    poller = AlertPoller(
        store, services.email, SlackAlertSender(slack), routes=services.routes,
        dispositions=settings.alert_dispositions, owner=services.instance_id,
        poll_seconds=settings.alert_poll_seconds, backfill_hours=settings.alert_backfill_hours,
        campaign_window_seconds=settings.alert_campaign_window,
        lock_seconds=10,  # failover within ~10 s of a poller dying
    )  # fmt: skip
    log.info("alerts on: polling every %ss", settings.alert_poll_seconds)
    return asyncio.create_task(poller.run_forever(stop))


SWEEP_SECONDS = 1.0  # cheap: two Redis range reads


async def sweep_forever(services: Services, slack: AsyncWebClient) -> None:
    """Expire overdue approvals and resume stalled executions, on every replica (the store
    makes each step happen once)."""
    from handlers.approvals import sweep

    while True:
        try:
            await sweep(services, slack)
        except Exception:  # a failed sweep (Redis or Slack down) is retried next time
            log.exception("approval sweep failed")
        await asyncio.sleep(SWEEP_SECONDS)


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = load_settings(for_bot=True)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(settings))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0
