"""What each posted card of a message has gathered: the outcomes of the actions taken from it
("Released by … at …", kept as JSON records the services define), so that redrawing the card
after the next action keeps its history. Keyed by the card's place and its message, since one
Slack post can hold several cards (an alert thread post); kept 30 days."""

from __future__ import annotations

import redis.asyncio as redis

from bot.store.plumbing import redis_errors

TTL_SECONDS = 30 * 24 * 3600
KEEP = 20  # outcomes a card shows at most (the thread has every one)


def _key(channel: str, ts: str, message_id: str) -> str:
    return f"card:{channel}:{ts}:{message_id}:outcomes"


class CardStore:
    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    async def add(self, channel: str, ts: str, message_id: str, record: str) -> list[str]:
        """Append `record` to the card's history; returns the newest KEEP records, oldest first."""
        key = _key(channel, ts, message_id)
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.rpush(key, record)
                pipe.expire(key, TTL_SECONDS)
                pipe.lrange(key, -KEEP, -1)
                *_, records = await pipe.execute()
        return [x.decode() if isinstance(x, bytes) else str(x) for x in records]

    async def history(self, channel: str, ts: str, message_id: str) -> list[str]:
        with redis_errors():
            records = await self.redis.lrange(_key(channel, ts, message_id), -KEEP, -1)
        return [x.decode() if isinstance(x, bytes) else str(x) for x in records]
