"""The aiohttp application: routes, hooks, and the middleware every API request goes through.

For a request under `/client/v4` the order is: log it; check auth (401); injected one-shot
failures; rate limit (429); random errors (503); latency; account id check (400); the handler.
Unknown paths and methods get the failure envelope, like Cloudflare's API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.simulator.changes import add_changes
from bot.simulator.errors import (
    AUTH_ERROR,
    METHOD_NOT_ALLOWED,
    ROUTING,
    UNAVAILABLE,
    ApiError,
    failure_body,
)
from bot.simulator.hooks import add_hooks
from bot.simulator.routes import SIMULATOR, add_routes
from bot.simulator.runtime import Simulator, now
from bot.simulator.settings_routes import add_settings_routes

API_PREFIX = "/client/v4/"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
log = logging.getLogger("bot.simulator")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(simulator: Simulator) -> web.Application:
    # Large enough for the messages hook to take a message with a raw EML of tens of MB.
    app = web.Application(
        middlewares=[logging_middleware, api_middleware], client_max_size=128 * 1024**2
    )
    app[SIMULATOR] = simulator
    add_settings_routes(app)  # first: its literal paths win over a message id's
    add_routes(app)
    add_hooks(app)
    add_changes(app, "/__simulator")
    app.cleanup_ctx.append(_ticking)
    return app


TICK_SECONDS = 0.2


async def _ticking(app: web.Application) -> AsyncIterator[None]:
    """Run the store's clock while nobody asks, so bulk jobs (and reviews) move on in the
    background as Cloudflare's do, not only when a request looks at them."""
    store_of = app[SIMULATOR]

    async def tick() -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                store_of.store.clock(now())
            except Exception:  # a tick must never stop the ticker
                log.exception("simulator clock tick failed")

    task = asyncio.create_task(tick())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def error_response(error: ApiError) -> web.Response:
    return web.json_response(
        failure_body(error.code, error.message), status=error.status, headers=error.headers
    )


@web.middleware
async def logging_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One INFO line per request: method, path, status. Never bodies, queries or headers."""
    response = await handler(request)
    log.info("%s %s %d", request.method, request.path, response.status)
    return response


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(API_PREFIX):
        return await _answer(request, handler)
    simulator = request.app[SIMULATOR]
    entry: dict[str, Any] = {
        "method": request.method,
        "path": request.path,
        "query": dict(request.query.items()),
        "status": None,
        # Microseconds: tests measure request spacing with it.
        "at": now().isoformat(timespec="microseconds"),
    }
    simulator.requests.append(entry)
    body = await _logged_body(request) if request.method in MUTATING else None
    response = await _answer(request, _guarded(simulator, handler))
    entry["status"] = response.status
    if request.method in MUTATING:
        simulator.calls.append({**entry, "body": body})
    return response


def _guarded(simulator: Simulator, handler: Handler) -> Handler:
    """The handler behind auth, faults, latency and the account id check."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        actor = simulator.credentials.actor(request.headers)
        if actor is None:
            raise ApiError(401, AUTH_ERROR, "Authentication error")
        failure = simulator.faults.check(request.method, request.path)
        if failure is not None:
            raise failure
        if simulator.faults.latency > 0:
            await asyncio.sleep(simulator.faults.latency)
        account = request.match_info.get("account_id")
        if account is not None and len(account) != 32:
            raise ApiError(
                400,
                ROUTING,
                f"Could not route to {request.path}, perhaps your object identifier is invalid?",
            )
        request["actor"] = actor
        return await handler(request)

    return guarded


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Run the handler; every error becomes the failure envelope."""
    try:
        return await handler(request)
    except ApiError as error:
        return error_response(error)
    except web.HTTPNotFound:
        return error_response(ApiError(404, ROUTING, "No route for the URI"))
    except web.HTTPMethodNotAllowed:
        return error_response(ApiError(405, METHOD_NOT_ALLOWED, "Method not allowed"))
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(ApiError(500, UNAVAILABLE, "Internal error in the simulator"))


async def _logged_body(request: web.Request) -> Any:
    """The parsed JSON body for the call log (None if empty or not JSON); read once, cached."""
    try:
        return await request.json() if request.can_read_body else None
    except ValueError:
        return None
