"""Wiring: settings -> API clients, Redis, services, the Bolt app and its HTTP server.

`python -m bot` runs `main()`: HTTP mode (POST /slack/events; GET /healthz, /readyz and
/metrics, see bot.health) unless SLACK_APP_TOKEN is set, then Socket Mode (with the three GETs
still served over HTTP).

Shutdown (SIGTERM or SIGINT): new Slack requests are refused at once (HTTP: 503, which a load
balancer sends elsewhere and Slack retries for events; Socket Mode: the socket is closed, and
Slack delivers to the other connections); the work in progress gets GRACE_SECONDS to finish;
approval executions stop at their next safe point and hand their lease back, the alert poller
releases its lock, so other replicas carry on at once; what is still running after the grace
is cancelled (an execution caught sending keeps its lease until it lapses, then is resumed
elsewhere). The process then exits 0.

Timeouts, so that no outbound call can hang: the Email Security API API_TIMEOUT_SECONDS per
attempt (connect 10 s; GETs retried 3 times, 202 polling 60 s, a 429 waited at most 300 s,
3 times); the Slack Web API SLACK_TIMEOUT_SECONDS per call (file uploads included; a failed
connection retried once, a 429 waited up to 5 times); Redis 5 s to connect and per command
(3 quick retries), and 0.5 s for the repeat check on the path that answers Slack; Socket Mode
pings every 5 s and reconnects when pongs stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp
import redis.asyncio as redis
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
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

from bot import health
from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.transport import CallObserver
from bot.config import (
    SIMULATOR_ACCOUNT_ID,
    SIMULATOR_TOKEN,
    SIMULATOR_URL,
    ConfigError,
    Settings,
    load_settings,
)
from bot.metrics import CountingRetry, Metrics
from bot.observability import setup_logging
from bot.services.actions import ActionService
from bot.services.alerts import AlertPoller
from bot.services.approvals import ApprovalStore
from bot.services.audit import AuditLog
from bot.services.gate import WorkGate
from bot.services.lookup import LookupService
from bot.services.policy import GroupLookupError, Policy
from bot.services.routes import Routes, load_routes
from bot.services.stopping import unless_stopped
from bot.store import CardStore, SearchStore, StoreUnavailable
from bot.store.once import Once

if TYPE_CHECKING:
    from handlers.inflight import InFlight

log = logging.getLogger("bot")
WEBHOOK_TIMEOUT = 10  # seconds for one answer to a response_url

GRACE_SECONDS = 8.0  # SIGTERM -> exit; fits Docker's default 10 s before SIGKILL
API_TIMEOUT_SECONDS = 30.0
SLACK_TIMEOUT_SECONDS = 30
# apps.connections.open answers that no retry can fix: start-up stops and says what to do.
APP_TOKEN_REFUSED = frozenset(
    {"invalid_auth", "not_authed", "not_allowed_token_type", "token_revoked", "token_expired",
     "account_inactive", "missing_scope"}
)  # fmt: skip


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
    metrics: Metrics  # this process's Prometheus registry (bot.metrics)
    redis: redis.Redis  # the store itself, for /readyz and the gauges read at scrape time
    once: Once  # deliveries and actions already seen (repeats do nothing)
    webhooks: aiohttp.ClientSession  # pooled connections for answers to response_url
    stopping: asyncio.Event = field(default_factory=asyncio.Event)  # set at shutdown


def _secret(value: object) -> str | None:
    get = getattr(value, "get_secret_value", None)
    return str(get()) if get else None


def email_client(settings: Settings, observer: CallObserver | None = None) -> EmailSecurityClient:
    if not settings.uses_cloudflare:
        return EmailSecurityClient(
            SIMULATOR_ACCOUNT_ID, api_token=SIMULATOR_TOKEN, base_url=SIMULATOR_URL,
            rate_limit=settings.rate_limit, timeout=API_TIMEOUT_SECONDS, observer=observer,
        )  # fmt: skip
    assert settings.cloudflare_account_id is not None
    return EmailSecurityClient(
        settings.cloudflare_account_id,
        api_token=_secret(settings.cloudflare_api_token),
        email=settings.cloudflare_email,
        api_key=_secret(settings.cloudflare_api_key),
        base_url=settings.cloudflare_api_url,
        rate_limit=settings.rate_limit,
        timeout=API_TIMEOUT_SECONDS,
        observer=observer,
    )


def redis_client(url: str, on_error: Callable[[], None] | None = None) -> redis.Redis:
    """Redis that reconnects by itself: after a restart or a failover the next command gets a
    fresh connection (a few quick retries) instead of failing on the dead one. `on_error` is
    told of each operation that failed all the same (the metrics count them)."""
    return redis.Redis.from_url(
        url,
        socket_timeout=5,
        socket_connect_timeout=5,
        health_check_interval=15,
        retry=CountingRetry(
            ExponentialBackoff(cap=1.0, base=0.05), retries=3, on_error=on_error or _nothing
        ),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )


def slack_client(settings: Settings) -> AsyncWebClient:
    return AsyncWebClient(
        token=_secret(settings.slack_bot_token),
        base_url=settings.slack_api_url,
        timeout=SLACK_TIMEOUT_SECONDS,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=5),
        ],
    )


def _nothing() -> None:
    pass


def build_services(
    settings: Settings,
    slack: AsyncWebClient,
    store: redis.Redis,
    email: EmailSecurityClient,
    webhooks: aiohttp.ClientSession,
    metrics: Metrics | None = None,
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
        metrics=metrics or Metrics(),
        redis=store,
        once=Once(store),
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
    from handlers.observe import ObservedApp

    # Bolt skips the signature check for Socket Mode requests by itself; anything that comes
    # over HTTP is always checked (and in Socket Mode there is no HTTP route to reach it).
    app = ObservedApp(
        metrics=services.metrics,
        client=slack,
        signing_secret=_secret(settings.slack_signing_secret) or "socket-mode",
    )
    register(app, services)
    return app


def build_http(
    app: AsyncApp, *, request_url: bool = True, services: Services | None = None
) -> web.Application:
    """/healthz, and Slack's Request URL (POST /slack/events) unless in Socket Mode; with
    `services`, also /readyz and /metrics (bot.health)."""
    ack_seconds = services.metrics.ack_seconds if services is not None else None

    async def events(request: web.Request) -> web.Response:
        started = time.perf_counter()
        response = await to_aiohttp_response(
            await app.async_dispatch(await to_bolt_request(request))
        )
        if ack_seconds is not None:
            ack_seconds.observe(time.perf_counter() - started)
        return response

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    # Slack payloads are small; a large body is not from Slack and is refused before parsing.
    web_app = web.Application(client_max_size=256 * 1024)
    if request_url:
        web_app.router.add_post("/slack/events", events)
    web_app.router.add_get("/healthz", healthz)
    if services is not None:
        health.add_routes(
            web_app, metrics=services.metrics, approvals=services.approvals,
            store=services.redis, slack=app.client, email=services.email,
        )  # fmt: skip
    return web_app


async def serve(settings: Settings) -> None:
    stop = _stop_on_signals()
    if not settings.uses_cloudflare:
        log.warning(
            "No Cloudflare credentials set: using the Email Security API SIMULATOR at %s",
            SIMULATOR_URL,
        )
    if settings.slack_app_token is not None:
        await check_app_token(settings)
    slack = slack_client(settings)
    metrics = Metrics()
    store = redis_client(settings.redis_url, metrics.redis_error)
    webhooks = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT))
    async with email_client(settings, metrics) as email, webhooks:
        from handlers.inflight import track

        services = build_services(settings, slack, store, email, webhooks, metrics)
        app = build_app(settings, services, slack)
        inflight = track(app)
        http = build_http(app, request_url=settings.slack_app_token is None, services=services)
        draining = asyncio.Event()
        http.middlewares.append(refuse_while_draining(draining))
        runner = web.AppRunner(http, access_log=None)
        await runner.setup()
        # Requests are only acknowledged here (the work runs on): 2 s is plenty to answer them.
        await web.TCPSite(runner, settings.host, settings.port, shutdown_timeout=2.0).start()
        background = [asyncio.create_task(sweep_forever(services, slack))]
        alerts = start_alerts(settings, services, store, slack, services.stopping)
        if alerts is not None:
            background.append(alerts)
        socket_mode = None
        try:
            if settings.slack_app_token is not None:
                socket_mode = AsyncSocketModeHandler(app, _secret(settings.slack_app_token))
                await unless_stopped(socket_mode.connect_async(), stop)  # type: ignore[no-untyped-call]
                if stop.is_set():
                    return
            mode = "Socket Mode" if socket_mode else f"HTTP on {settings.host}:{settings.port}"
            log.info("bot ready (%s, command %s)", mode, settings.bot_command)
            print(f"bot ready ({mode})", flush=True)
            await stop.wait()
        finally:
            await shut_down(services, runner, draining, inflight, socket_mode, background)
            await store.aclose()


async def check_app_token(settings: Settings) -> None:
    """Socket Mode retries a refused app token every 5 s forever, while /healthz answers 200;
    so the token is tried once first, and a refusal stops start-up saying what to fix."""
    client = AsyncWebClient(base_url=settings.slack_api_url, timeout=SLACK_TIMEOUT_SECONDS)
    token = _secret(settings.slack_app_token) or ""
    try:
        await client.apps_connections_open(app_token=token)
    except SlackApiError as exc:
        error = str(exc.response.get("error"))
        if error in APP_TOKEN_REFUSED:
            raise ConfigError(
                f"The bot cannot start: Slack refused SLACK_APP_TOKEN ({error}). Create an "
                "app-level token with the connections:write scope (api.slack.com/apps -> Basic "
                "Information -> App-Level Tokens) and set SLACK_APP_TOKEN to it."
            ) from None
        log.warning("Slack answered %s to apps.connections.open; connecting anyway", error)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        log.warning(
            "could not reach Slack to check SLACK_APP_TOKEN (%s); connecting anyway, retried "
            "every 5 s",
            type(exc).__name__,
        )


def refuse_while_draining(draining: asyncio.Event) -> Middleware:
    """While shutting down, every request but liveness and metrics gets 503 (readiness too):
    a load balancer sends Slack's requests to another replica."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if draining.is_set() and request.path not in ("/healthz", "/metrics"):
            return web.json_response(
                {"ok": False, "error": "shutting down"},
                status=503,
                headers={"Connection": "close", "Retry-After": "1"},
            )
        return await handler(request)

    return middleware


async def shut_down(
    services: Services,
    runner: web.AppRunner,
    draining: asyncio.Event,
    inflight: InFlight,
    socket_mode: AsyncSocketModeHandler | None,
    background: list[asyncio.Task[None]],
) -> None:
    """Stop taking work, let what is in progress finish within GRACE_SECONDS, cancel the rest
    (see the module's docstring)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + GRACE_SECONDS
    log.info(
        "shutting down: refusing new Slack requests; %d in progress get %.0f s to finish",
        len(inflight.tasks), GRACE_SECONDS,
    )  # fmt: skip
    draining.set()
    services.stopping.set()  # executions hand back, the sweeper and the alert poller stop
    if socket_mode is not None:
        try:
            await asyncio.wait_for(socket_mode.close_async(), timeout=2.0)  # type: ignore[no-untyped-call]
        except Exception as exc:  # closing is best effort: the process ends anyway
            log.warning("closing the Socket Mode connection failed: %s", type(exc).__name__)
    await inflight.wait(deadline - loop.time())
    await asyncio.wait(background, timeout=max(deadline - loop.time(), 0.0))
    cancelled = await inflight.cancel(grace=1.0)
    late = [task for task in background if not task.done()]
    for task in late:
        task.cancel()
    if late:
        await asyncio.wait(late, timeout=1.0)
    if cancelled or late:
        log.warning(
            "still running after %.0f s, cancelled: %d Slack requests, %d background tasks "
            "(an execution caught sending is resumed elsewhere once its lease lapses)",
            GRACE_SECONDS, cancelled, len(late),
        )  # fmt: skip
    await runner.cleanup()
    log.info("stopped")


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
        store, services.email, SlackAlertSender(slack, metrics=services.metrics),
        routes=services.routes,
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
    makes each step happen once), until the process stops."""
    from handlers.approvals import sweep

    failing = False
    while not services.stopping.is_set():
        try:
            await sweep(services, slack)
            if failing:
                log.info("approval sweep: Redis answers again")
            failing = False
        except StoreUnavailable as exc:  # said once, retried every second until Redis is back
            if not failing:
                log.warning("approval sweep paused: %s; retrying every %.0f s", exc, SWEEP_SECONDS)
            failing = True
        except Exception:  # a failed sweep (Slack down, ...) is retried next time
            log.exception("approval sweep failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(services.stopping.wait(), timeout=SWEEP_SECONDS)


def _stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (installed first, so a signal during start-up, say
    while Socket Mode keeps retrying, also stops the bot cleanly)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def main() -> int:
    try:
        settings = load_settings(for_bot=True)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    setup_logging(settings.log_level, settings.log_format)
    try:
        asyncio.run(serve(settings))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0
