"""Client-side request limiter for the Email Security API.

Cloudflare allows 1200 requests per 5 minutes per token and, once exceeded, blocks every call for
the next 5 minutes (CONTRACT.md §4). A sliding window of send times keeps this process under the
limit exactly (a token bucket with a full burst could send twice the limit inside one window), and
`pause()` holds every caller back after a 429 until Retry-After has passed.

This is the per-process limiter. The bot runs the shared one (`bot/store/ratelimit.py`: one
budget for every replica, in Redis), which falls back to this one while Redis is down; both
satisfy `Limiter`, the transport's view of a limiter.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

# Seconds added to the window: a request is counted when it is granted, Cloudflare counts it
# when it arrives, and the two are a few milliseconds apart (more for the first request on a
# new connection, or on a busy event loop). Measured: with no margin, 6 grants per second
# reached the simulator as 9 inside one second (tests/test_e2e_shared_limit.py); with 0.25 s, on
# two cores running five test workers, once 10 where 9 were granted. Of a 5-minute window, 0.5 s
# is a sixth of a percent.
MARGIN = 0.5


class Limiter(Protocol):
    """What the transport needs of a limiter: a turn for each attempt, and a pause after a 429
    that holds back every request the limiter governs."""

    def turn(self, slots: asyncio.Semaphore) -> AbstractAsyncContextManager[None]:
        """Hold one of `slots` (the transport's in-flight bound) and a grant together, for one
        request sent at once: a grant used late could land in the API's next window beside
        that window's own, so the limiter decides how the two combine."""
        ...

    async def pause(self, seconds: float) -> None: ...


class RequestLimiter:
    def __init__(
        self,
        max_requests: int = 1200,
        period: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        margin: float = MARGIN,
    ) -> None:
        if max_requests < 1 or period <= 0 or margin < 0:
            raise ValueError("rate limit must allow at least 1 request in a positive period")
        self.max_requests = max_requests
        self.period = period
        self.window = period + margin
        self._clock = clock
        self._sent: deque[float] = deque()
        self._paused_until = 0.0
        # One waiter at a time: callers are served in arrival order and none can overtake.
        self._lock = asyncio.Lock()

    def delay(self) -> float:
        """Seconds until the next request may go out (0 when it may go now)."""
        now = self._clock()
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()
        wait = self._paused_until - now
        if len(self._sent) >= self.max_requests:
            wait = max(wait, self._sent[0] + self.window - now)
        return max(wait, 0.0)

    async def acquire(self) -> None:
        """Wait (cancellably) until a request may be sent, then count it as sent."""
        async with self._lock:
            # Time-based, not event-based: the wait ends when a slot ages out of the window.
            while (wait := self.delay()) > 0:  # noqa: ASYNC110
                await asyncio.sleep(wait)
            self._sent.append(self._clock())

    @contextlib.asynccontextmanager
    async def turn(self, slots: asyncio.Semaphore) -> AsyncIterator[None]:
        """The slot first, then the grant: the request goes the moment it is granted."""
        async with slots:
            await self.acquire()
            yield

    def record(self) -> None:
        """Count a request another limiter granted (the shared one), so that falling back to
        this one mid-window does not send a second window's worth on top of it."""
        self.delay()  # drops what has aged out
        if len(self._sent) < self.max_requests:
            self._sent.append(self._clock())

    async def pause(self, seconds: float) -> None:
        """Hold every request back for `seconds` (after a 429 with Retry-After)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)
