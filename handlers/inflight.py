"""The Slack work in progress in this process, so that a shutdown can let it finish.

Bolt acknowledges a request and runs its listener in a task of its own; the HTTP answer (or the
Socket Mode ack) is long gone when the work ends. `track(app)` wraps the listener runner's start
and completion hooks to keep the set of those tasks: `wait(seconds)` waits for them to end,
`cancel(grace)` cancels what is left.
"""

from __future__ import annotations

import asyncio
import contextlib

from slack_bolt.async_app import AsyncApp
from slack_bolt.listener.async_listener_completion_handler import (
    AsyncListenerCompletionHandler,
)
from slack_bolt.listener.async_listener_start_handler import AsyncListenerStartHandler
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse


class InFlight:
    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[object]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    def started(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
            self._idle.clear()

    def finished(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.tasks.discard(task)
        if not self.tasks:
            self._idle.set()

    async def wait(self, seconds: float) -> bool:
        """True when nothing is in progress (any more) within `seconds`."""
        await asyncio.sleep(0)  # a listener task created just now gets to start
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout=max(seconds, 0))
        return not self.tasks

    async def cancel(self, grace: float) -> int:
        """Cancel what is still in progress and give it `grace` seconds to unwind; returns how
        many tasks were cancelled."""
        left = list(self.tasks)
        for task in left:
            task.cancel()
        if left:
            await asyncio.wait(left, timeout=grace)
        return len(left)


class _Start(AsyncListenerStartHandler):
    def __init__(self, inner: AsyncListenerStartHandler, inflight: InFlight) -> None:
        self.inner = inner
        self.inflight = inflight

    async def handle(self, request: AsyncBoltRequest, response: BoltResponse | None) -> None:
        self.inflight.started()
        await self.inner.handle(request, response)


class _Done(AsyncListenerCompletionHandler):
    def __init__(self, inner: AsyncListenerCompletionHandler, inflight: InFlight) -> None:
        self.inner = inner
        self.inflight = inflight

    async def handle(self, request: AsyncBoltRequest, response: BoltResponse | None) -> None:
        try:
            await self.inner.handle(request, response)
        finally:
            self.inflight.finished()


def track(app: AsyncApp) -> InFlight:
    inflight = InFlight()
    runner = app.listener_runner
    runner.listener_start_handler = _Start(runner.listener_start_handler, inflight)
    runner.listener_completion_handler = _Done(runner.listener_completion_handler, inflight)
    return inflight
