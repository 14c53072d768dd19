"""Serving: the HTTP listener (POST /slack/events; GET /healthz, /readyz, /metrics), Socket Mode,
and a clean stop.

Shutdown (SIGTERM or SIGINT): new Slack requests are refused at once (HTTP: 503, which a load
balancer sends elsewhere and Slack retries for events; Socket Mode: the socket is closed, and
Slack delivers to the other connections); the work in progress gets GRACE_SECONDS to finish;
approval executions stop at their next safe point and hand their lease back, the alert poller
releases its lock, so other replicas carry on at once; what is still running after the grace
is cancelled (an execution caught sending keeps its lease until it lapses, then is resumed
elsewhere). The process then exits 0. Socket Mode pings every 5 s and reconnects when pongs
stop.

Over HTTP, a request's signature is checked on its raw body before Bolt decodes or parses it
(bot.signature); what a connection may hold before that is bounded by bot.listener.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clients import SLACK_TIMEOUT_SECONDS, secret
from bot.config import ConfigError, Settings
from bot.listener import ConnectionCap, connection_limits, read_bodies
from bot.metrics import Metrics
from bot.signature import signature_problem
from handlers.inflight import InFlight

log = logging.getLogger("bot")
GRACE_SECONDS = 8.0  # SIGTERM -> exit; fits Docker's default 10 s before SIGKILL
# The end of the grace kept for cancelling what is left and closing the listener, so that the
# process is gone within GRACE_SECONDS even when the work in progress uses all of its share.
UNWIND_SECONDS = 2.0
# apps.connections.open answers that no retry can fix: start-up stops and says what to do.
APP_TOKEN_REFUSED = frozenset(
    {"invalid_auth", "not_authed", "not_allowed_token_type", "token_revoked", "token_expired",
     "account_inactive", "missing_scope"}
)  # fmt: skip


def build_http(
    app: AsyncApp,
    *,
    signing_secret: str | None = None,
    metrics: Metrics | None = None,
    cap: ConnectionCap | None = None,
) -> web.Application:
    """/healthz, and Slack's Request URL (POST /slack/events) when there is a signing secret
    (HTTP mode; none in Socket Mode). The caller adds /readyz and /metrics (bot.health).
    `cap` is the listener's (bot.listener.CappedSite): it learns which connections are
    answering a request."""

    async def events(request: web.Request) -> web.Response:
        started = time.perf_counter()
        body = await request.read()
        problem = signature_problem(signing_secret or "", body, request.headers)
        if problem is not None:
            # One line, and nothing of the body: whoever sent it is not known to be Slack.
            log.warning("refused a request without a valid Slack signature (%s)", problem)
            if metrics is not None:
                metrics.requests.labels("unverified", "unauthorized").inc()
            return web.json_response({"ok": False, "error": "invalid signature"}, status=401)
        try:
            bolt_request = AsyncBoltRequest(
                body=body.decode("utf-8"),
                query=request.query_string,
                headers=request.headers,  # type: ignore[arg-type]
            )
        except (ValueError, TypeError, AttributeError) as exc:
            # Signed, so Slack's; but no form or JSON object Slack documents.
            log.warning(
                "refused a signed request whose body does not parse (%s)", type(exc).__name__
            )
            return web.json_response({"ok": False, "error": "malformed body"}, status=400)
        response = await to_aiohttp_response(await app.async_dispatch(bolt_request))
        if metrics is not None:
            metrics.ack_seconds.observe(time.perf_counter() - started)
        return response

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    # Slack payloads are small; a large body is not from Slack and is refused before parsing.
    web_app = web.Application(
        client_max_size=256 * 1024,
        middlewares=[read_bodies(cap or ConnectionCap(connection_limits()[0]))],
    )
    if signing_secret is not None:
        web_app.router.add_post("/slack/events", events)
    web_app.router.add_get("/healthz", healthz)
    return web_app


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


async def check_app_token(settings: Settings) -> None:
    """Socket Mode retries a refused app token every 5 s forever, while /healthz answers 200;
    so the token is tried once first, and a refusal stops start-up saying what to fix."""
    client = AsyncWebClient(base_url=settings.slack_api_url, timeout=SLACK_TIMEOUT_SECONDS)
    token = secret(settings.slack_app_token) or ""
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


async def shut_down(
    stopping: asyncio.Event,
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
        len(inflight.tasks), GRACE_SECONDS - UNWIND_SECONDS,
    )  # fmt: skip
    draining.set()
    stopping.set()  # executions hand back, the sweeper and the alert poller stop
    if socket_mode is not None:
        try:
            await asyncio.wait_for(socket_mode.close_async(), timeout=2.0)  # type: ignore[no-untyped-call]
        except Exception as exc:  # closing is best effort: the process ends anyway
            log.warning("closing the Socket Mode connection failed: %s", type(exc).__name__)
    drained_by = deadline - UNWIND_SECONDS
    await inflight.wait(drained_by - loop.time())
    await asyncio.wait(background, timeout=max(drained_by - loop.time(), 0.0))
    unwind = max(deadline - loop.time() - UNWIND_SECONDS / 4, 0.1)  # the rest: the cleanup
    cancelled = await inflight.cancel(grace=unwind / 2)
    late = [task for task in background if not task.done()]
    for task in late:
        task.cancel()
    if late:
        await asyncio.wait(late, timeout=unwind / 2)
    if cancelled or late:
        log.warning(
            "still running after %.0f s, cancelled: %d Slack requests, %d background tasks "
            "(an execution caught sending is resumed elsewhere once its lease lapses)",
            GRACE_SECONDS - UNWIND_SECONDS, cancelled, len(late),
        )  # fmt: skip
    await runner.cleanup()
    log.info("stopped")


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (installed first, so a signal during start-up, say
    while Socket Mode keeps retrying, also stops the bot cleanly)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
