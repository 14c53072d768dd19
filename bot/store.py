"""What the Slack surface keeps in Redis, so that any replica can serve a click, also after a
restart: saved searches behind "More" and the outcome lines of cards."""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Iterator
from typing import Any

import redis.asyncio as redis
from pydantic import BaseModel

TTL_SECONDS = 3600
PREFIX = "search:"


class StoreUnavailable(Exception):  # noqa: N818 - reads as a state, like the API's errors
    """Redis could not be reached; the message says what to do."""


class SavedSearch(BaseModel):
    description: str
    filters: dict[str, Any]
    cursor: str
    shown: int


class SearchStore:
    """Search filters and the API cursor behind a "More" button, kept for an hour."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    async def save(self, search: SavedSearch) -> str:
        key = secrets.token_urlsafe(12)
        try:
            await self.redis.set(PREFIX + key, search.model_dump_json(), ex=TTL_SECONDS)
        except redis.RedisError as exc:
            raise StoreUnavailable(_unavailable(exc)) from None
        return key

    async def load(self, key: str) -> SavedSearch | None:
        try:
            raw = await self.redis.get(PREFIX + key)
        except redis.RedisError as exc:
            raise StoreUnavailable(_unavailable(exc)) from None
        if raw is None:
            return None
        return SavedSearch.model_validate(json.loads(raw))


@contextlib.contextmanager
def redis_errors() -> Iterator[None]:
    """Any Redis failure inside becomes StoreUnavailable, with a message a person can act on."""
    try:
        yield
    except redis.RedisError as exc:
        raise StoreUnavailable(_unavailable(exc)) from None


def _unavailable(exc: Exception) -> str:
    return (
        f"the bot's state store (Redis) is unreachable ({type(exc).__name__}); "
        "an admin should check REDIS_URL and the Redis server"
    )


class CardStore:
    """The outcome lines a card has gathered ("Released by … at …"), so that re-rendering a
    card after the next action keeps its history; kept 30 days."""

    TTL_SECONDS = 30 * 24 * 3600

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    async def add_outcome(self, channel: str, ts: str, line: str) -> list[str]:
        key = f"card:{channel}:{ts}:outcomes"
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.rpush(key, line)
                pipe.expire(key, self.TTL_SECONDS)
                pipe.lrange(key, -20, -1)
                *_, lines = await pipe.execute()
        except redis.RedisError as exc:
            raise StoreUnavailable(_unavailable(exc)) from None
        return [x.decode() if isinstance(x, bytes) else str(x) for x in lines]
