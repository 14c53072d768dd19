"""Redis for the service tests, which run in the test process against the session's
redis-server."""

from __future__ import annotations

from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.integrity import IntegrityKey
from tests.kit.servers import RedisProcess

NO_RETRY = Retry(NoBackoff(), 0)  # a dead Redis answers at once


def service_db(redis_server: RedisProcess) -> str:
    """Database 1: the service tests' own. The bot processes of the end-to-end tests use
    database 0 and keep running (their sweepers and pollers would pick up these tests' work)."""
    return redis_server.url.rsplit("/", 1)[0] + "/1"


# The service tests' integrity key (production derives it from the bot's secrets).
TEST_KEY = IntegrityKey.derive("the service tests' integrity key")
