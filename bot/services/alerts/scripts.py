"""Every write of the alert poller as one Lua script, behind a typed method.

Each script is one atomic step that first checks the poller still holds `alerts:lock` (the
`bot.store.lease.Lease` the poller takes and renews): a poller whose lease lapsed can commit
nothing after its successor started. Callers never build KEYS/ARGV lists: the key names live
here, next to the scripts that use them.

Redis layout (all under `alerts:`; the scripts touch several keys at once, so one Redis, not
Redis Cluster):

    alerts:lock                     string: the owner polling now, with a TTL it keeps renewing
                                    (bot.store.lease.Lease; every script here checks it)
    alerts:state                    hash: floor (no alert for mail scanned before it: the first
                                    start minus ALERT_BACKFILL_HOURS), watermark (epoch seconds)
    alerts:seen:messages            zset: message id -> epoch queued; an id leaves it once older
                                    than SEEN_RETENTION and SKEW_MARGIN before the search window
    alerts:seen:reports             zset: PhishGuard report id -> epoch queued; likewise
    alerts:outboxes                 set: channels whose outbox is not empty
    alerts:outbox:<channel>         zset: item id ("m:<message id>" / "r:<report id>") -> order
    alerts:outbox:<channel>:items   hash: item id -> JSON {"kind", "data"} (models.item_payload)
    alerts:outbox:seq               counter: the order of queued items
    alerts:campaign:<key>           hash: root_ts, data (JSON: campaign + latest message,
                                    models.record_data); expires campaign_ttl after its last post
    alerts:dirty:<channel>          set: keys of campaign records whose root still needs its
                                    update (the counter and recipients of a thread post)
    alerts:rejected                 stream: items Slack refused for good (AlertRejected), with
                                    item, channel, error, at, payload; the last REJECTED_KEEP

To post old mail again after a first start (say, a larger ALERT_BACKFILL_HOURS), delete
`alerts:state`; the seen sets still keep what was posted from being posted twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from bot.cloudflare.models import MessageDetails
from bot.services.alerts.models import Campaign, LockLost, Queued, record_data
from bot.store import redis_errors

ENQUEUE_BATCH = 200  # items per enqueue script call
REJECTED_KEEP = 1000

LOCK_KEY = "alerts:lock"
STATE_KEY = "alerts:state"
SEEN_MESSAGES_KEY = "alerts:seen:messages"
SEEN_REPORTS_KEY = "alerts:seen:reports"
OUTBOXES_KEY = "alerts:outboxes"
SEQ_KEY = "alerts:outbox:seq"
REJECTED_KEY = "alerts:rejected"
NO_CAMPAIGN = "alerts:campaign:-"  # placeholder key for a post that touches no campaign


def outbox_key(channel: str) -> str:
    return f"alerts:outbox:{channel}"


def items_key(channel: str) -> str:
    return f"alerts:outbox:{channel}:items"


def campaign_record_key(key: str) -> str:
    return f"alerts:campaign:{key}"


def dirty_key(channel: str) -> str:
    return f"alerts:dirty:{channel}"


def as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# Each script answers -1 when `owner` no longer holds the lock, and is one atomic step.

# KEYS: lock, state. ARGV: owner, floor. The first start fixes the floor (and the watermark).
_START = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('HEXISTS', KEYS[2], 'floor') == 0 then
  redis.call('HSET', KEYS[2], 'floor', ARGV[2], 'watermark', ARGV[2])
end
return redis.call('HMGET', KEYS[2], 'floor', 'watermark')
"""

# KEYS: lock, seen messages, seen reports, outboxes, seq, then per channel: outbox, items.
# ARGV: owner, now, trim cutoff, channel count, the channels, then per item:
# kind ('m' or 'r'), id, channel number (1-based), payload.
_ENQUEUE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local now = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[3])
local channels = tonumber(ARGV[4])
local added = 0
local i = 5 + channels
while i + 3 <= #ARGV do
  local kind, id, ch = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local seen = KEYS[2]
  if kind == 'r' then seen = KEYS[3] end
  if not redis.call('ZSCORE', seen, id) then
    redis.call('ZADD', seen, now, id)
    local item = kind .. ':' .. id
    redis.call('ZADD', KEYS[4 + 2 * ch], redis.call('INCR', KEYS[5]), item)
    redis.call('HSET', KEYS[5 + 2 * ch], item, ARGV[i + 3])
    redis.call('SADD', KEYS[4], ARGV[4 + ch])
    added = added + 1
  end
  i = i + 4
end
return added
"""

# KEYS: lock, outbox, items, outboxes, campaign record, dirty set.
# ARGV: owner, channel, mode ('none', 'root', 'thread'), root ts, record data, ttl, item ids...
# 'root' stores a new campaign record; 'thread' updates the record if it is still that root's.
_POSTED = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
for i = 7, #ARGV do
  redis.call('ZREM', KEYS[2], ARGV[i])
  redis.call('HDEL', KEYS[3], ARGV[i])
end
if redis.call('ZCARD', KEYS[2]) == 0 then redis.call('SREM', KEYS[4], ARGV[2]) end
if ARGV[3] == 'root' then
  redis.call('DEL', KEYS[5])
  redis.call('HSET', KEYS[5], 'root_ts', ARGV[4], 'data', ARGV[5])
  redis.call('EXPIRE', KEYS[5], tonumber(ARGV[6]))
elseif ARGV[3] == 'thread' and redis.call('HGET', KEYS[5], 'root_ts') == ARGV[4] then
  redis.call('HSET', KEYS[5], 'data', ARGV[5])
  redis.call('EXPIRE', KEYS[5], tonumber(ARGV[6]))
  redis.call('SADD', KEYS[6], KEYS[5])
end
return 1
"""

# KEYS: lock, dirty set. ARGV: owner, campaign record key.
_ROOT_UPDATED = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('SREM', KEYS[2], ARGV[2])
return 1
"""

# KEYS: lock, outbox, items, outboxes, rejected. ARGV: owner, channel, error, at, keep, ids...
_SET_ASIDE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
for i = 6, #ARGV do
  local payload = redis.call('HGET', KEYS[3], ARGV[i])
  if payload then
    redis.call('XADD', KEYS[5], 'MAXLEN', '~', tonumber(ARGV[5]), '*', 'item', ARGV[i],
               'channel', ARGV[2], 'error', ARGV[3], 'at', ARGV[4], 'payload', payload)
  end
  redis.call('ZREM', KEYS[2], ARGV[i])
  redis.call('HDEL', KEYS[3], ARGV[i])
end
if redis.call('ZCARD', KEYS[2]) == 0 then redis.call('SREM', KEYS[4], ARGV[2]) end
return 1
"""

# KEYS: lock, outboxes, state. ARGV: owner, end. 0: something is still queued.
_ADVANCE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('SCARD', KEYS[2]) > 0 then return 0 end
local mark = tonumber(redis.call('HGET', KEYS[3], 'watermark') or '0')
if tonumber(ARGV[2]) > mark then redis.call('HSET', KEYS[3], 'watermark', ARGV[2]) end
return 1
"""


class AlertScripts:
    """The poller's writes, for `owner`. Every method raises LockLost (after calling `on_lost`,
    so that the poller stops before its next Slack call) when another owner holds the lock,
    and StoreUnavailable when Redis fails."""

    def __init__(
        self,
        redis: aioredis.Redis,
        owner: str,
        *,
        campaign_ttl: int,
        on_lost: Callable[[], None],
    ) -> None:
        self.owner = owner
        self.campaign_ttl = campaign_ttl  # seconds a campaign record outlives its last post
        self._on_lost = on_lost
        self._start = redis.register_script(_START)
        self._enqueue = redis.register_script(_ENQUEUE)
        self._posted = redis.register_script(_POSTED)
        self._root_updated = redis.register_script(_ROOT_UPDATED)
        self._set_aside = redis.register_script(_SET_ASIDE)
        self._advance = redis.register_script(_ADVANCE)

    async def _owned(self, script: AsyncScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
        with redis_errors():
            answer = await script(keys=keys, args=[self.owner, *args])
        if answer == -1:
            self._on_lost()
            raise LockLost("lost the alerts lock to another replica, which carries on")
        return answer

    async def start(self, floor: float) -> tuple[float, float]:
        """The floor and the watermark; the first start of all sets both to `floor`."""
        answer = await self._owned(self._start, [LOCK_KEY, STATE_KEY], [floor])
        return float(as_text(answer[0])), float(as_text(answer[1]))

    async def enqueue(self, items: Sequence[Queued], now: float, cutoff: float) -> int:
        """Queue each item whose id was never seen, in its channel's outbox, and mark it seen
        (one step per batch). Seen ids older than `cutoff` are forgotten first. Returns how
        many were queued."""
        added = 0
        for at in range(0, len(items), ENQUEUE_BATCH):
            batch = items[at : at + ENQUEUE_BATCH]
            channels = list(dict.fromkeys(item.channel for item in batch))
            number = {channel: n for n, channel in enumerate(channels, 1)}
            keys = [LOCK_KEY, SEEN_MESSAGES_KEY, SEEN_REPORTS_KEY, OUTBOXES_KEY, SEQ_KEY]
            for channel in channels:
                keys += [outbox_key(channel), items_key(channel)]
            args: list[Any] = [repr(now), repr(cutoff), len(channels), *channels]
            for item in batch:
                args += [item.kind, item.id, number[item.channel], item.payload]
            added += int(await self._owned(self._enqueue, keys, args))
        return added

    async def _commit(
        self,
        channel: str,
        ids: Sequence[str],
        mode: Literal["none", "root", "thread"],
        campaign: Campaign | None = None,
        latest: MessageDetails | None = None,
    ) -> None:
        record, data, root_ts = NO_CAMPAIGN, "", ""
        if campaign is not None and latest is not None:
            record, data = campaign_record_key(campaign.key), record_data(campaign, latest)
            root_ts = campaign.root_ts or ""
        keys = [LOCK_KEY, outbox_key(channel), items_key(channel), OUTBOXES_KEY]
        keys += [record, dirty_key(channel)]
        await self._owned(
            self._posted, keys, [channel, mode, root_ts, data, self.campaign_ttl, *ids]
        )

    async def posted(self, channel: str, ids: Sequence[str]) -> None:
        """Items posted that belong to no campaign (reports): out of the outbox."""
        await self._commit(channel, ids, "none")

    async def root_posted(
        self, channel: str, ids: Sequence[str], campaign: Campaign, first: MessageDetails
    ) -> None:
        """A campaign's root was posted (`campaign.root_ts`): its item leaves the outbox and the
        campaign record is (re)written."""
        await self._commit(channel, ids, "root", campaign, first)

    async def thread_posted(
        self, channel: str, ids: Sequence[str], campaign: Campaign, latest: MessageDetails
    ) -> None:
        """Messages were posted in `campaign`'s thread: they leave the outbox; the record (if it
        is still that root's) takes the new counter and is marked for a root update."""
        await self._commit(channel, ids, "thread", campaign, latest)

    async def root_updated(self, channel: str, record: str) -> None:
        """The root of the campaign record `record` (its Redis key) no longer needs an update."""
        await self._owned(self._root_updated, [LOCK_KEY, dirty_key(channel)], [record])

    async def set_aside(self, channel: str, ids: Sequence[str], error: str, at: datetime) -> None:
        """Move items Slack refused for good from the outbox to `alerts:rejected`."""
        await self._owned(
            self._set_aside,
            [LOCK_KEY, outbox_key(channel), items_key(channel), OUTBOXES_KEY, REJECTED_KEY],
            [channel, error[:500], at.isoformat(), REJECTED_KEEP, *ids],
        )

    async def advance(self, end: float) -> bool:
        """Move the watermark to `end` (never back) if every outbox is empty; False if not."""
        keys = [LOCK_KEY, OUTBOXES_KEY, STATE_KEY]
        return bool(await self._owned(self._advance, keys, [repr(end)]))
