"""Client-side request limiter for the Email Security API.

Cloudflare allows 1200 requests per 5 minutes per token and, once exceeded, blocks every call for
the next 5 minutes (CONTRACT.md §4). A sliding window of send times keeps this process under the
limit exactly (a token bucket with a full burst could send twice the limit inside one window), and
`pause()` holds every caller back after a 429 until Retry-After has passed.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


class RequestLimiter:
    def __init__(
        self,
        max_requests: int = 1200,
        period: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_requests < 1 or period <= 0:
            raise ValueError("rate limit must allow at least 1 request in a positive period")
        self.max_requests = max_requests
        self.period = period
        self._clock = clock
        self._sent: deque[float] = deque()
        self._paused_until = 0.0
        # One waiter at a time: callers are served in arrival order and none can overtake.
        self._lock = asyncio.Lock()

    def delay(self) -> float:
        """Seconds until the next request may go out (0 when it may go now)."""
        now = self._clock()
        while self._sent and self._sent[0] <= now - self.period:
            self._sent.popleft()
        wait = self._paused_until - now
        if len(self._sent) >= self.max_requests:
            wait = max(wait, self._sent[0] + self.period - now)
        return max(wait, 0.0)

    async def acquire(self) -> None:
        """Wait (cancellably) until a request may be sent, then count it as sent."""
        async with self._lock:
            # Time-based, not event-based: the wait ends when a slot ages out of the window.
            while (wait := self.delay()) > 0:  # noqa: ASYNC110
                await asyncio.sleep(wait)
            self._sent.append(self._clock())

    def pause(self, seconds: float) -> None:
        """Hold every request back for `seconds` (after a 429 with Retry-After)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)
