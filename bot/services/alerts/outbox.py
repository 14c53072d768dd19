"""Reading what the alerts keep in Redis: the outboxes, campaign records and pending root
updates (the writes are the scripts in `scripts.py`; the layout is described there).

Reads need no lock: what they return is only acted on through a script that checks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import redis.asyncio as aioredis

from bot.services.alerts.models import Item, StoredCampaign, parse_item, parse_record
from bot.services.alerts.scripts import (
    OUTBOXES_KEY,
    as_text,
    campaign_record_key,
    dirty_key,
    items_key,
    outbox_key,
)
from bot.store import redis_errors


async def outbox_depth(client: aioredis.Redis) -> int:
    """Alerts waiting to be posted, over every channel's outbox (for the metrics). Redis
    errors are raised as they are."""
    channels = [as_text(c) for c in await client.smembers(OUTBOXES_KEY)]
    if not channels:
        return 0
    async with client.pipeline(transaction=False) as pipe:
        for channel in channels:
            pipe.zcard(outbox_key(channel))
        sizes = await pipe.execute()
    return sum(int(n) for n in sizes)


@dataclass
class Batch:
    """The first items of a channel's outbox, in order."""

    ids: list[str] = field(default_factory=list)  # every id read, readable or not
    items: list[Item] = field(default_factory=list)  # those read back, in order
    unreadable: list[str] = field(default_factory=list)  # ids without a readable payload


class Outbox:
    """The alerts' reads. Every call raises StoreUnavailable when Redis fails."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def depth(self) -> int:
        """Alerts still queued, over every channel."""
        with redis_errors():
            return await outbox_depth(self.redis)

    async def channels(self) -> set[str]:
        """The channels whose outbox is not empty."""
        with redis_errors():
            return {as_text(c) for c in await self.redis.smembers(OUTBOXES_KEY)}

    async def batch(self, channel: str, limit: int) -> Batch:
        """The first `limit` items of `channel`'s outbox."""
        with redis_errors():
            raw = await self.redis.zrange(outbox_key(channel), 0, limit - 1)
        found = Batch(ids=[as_text(i) for i in cast("list[bytes | str]", raw)])
        if not found.ids:
            return found
        with redis_errors():
            payloads = await self.redis.hmget(items_key(channel), found.ids)
        for item_id, payload in zip(found.ids, payloads, strict=True):
            if payload is None:
                found.unreadable.append(item_id)  # queued without a payload: cannot be posted
                continue
            try:
                found.items.append(parse_item(item_id, payload))
            except ValueError:
                found.unreadable.append(item_id)
        return found

    async def campaigns(self, keys: list[str]) -> dict[str, StoredCampaign]:
        """The records of the campaigns with these keys whose root was posted."""
        if not keys:
            return {}
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(campaign_record_key(key))
                answers = await pipe.execute()
        found = {}
        for key, raw in zip(keys, answers, strict=True):
            record = _record(raw)
            if record is not None and record.campaign.root_ts:
                found[key] = record
        return found

    async def dirty(self, channel: str) -> list[str]:
        """Keys of the campaign records of `channel` whose root still needs its update."""
        with redis_errors():
            return [as_text(m) for m in await self.redis.smembers(dirty_key(channel))]

    async def record(self, record_key: str) -> StoredCampaign | None:
        """The campaign record at `record_key` (None when gone or unreadable)."""
        with redis_errors():
            raw = await self.redis.hgetall(record_key)
        return _record(raw)


def _record(raw: dict[bytes | str, bytes | str] | None) -> StoredCampaign | None:
    if not raw:
        return None
    return parse_record({as_text(k): as_text(v) for k, v in raw.items()})
