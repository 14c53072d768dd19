"""Test hooks at `/__simulator/...`: no auth, no faults, plain JSON (not the v4 envelope)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from bot.simulator.messages import iso
from bot.simulator.routes import SIMULATOR
from bot.simulator.runtime import now

PREFIX = "/__simulator"


def add_hooks(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/health", health)
    app.router.add_post(f"{PREFIX}/messages", add_messages)
    app.router.add_get(f"{PREFIX}/calls", calls)
    app.router.add_get(f"{PREFIX}/requests", requests)
    app.router.add_post(f"{PREFIX}/reset", reset)
    app.router.add_get(f"{PREFIX}/faults", faults)
    app.router.add_post(f"{PREFIX}/faults", set_faults)
    app.router.add_post(f"{PREFIX}/clock", advance_clock)
    app.router.add_post(f"{PREFIX}/reports", add_report)


def _bad(message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=400)


async def _body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "messages": len(request.app[SIMULATOR].store.messages)})


async def add_messages(request: web.Request) -> web.Response:
    """One message object or an array of them; answers the stored ids in order."""
    body = await _body(request)
    items = body if isinstance(body, list) else [body]
    try:
        ids = request.app[SIMULATOR].store.add_messages(items, now())
    except ValueError as error:
        return _bad(str(error))
    return web.json_response(ids)


async def calls(request: web.Request) -> web.Response:
    return web.json_response(request.app[SIMULATOR].calls)


async def requests(request: web.Request) -> web.Response:
    return web.json_response(request.app[SIMULATOR].requests)


async def reset(request: web.Request) -> web.Response:
    request.app[SIMULATOR].reset()
    return web.json_response({"ok": True})


async def faults(request: web.Request) -> web.Response:
    return web.json_response(request.app[SIMULATOR].faults.settings.to_json())


async def set_faults(request: web.Request) -> web.Response:
    """Merge the posted settings into the current ones; answers the result."""
    body = await _body(request)
    if not isinstance(body, dict):
        return _bad("send a JSON object of fault settings")
    simulator = request.app[SIMULATOR]
    try:
        simulator.faults.update(body)
    except ValueError as error:
        return _bad(str(error))
    return web.json_response(simulator.faults.settings.to_json())


async def advance_clock(request: web.Request) -> web.Response:
    """`{"seconds": N}`: run the clock of things that take time (submission reviews, bulk jobs,
    domain verification) N seconds ahead, so a test sees them happen without waiting."""
    body = await _body(request)
    seconds = body.get("seconds") if isinstance(body, dict) else None
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
        return _bad('send {"seconds": N} with N >= 0')
    store = request.app[SIMULATOR].store
    store.ahead += timedelta(seconds=seconds)
    return web.json_response({"ahead_seconds": store.ahead.total_seconds()})


async def add_report(request: web.Request) -> web.Response:
    """One PhishGuard report (`id`, `title`, `content`, `priority`, `disposition`, `fields`,
    `tags`); `created_at` and `updated_at` default to now. Answers its id."""
    body = await _body(request)
    if not isinstance(body, dict) or not isinstance(body.get("id"), int):
        return _bad("send a JSON object with an integer id")
    stamp = iso(now())
    report = {"content": "", "priority": "medium", "tags": [], "fields": {"to": []}, **body}
    report.setdefault("created_at", stamp)
    report.setdefault("updated_at", report["created_at"])
    request.app[SIMULATOR].store.reports.insert(0, report)
    return web.json_response({"id": body["id"]})
