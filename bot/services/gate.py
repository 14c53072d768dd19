"""Admission control: at most `limit` requests of people in progress per process.

Each accepted Slack request starts work that waits on Cloudflare (a few calls per second at
best under its rate limit). Without a bound, a flood queues work faster than it drains and
memory grows with it (measured: 855 MB after 20 s of 50 clients, bench/ack.py); past the bound
people are told at once that the bot is busy, which is also the honest answer.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator


class WorkGate:
    def __init__(self, limit: int = 100) -> None:
        self.limit = limit
        self.active = 0

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[bool]:
        """Yields True with a slot taken for the block, or False when the bot is full."""
        if self.active >= self.limit:
            yield False
            return
        self.active += 1
        try:
            yield True
        finally:
            self.active -= 1
