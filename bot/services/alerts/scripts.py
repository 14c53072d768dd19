"""Every write of the alert poller as one Lua script (lua.py), behind a typed method.

Each script is one atomic step that first checks the poller still holds `{alerts}:lock` (the
`bot.store.lease.Lease` the poller takes and renews): a poller whose lease lapsed can commit
nothing after its successor started. Callers never build KEYS/ARGV lists: the key names live
here, next to the methods that run the scripts.

Redis layout (all under `{alerts}:`, a hash tag: every script checks the lock and touches several
keys at once, so on a Redis Cluster they all live in one slot; before Redis Cluster support the
prefix was `alerts:`, and bot/store/keymove.py moves the keys once):

    {alerts}:lock                   string: the owner polling now, with a TTL it keeps renewing
                                    (bot.store.lease.Lease; every script here checks it)
    {alerts}:state                  hash: floor (no alert for mail scanned before it: the first
                                    start minus ALERT_BACKFILL_HOURS), watermark (epoch seconds)
    {alerts}:seen:messages          zset: message id -> epoch queued; an id leaves it once older
                                    than SEEN_RETENTION and SKEW_MARGIN before the search window
    {alerts}:seen:reports           zset: PhishGuard report id -> epoch queued; likewise
    {alerts}:outboxes               set: channels whose outbox is not empty
    {alerts}:outbox:<channel>       zset: item id ("m:<message id>" / "r:<report id>") -> order:
                                    severity rank x RANK_SPAN + arrival (most severe first)
    {alerts}:outbox:<channel>:items hash: item id -> JSON {"kind", "data"} (models.item_payload)
    {alerts}:outbox:seq             counter: the order of queued items
    {alerts}:campaign:<id>          hash: root_ts, data (JSON: campaign + latest message,
                                    models.record_data); expires campaign_ttl after its last post
    {alerts}:ckey:<match key>       string: the id of the campaign a match key leads to
                                    (campaigns.match_keys); expires with the campaign
    {alerts}:dirty:<channel>        set: keys of campaign records whose root still needs its
                                    update (the counter and recipients of a thread post)
    {alerts}:rejected               stream: items Slack refused for good (AlertRejected), with
                                    item, channel, error, at, payload; the last REJECTED_KEEP
    {alerts}:inflight:<channel>     hash: key (the alert id of the post under way in the channel),
                                    data (JSON, models.InFlight); set before the Slack call,
                                    deleted by the script that commits the post
    {alerts}:rate:<channel>         zset: lower-severity alerts posted one by one -> epoch; what
                                    the digest rate counts (trimmed to its window)
    {alerts}:digest:open:<channel>  string: the id of the digest collecting now; lives a window
    {alerts}:digest:<id>            hash: id, channel, ts, opened, latest, window, count, and
                                    d:<DISPOSITION> counts; expires DIGEST_TTL after its last use
    {alerts}:digest:<id>:entries    list: JSON of each alert (models.DigestEntry), the first
                                    DIGEST_KEEP
    {alerts}:digest:<id>:senders    set: its distinct senders

To post old mail again after a first start (say, a larger ALERT_BACKFILL_HOURS), delete
`{alerts}:state`; the seen sets still keep what was posted from being posted twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from bot.cloudflare.models import MessageDetails
from bot.services.alerts import lua
from bot.services.alerts.models import (
    Campaign,
    Digest,
    DigestEntry,
    InFlight,
    LockLost,
    Queued,
    record_data,
)
from bot.store import redis_errors

ENQUEUE_BATCH = 200  # items per enqueue script call
REJECTED_KEEP = 1000
RANK_SPAN = 10**12  # outbox score = rank x RANK_SPAN + arrival: exact in a double below 2**53
DIGEST_TTL = 7 * 24 * 3600  # seconds a digest's list stays to be read
DIGEST_KEEP = 1000  # alerts a digest lists (its counts cover them all)

TAG = "{alerts}"  # the hash tag of every key here
LOCK_KEY = "{alerts}:lock"
STATE_KEY = "{alerts}:state"
SEEN_MESSAGES_KEY = "{alerts}:seen:messages"
SEEN_REPORTS_KEY = "{alerts}:seen:reports"
OUTBOXES_KEY = "{alerts}:outboxes"
SEQ_KEY = "{alerts}:outbox:seq"
REJECTED_KEY = "{alerts}:rejected"
NO_CAMPAIGN = "{alerts}:campaign:-"  # placeholder key for a post that touches no campaign


def outbox_key(channel: str) -> str:
    return f"{TAG}:outbox:{channel}"


def items_key(channel: str) -> str:
    return f"{TAG}:outbox:{channel}:items"


def campaign_record_key(key: str) -> str:
    return f"{TAG}:campaign:{key}"


def dirty_key(channel: str) -> str:
    return f"{TAG}:dirty:{channel}"


def index_key(match_key: str) -> str:
    return f"{TAG}:ckey:{match_key}"


def inflight_key(channel: str) -> str:
    return f"{TAG}:inflight:{channel}"


def rate_key(channel: str) -> str:
    return f"{TAG}:rate:{channel}"


def open_digest_key(channel: str) -> str:
    return f"{TAG}:digest:open:{channel}"


def digest_key(digest_id: str) -> str:
    return f"{TAG}:digest:{digest_id}"


def entries_key(digest_id: str) -> str:
    return f"{TAG}:digest:{digest_id}:entries"


def senders_key(digest_id: str) -> str:
    return f"{TAG}:digest:{digest_id}:senders"


def as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


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
        rate_window: float,
        on_lost: Callable[[], None],
        clock: Callable[[], datetime],
    ) -> None:
        self.owner = owner
        self.clock = clock
        self.campaign_ttl = campaign_ttl  # seconds a campaign record outlives its last post
        self.rate_window = rate_window  # seconds the digest rate looks back
        self._on_lost = on_lost
        self._start = redis.register_script(lua.START)
        self._enqueue = redis.register_script(lua.ENQUEUE)
        self._posted = redis.register_script(lua.POSTED)
        self._in_flight = redis.register_script(lua.IN_FLIGHT)
        self._clear_in_flight = redis.register_script(lua.CLEAR_IN_FLIGHT)
        self._digested = redis.register_script(lua.DIGESTED)
        self._root_updated = redis.register_script(lua.ROOT_UPDATED)
        self._set_aside = redis.register_script(lua.SET_ASIDE)
        self._advance = redis.register_script(lua.ADVANCE)

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
        """Queue each item whose id was never seen, in its channel's outbox (by its rank, then
        in arrival order), and mark it seen (one step per batch). Seen ids older than `cutoff`
        are forgotten first. Returns how many were queued."""
        added = 0
        for at in range(0, len(items), ENQUEUE_BATCH):
            batch = items[at : at + ENQUEUE_BATCH]
            channels = list(dict.fromkeys(item.channel for item in batch))
            number = {channel: n for n, channel in enumerate(channels, 1)}
            keys = [LOCK_KEY, SEEN_MESSAGES_KEY, SEEN_REPORTS_KEY, OUTBOXES_KEY, SEQ_KEY]
            for channel in channels:
                keys += [outbox_key(channel), items_key(channel)]
            args: list[Any] = [repr(now), repr(cutoff), len(channels), *channels, RANK_SPAN]
            for item in batch:
                args += [item.kind, item.id, number[item.channel], item.payload, item.rank]
            added += int(await self._owned(self._enqueue, keys, args))
        return added

    async def in_flight(self, channel: str, mark: InFlight) -> None:
        """A post is about to be made in `channel`: what a successor needs to find it."""
        await self._owned(
            self._in_flight, [LOCK_KEY, inflight_key(channel)], [mark.key, mark.model_dump_json()]
        )

    async def clear_in_flight(self, channel: str, key: str) -> None:
        """The post `key` is known not to be in Slack: nobody needs to look for it."""
        await self._owned(self._clear_in_flight, [LOCK_KEY, inflight_key(channel)], [key])

    async def _commit(
        self,
        channel: str,
        ids: Sequence[str],
        mode: Literal["none", "root", "thread"],
        flight: str,
        campaign: Campaign | None = None,
        latest: MessageDetails | None = None,
        counted: bool = False,
    ) -> None:
        record, data, root_ts, campaign_id = NO_CAMPAIGN, "", "", ""
        index: list[str] = []
        if campaign is not None and latest is not None:
            record, data = campaign_record_key(campaign.key), record_data(campaign, latest)
            root_ts, campaign_id = campaign.root_ts or "", campaign.key
            index = [index_key(k) for k in campaign.keys]
        keys = [LOCK_KEY, outbox_key(channel), items_key(channel), OUTBOXES_KEY]
        keys += [record, dirty_key(channel), inflight_key(channel), rate_key(channel), *index]
        now = self.clock().timestamp()
        member = ids[0] if counted and ids else ""
        args: list[Any] = [channel, mode, root_ts, data, self.campaign_ttl, flight, campaign_id]
        args += [member, repr(now), repr(now - self.rate_window), int(self.rate_window) + 60]
        await self._owned(self._posted, keys, [*args, *ids])

    async def posted(self, channel: str, ids: Sequence[str], *, flight: str) -> None:
        """Items posted that belong to no campaign (reports): out of the outbox."""
        await self._commit(channel, ids, "none", flight)

    async def root_posted(
        self,
        channel: str,
        ids: Sequence[str],
        campaign: Campaign,
        first: MessageDetails,
        *,
        flight: str,
        counted: bool = False,
    ) -> None:
        """A campaign's root was posted (`campaign.root_ts`): its item leaves the outbox, the
        campaign record is (re)written and its match keys lead to it. `counted`: a
        lower-severity alert posted on its own, which the channel's digest rate counts."""
        await self._commit(channel, ids, "root", flight, campaign, first, counted)

    async def thread_posted(
        self,
        channel: str,
        ids: Sequence[str],
        campaign: Campaign,
        latest: MessageDetails,
        *,
        flight: str,
    ) -> None:
        """Messages were posted in `campaign`'s thread: they leave the outbox; the record (if it
        is still that root's) takes the new counter and is marked for a root update."""
        await self._commit(channel, ids, "thread", flight, campaign, latest)

    async def digested(
        self,
        digest: Digest,
        entries: Sequence[DigestEntry],
        ids: Sequence[str],
        *,
        new: bool,
        flight: str = "",
    ) -> None:
        """Items went into `digest` (a card just posted when `new`, else one redrawn): they
        leave the outbox, and its list, senders and counts take them."""
        keys = [LOCK_KEY, outbox_key(digest.channel), items_key(digest.channel), OUTBOXES_KEY]
        keys += [digest_key(digest.id), entries_key(digest.id), senders_key(digest.id)]
        keys += [open_digest_key(digest.channel), inflight_key(digest.channel)]
        senders = sorted({e.sender for e in entries if e.sender})
        counts = Counter(entry.disposition or "UNKNOWN" for entry in entries)
        args: list[Any] = [digest.channel, "new" if new else "add", digest.id, digest.ts or ""]
        args += [repr(digest.opened.timestamp()), repr(digest.latest.timestamp())]
        args += [repr(digest.window_seconds), DIGEST_TTL, DIGEST_KEEP, flight]
        args += [len(entries), len(senders), len(counts)]
        args += [e.model_dump_json(exclude_none=True) for e in entries]
        args += senders
        for disposition, count in counts.items():
            args += [disposition, count]
        await self._owned(self._digested, keys, [*args, *ids])

    async def root_updated(self, channel: str, record: str) -> None:
        """The root of the campaign record `record` (its Redis key) no longer needs an update."""
        await self._owned(self._root_updated, [LOCK_KEY, dirty_key(channel)], [record])

    async def set_aside(self, channel: str, ids: Sequence[str], error: str, at: datetime) -> None:
        """Move items Slack refused for good from the outbox to `{alerts}:rejected`."""
        await self._owned(
            self._set_aside,
            [LOCK_KEY, outbox_key(channel), items_key(channel), OUTBOXES_KEY, REJECTED_KEY],
            [channel, error[:500], at.isoformat(), REJECTED_KEEP, *ids],
        )

    async def advance(self, end: float) -> bool:
        """Move the watermark to `end` (never back) if every outbox is empty; False if not."""
        keys = [LOCK_KEY, OUTBOXES_KEY, STATE_KEY]
        return bool(await self._owned(self._advance, keys, [repr(end)]))
