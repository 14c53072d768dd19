"""The blocks of each post the bot drew cards in, as last drawn, so that one card of a post
that holds several (an alert thread post) can be redrawn alone, also from a modal submission,
which carries no copy of the post. Compressed; kept POST_TTL_SECONDS; updates of one post are
serialised with a short lease, so two redraws of different cards of it cannot undo each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import zlib
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as redis

from bot.store.lease import Lease
from bot.store.plumbing import redis_errors

POST_TTL_SECONDS = 14 * 24 * 3600
LOCK_SECONDS = 10.0
JsonBlocks = list[dict[str, Any]]


def _key(channel: str, ts: str) -> str:
    return f"post:{channel}:{ts}"


class PostStore:
    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    async def keep(
        self, channel: str, ts: str, blocks: JsonBlocks, *, only_new: bool = False
    ) -> None:
        """Remember `blocks` as the post's current content (`only_new`: unless one is kept)."""
        data = zlib.compress(json.dumps(blocks, separators=(",", ":")).encode())
        with redis_errors():
            await self.redis.set(_key(channel, ts), data, ex=POST_TTL_SECONDS, nx=only_new)

    async def get(self, channel: str, ts: str) -> JsonBlocks | None:
        with redis_errors():
            data = await self.redis.get(_key(channel, ts))
        if data is None:
            return None
        raw = data if isinstance(data, bytes) else str(data).encode()
        blocks: JsonBlocks = json.loads(zlib.decompress(raw))
        return blocks

    @contextlib.asynccontextmanager
    async def editing(self, channel: str, ts: str) -> AsyncIterator[bool]:
        """Hold the post's edit lease for the block; yields False when another edit held it
        for longer than LOCK_SECONDS (the caller then edits anyway: a lost update beats none)."""
        lease = Lease(self.redis, _key(channel, ts) + ":edit")
        owner = secrets.token_hex(6)
        held = False
        for _ in range(int(LOCK_SECONDS / 0.05)):
            if await lease.acquire(owner, LOCK_SECONDS):
                held = True
                break
            await asyncio.sleep(0.05)  # another redraw of this post is finishing
        try:
            yield held
        finally:
            if held:
                await lease.release(owner)
