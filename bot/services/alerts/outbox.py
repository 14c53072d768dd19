"""Reading what the alerts keep in Redis: the outboxes, campaign records and the match keys that
lead to them, pending root updates, a post in flight, the digest rate and digests (the writes
are the scripts in `scripts.py`; the layout is described there).

Reads need no lock: what they return is only acted on through a script that checks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

import redis.asyncio as aioredis
from pydantic import ValidationError

from bot.services.alerts.models import (
    Digest,
    DigestEntry,
    InFlight,
    Item,
    StoredCampaign,
    parse_item,
    parse_record,
)
from bot.services.alerts.scripts import (
    OUTBOXES_KEY,
    RANK_SPAN,
    SEEN_MESSAGES_KEY,
    as_text,
    campaign_record_key,
    digest_key,
    dirty_key,
    entries_key,
    index_key,
    inflight_key,
    items_key,
    open_digest_key,
    outbox_key,
    rate_key,
    senders_key,
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
    """The first items of a channel's outbox, in order (the most severe first)."""

    ids: list[str] = field(default_factory=list)  # every id read, readable or not
    items: list[Item] = field(default_factory=list)  # those read back, in order
    unreadable: list[str] = field(default_factory=list)  # ids without a readable payload


def _at(epoch: bytes | str | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(float(as_text(epoch)), UTC)


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

    async def seen(self, message_ids: list[str]) -> set[str]:
        """Those of `message_ids` queued before (whatever became of them since)."""
        if not message_ids:
            return set()
        with redis_errors():
            scores = await self.redis.zmscore(SEEN_MESSAGES_KEY, message_ids)
        return {i for i, score in zip(message_ids, scores, strict=True) if score is not None}

    async def batch(self, channel: str, limit: int) -> Batch:
        """The first `limit` items of `channel`'s outbox."""
        with redis_errors():
            raw = await self.redis.zrange(outbox_key(channel), 0, limit - 1, withscores=True)
        scored = cast("list[tuple[bytes | str, float]]", raw)
        ranked = [(as_text(i), int(score // RANK_SPAN)) for i, score in scored]
        found = Batch(ids=[i for i, _ in ranked])
        if not found.ids:
            return found
        with redis_errors():
            payloads = await self.redis.hmget(items_key(channel), found.ids)
        for (item_id, rank), payload in zip(ranked, payloads, strict=True):
            if payload is None:
                found.unreadable.append(item_id)  # queued without a payload: cannot be posted
                continue
            try:
                found.items.append(parse_item(item_id, payload, rank))
            except ValueError:
                found.unreadable.append(item_id)
        return found

    async def items(self, channel: str, ids: list[str]) -> dict[str, Item]:
        """The queued items among `ids`, by id (gone or unreadable ones are left out)."""
        if not ids:
            return {}
        with redis_errors():
            payloads = await self.redis.hmget(items_key(channel), ids)
        found = {}
        for item_id, payload in zip(ids, payloads, strict=True):
            try:
                if payload is not None:
                    found[item_id] = parse_item(item_id, payload)
            except ValueError:
                continue
        return found

    async def campaigns(self, match_keys: list[str]) -> dict[str, StoredCampaign]:
        """The records of the campaigns whose root was posted, by the match keys leading to
        them."""
        if not match_keys:
            return {}
        with redis_errors():
            held = await self.redis.mget([index_key(k) for k in match_keys])
        leads = {k: as_text(c) for k, c in zip(match_keys, held, strict=True) if c is not None}
        ids = list(dict.fromkeys(leads.values()))
        if not ids:
            return {}
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for campaign_id in ids:
                    pipe.hgetall(campaign_record_key(campaign_id))
                answers = await pipe.execute()
        records = {}
        for campaign_id, raw in zip(ids, answers, strict=True):
            record = _record(raw)
            if record is not None and record.campaign.root_ts:
                records[campaign_id] = record
        return {k: records[c] for k, c in leads.items() if c in records}

    async def dirty(self, channel: str) -> list[str]:
        """Keys of the campaign records of `channel` whose root still needs its update."""
        with redis_errors():
            return [as_text(m) for m in await self.redis.smembers(dirty_key(channel))]

    async def record(self, record_key: str) -> StoredCampaign | None:
        """The campaign record at `record_key` (None when gone or unreadable)."""
        with redis_errors():
            raw = await self.redis.hgetall(record_key)
        return _record(raw)

    async def in_flight(self, channel: str) -> InFlight | None:
        """The post a poller was making in `channel` when it stopped hearing from Slack."""
        with redis_errors():
            data = await self.redis.hget(inflight_key(channel), "data")
        if data is None:
            return None
        try:
            return InFlight.model_validate_json(data)
        except ValidationError:
            return None

    async def singles_since(self, channel: str, since: datetime) -> int:
        """Lower-severity alerts posted one by one in `channel` since `since`."""
        with redis_errors():
            return int(await self.redis.zcount(rate_key(channel), since.timestamp(), "+inf"))

    async def open_digest(self, channel: str) -> Digest | None:
        """The digest `channel` collects into now, if any."""
        with redis_errors():
            found = await self.redis.get(open_digest_key(channel))
        return None if found is None else await self.digest(as_text(found))

    async def digest(self, digest_id: str) -> Digest | None:
        with redis_errors():
            raw = await self.redis.hgetall(digest_key(digest_id))
            senders = await self.redis.scard(senders_key(digest_id))
        fields = {as_text(k): as_text(v) for k, v in raw.items()}
        opened, latest = _at(fields.get("opened")), _at(fields.get("latest"))
        if not fields.get("ts") or opened is None or latest is None:
            return None
        return Digest(
            id=digest_id, channel=fields.get("channel", ""), ts=fields["ts"], opened=opened,
            latest=latest, window_seconds=float(fields.get("window", "0")),
            count=int(fields.get("count", "0")), senders=int(senders),
            dispositions={k[2:]: int(v) for k, v in fields.items() if k.startswith("d:")},
        )  # fmt: skip

    async def new_senders(self, digest_id: str, senders: list[str]) -> int:
        """How many of `senders` (distinct) the digest has not counted yet."""
        wanted = list(dict.fromkeys(senders))
        if not wanted:
            return 0
        with redis_errors():
            known = await self.redis.smismember(senders_key(digest_id), wanted)
        return sum(1 for member in known if not member)

    async def entries(
        self, digest_id: str, start: int, count: int
    ) -> tuple[list[DigestEntry], int]:
        """`count` entries of a digest's list from `start`, and how many it keeps."""
        with redis_errors():
            raw = await self.redis.lrange(entries_key(digest_id), start, start + count - 1)
            kept = await self.redis.llen(entries_key(digest_id))
        found = []
        for entry in raw:
            try:
                found.append(DigestEntry.model_validate_json(entry))
            except ValidationError:
                continue
        return found, int(kept)


def _record(raw: dict[bytes | str, bytes | str] | None) -> StoredCampaign | None:
    if not raw:
        return None
    return parse_record({as_text(k): as_text(v) for k, v in raw.items()})
