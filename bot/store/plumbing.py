"""Redis plumbing shared by the stores: one translation of Redis failures."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import redis.asyncio as redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisClusterException

from bot.errors import StoreUnavailable

# What a failing Redis raises: redis-py's cluster client raises some of its own (no node
# reachable, a slot nobody serves) outside RedisError.
FAILURES: tuple[type[Exception], ...] = (redis.RedisError, RedisClusterException)


@contextlib.contextmanager
def redis_errors() -> Iterator[None]:
    """Any Redis failure inside becomes StoreUnavailable, with a message a person can act on."""
    try:
        yield
    except FAILURES as exc:
        raise StoreUnavailable(unavailable(exc)) from None


async def run_script(script: AsyncScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
    """A registered Lua script's answer, its Redis failures as StoreUnavailable."""
    with redis_errors():
        return await script(keys=keys, args=args)


def unavailable(exc: Exception) -> str:
    return (
        f"the bot's state store (Redis) is unreachable ({type(exc).__name__}); "
        "an admin should check REDIS_URL and the Redis server"
    )
