"""A change counter for the local servers (the simulator and the Slack stand-in), so that a test
waits for something to happen instead of asking again and again.

`GET <prefix>/changes?after=N&wait=S` answers `{"seq": counter}` as soon as the counter is past
`N`, or after `S` seconds (at most 10) if nothing happens. Every request that may change state
(POST, PUT, PATCH, DELETE) moves the counter on once its answer is ready, so whoever wakes up
and looks sees the change.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_WAIT_SECONDS = 10.0


class Changes:
    def __init__(self) -> None:
        self.seq = 0
        self._next = asyncio.Event()

    def bump(self) -> None:
        self.seq += 1
        self._next.set()
        self._next = asyncio.Event()

    async def wait(self, after: int, seconds: float) -> int:
        """The counter, once it is past `after` or `seconds` have gone by."""
        if self.seq <= after:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._next.wait(), timeout=seconds)
        return self.seq


CHANGES = web.AppKey("changes", Changes)


def add_changes(app: web.Application, prefix: str) -> None:
    """Serve `<prefix>/changes` and count the state-changing requests `app` answers."""
    app[CHANGES] = Changes()
    path = f"{prefix}/changes"

    async def changes(request: web.Request) -> web.Response:
        try:
            after = int(request.query.get("after", "-1"))
            seconds = min(float(request.query.get("wait", "0")), MAX_WAIT_SECONDS)
        except ValueError:
            return web.json_response({"error": "after is an integer, wait seconds"}, status=400)
        return web.json_response({"seq": await request.app[CHANGES].wait(after, seconds)})

    async def count(request: web.Request, response: web.StreamResponse) -> None:
        if request.method in MUTATING:
            request.app[CHANGES].bump()

    app.router.add_get(path, changes)
    app.on_response_prepare.append(count)
