"""The cards of each message and what each has gathered.

- Where a message's cards are (`cards:<message id>`: a set of "channel ts" places, every card the
  bot posted of it: lookups, alert roots and thread posts), so that when the message changes
  every one of them is redrawn, on any replica. Kept as long as posts are (14 days), at most
  PLACES_KEPT per message.
- The outcomes each card gathered ("Released by … at …", JSON records the services define), so
  that redrawing a card keeps its history. Keyed by the card's place and its message, since one
  post can hold several cards; kept 30 days."""

from __future__ import annotations

import redis.asyncio as redis

from bot.store.plumbing import redis_errors

TTL_SECONDS = 30 * 24 * 3600
KEEP = 20  # outcomes a card shows at most (the thread has every one)
PLACES_TTL_SECONDS = 14 * 24 * 3600  # as long as posts are kept (bot.store.posts)
PLACES_KEPT = 50

# KEYS: the card's outcomes. ARGV: record, ttl s, keep. The newest `keep` records, `record`
# appended unless the card has it already.
_ADD_ONCE = """
if not redis.call('LPOS', KEYS[1], ARGV[1]) then redis.call('RPUSH', KEYS[1], ARGV[1]) end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return redis.call('LRANGE', KEYS[1], -tonumber(ARGV[3]), -1)
"""


def _key(channel: str, ts: str, message_id: str) -> str:
    return f"card:{channel}:{ts}:{message_id}:outcomes"


def _places(message_id: str) -> str:
    return f"cards:{message_id}"


class CardStore:
    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._add_once = client.register_script(_ADD_ONCE)

    async def register(self, message_id: str, channel: str, ts: str) -> None:
        """Remember that a card of `message_id` is at (`channel`, `ts`)."""
        key = _places(message_id)
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.sadd(key, f"{channel} {ts}")
                pipe.expire(key, PLACES_TTL_SECONDS)
                pipe.scard(key)
                *_, count = await pipe.execute()
            if int(count) > PLACES_KEPT:  # a message shown over and over: drop arbitrary ones
                await self.redis.spop(key, int(count) - PLACES_KEPT)

    async def places(self, message_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
        """Every known card place of each message (messages without cards are left out)."""
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for message_id in message_ids:
                    pipe.smembers(_places(message_id))
                answers = await pipe.execute()
        found: dict[str, list[tuple[str, str]]] = {}
        for message_id, members in zip(message_ids, answers, strict=True):
            places = [_split(m) for m in members]
            if places:
                found[message_id] = sorted(places)
        return found

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

    async def add_once(self, channel: str, ts: str, message_id: str, record: str) -> list[str]:
        """Like `add`, but a record the card has already (the very same text) is not added
        again: for work a replica may redo after another died part way."""
        key = _key(channel, ts, message_id)
        with redis_errors():
            records = await self._add_once(keys=[key], args=[record, TTL_SECONDS, KEEP])
        return [x.decode() if isinstance(x, bytes) else str(x) for x in records]


def _split(member: bytes | str) -> tuple[str, str]:
    text = member.decode() if isinstance(member, bytes) else str(member)
    channel, _, ts = text.partition(" ")
    return channel, ts
