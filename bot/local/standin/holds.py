"""Holding a Web API answer back: the call is carried out (a post is in its channel) but its
answer waits until a test releases it. A test can then kill the caller in the one moment that
matters for exactly-once delivery: after Slack accepted a post, before the caller heard so.

Hooks: `POST /__standin/hold {"method": "chat.postMessage", "count": 1}` holds the answers of
the next `count` calls of `method` (with `"containing": "text"`, only of calls whose arguments,
as JSON, contain that text: the one call that matters among many of its method);
`GET /__standin/hold` says which answers wait now (and how many calls are still to be held);
`POST /__standin/hold/release` lets every held answer go and forgets what was still to be held.
A held answer goes anyway after HOLD_LIMIT seconds, so a forgotten hold never wedges the
stand-in; a reset releases them too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable

from aiohttp import web

from bot.local.standin.model import JsonObject
from bot.simulator.changes import Changes

HOLD_LIMIT = 30.0  # seconds


class Holds:
    def __init__(self) -> None:
        # (method, text its arguments contain) -> answers still to hold
        self.pending: dict[tuple[str, str], int] = {}
        self.held: list[JsonObject] = []  # the calls whose answers wait now
        self._release = asyncio.Event()

    def hold(self, method: str, count: int, containing: str = "") -> None:
        key = (method, containing)
        self.pending[key] = self.pending.get(key, 0) + count

    def release(self) -> None:
        """Every held answer goes now; nothing more is held."""
        self.pending.clear()
        self._release.set()
        self._release = asyncio.Event()

    async def wait(self, method: str, entry: JsonObject, changes: Changes) -> None:
        """Hold this call's answer if one of `method` is still to be held (the call is done)."""
        args = json.dumps(entry["args"], ensure_ascii=False, default=str)
        key = next(
            (k for k, n in self.pending.items() if n > 0 and k[0] == method and k[1] in args),
            None,
        )
        if key is None:
            return
        self.pending[key] -= 1
        release = self._release
        self.held.append(entry)
        changes.bump()  # a waiting test sees the call held
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(release.wait(), HOLD_LIMIT)
        finally:
            self.held.remove(entry)

    def to_json(self) -> JsonObject:
        return {
            "pending": {
                m + (f" containing {c!r}" if c else ""): n
                for (m, c), n in self.pending.items()
                if n > 0
            },
            "held": [{"method": e["method"], "args": e["args"]} for e in self.held],
        }


def add_hold_hooks(app: web.Application, holds: Callable[[web.Request], Holds]) -> None:
    """`holds(request)` finds the running stand-in's Holds."""

    async def state(request: web.Request) -> web.Response:
        return web.json_response(holds(request).to_json())

    async def hold(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            method, count = body["method"], body.get("count", 1)
            containing = body.get("containing", "")
            if (
                not isinstance(method, str)
                or not isinstance(count, int)
                or count < 1
                or not isinstance(containing, str)
            ):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return web.json_response(
                {"ok": False, "error": 'send {"method": "chat.postMessage", "count": 1}'},
                status=400,
            )
        found = holds(request)
        found.hold(method, count, containing)
        return web.json_response(found.to_json())

    async def release(request: web.Request) -> web.Response:
        found = holds(request)
        found.release()
        return web.json_response(found.to_json())

    app.router.add_get("/__standin/hold", state)
    app.router.add_post("/__standin/hold", hold)
    app.router.add_post("/__standin/hold/release", release)
