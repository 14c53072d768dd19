"""The reclassify submissions the bot follows until Cloudflare decides them, so that a restart
(or another replica) keeps following them.

Redis layout: `submissions:follow` hash, a follow's key -> its JSON (what the service needs to
find the submission and show its outcome). Taking a follow out (`claim`) is one HDEL, which
exactly one caller wins: that caller tells the outcome, once, whichever replica it is.
"""

from __future__ import annotations

import redis.asyncio as redis

from bot.store.plumbing import redis_errors

FOLLOWS_KEY = "submissions:follow"
MAX_FOLLOWS = 5_000  # followed at once; past that, a new reclassify is not followed (logged)


class FollowStore:
    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    async def add(self, key: str, record: str) -> bool:
        """Keep `record` under `key`; False when too many are followed already."""
        with redis_errors():
            if int(await self.redis.hlen(FOLLOWS_KEY)) >= MAX_FOLLOWS:
                return False
            await self.redis.hset(FOLLOWS_KEY, key, record)
        return True

    async def all(self) -> dict[str, str]:
        with redis_errors():
            found = await self.redis.hgetall(FOLLOWS_KEY)
        return {_text(k): _text(v) for k, v in found.items()}

    async def update(self, key: str, record: str) -> None:
        """Rewrite a follow still held (one claimed meanwhile is not brought back)."""
        with redis_errors():
            if await self.redis.hexists(FOLLOWS_KEY, key):
                await self.redis.hset(FOLLOWS_KEY, key, record)

    async def claim(self, key: str) -> bool:
        """Take the follow out: True for exactly one caller."""
        with redis_errors():
            return bool(await self.redis.hdel(FOLLOWS_KEY, key))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
