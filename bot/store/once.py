"""Remembering what was already seen, so that a repeated delivery or a second click does no work
twice: one Redis `SET NX EX` per key, shared by every replica.

Redis layout: `once:<key>` string with a TTL (the key's value is unused).
"""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from bot.errors import StoreUnavailable
from bot.store.plumbing import redis_errors

PREFIX = "once:"


class Once:
    """`first(key)` is True for exactly one caller within `ttl_seconds`, whatever the number of
    callers or replicas. Each call waits at most `timeout` seconds for Redis (it may sit on a
    path that must answer Slack within 3 s), then raises StoreUnavailable."""

    def __init__(self, redis: aioredis.Redis, timeout: float = 0.5) -> None:
        self.redis = redis
        self.timeout = timeout

    async def first(self, key: str, ttl_seconds: int) -> bool:
        """True when `key` was not seen within the last `ttl_seconds` (it is marked seen now)."""
        try:
            async with asyncio.timeout(self.timeout):
                with redis_errors():
                    return bool(
                        await self.redis.set(PREFIX + key, b"1", nx=True, ex=max(ttl_seconds, 1))
                    )
        except TimeoutError:
            raise StoreUnavailable(
                f"the bot's state store (Redis) did not answer within {self.timeout:g} s; "
                "an admin should check REDIS_URL and the Redis server"
            ) from None

    async def forget(self, key: str) -> None:
        """Let `key` be first again (the work it guarded is over)."""
        try:
            async with asyncio.timeout(self.timeout):
                with redis_errors():
                    await self.redis.delete(PREFIX + key)
        except TimeoutError:
            raise StoreUnavailable(
                f"the bot's state store (Redis) did not answer within {self.timeout:g} s"
            ) from None
