"""Alerts: new detections posted to Slack exactly once, grouped by campaign.

The poller (one replica at a time, by a Redis lock) searches detections from a watermark, puts
new ones in a durable per-channel outbox in Redis, and drains it through an `AlertSender`
(the Slack side), which paces posts per channel. The watermark moves only once the outbox is
empty, so a crash anywhere loses nothing; ids are de-duplicated in Redis, so an overlap or a
restart repeats nothing.

One cycle (`AlertPoller.poll_once`, while holding `alerts:lock`):

a. drain what a stopped or crashed poller left in the outbox;
b. search detections (`detections_only`, every page) from `watermark - overlap` to now, and
   keep those whose final disposition is in ALERT_DISPOSITIONS (the API filters one
   disposition at a time and has no MALICIOUS-BEC filter, so this is done here);
c. PhishGuard reports of the same window (when on);
d. each id not seen before goes into the outbox of its route's channel and is marked seen, in
   one Lua script: an id is queued exactly once, whatever overlaps, restarts or replicas;
e. drain the outbox, channel by channel (channels concurrently, each in order): new campaigns'
   roots first, then PhishGuard reports, then each campaign's follow-ups in the root's thread
   (at most `THREAD_BATCH` per post) and one root update with the new counter and recipients;
f. only when every outbox is empty, move the watermark to this cycle's end.

An API failure in (b)/(c) ends the cycle with the watermark where it was (the window is
searched again next time). A sender failure stops that channel's drain and leaves its items
queued, in order, for the next cycle; the watermark waits for them.

Campaign: same channel, same sender address (From, lower-cased) and same subject (whitespace
collapsed), the message's scan time within `campaign_window_seconds` of the campaign's first
message. A campaign's root is posted and its ts stored before anything else is done with it.

Exactly once, step by step:

- Every post is followed by one Lua script that removes the posted items from the outbox and
  records what the post created (the root ts, the new counter). A crash, a Redis failure or a
  lost lock between Slack's success and that script makes the next drain post those items
  again: the residual duplicate window is that one Redis round trip (plus a sender call
  that reached Slack but raised, e.g. a timeout on the answer). Nothing is ever lost.
- Every script first checks that this poller still holds the lock, and no sender call starts
  once the lock is known to be lost, so a poller whose lease lapsed cannot commit after its
  successor started (at most the one call in flight can be repeated).
- A stopped poller (`run_forever` told to stop, or cancelled mid-call) never releases the lock
  while a sender call may be in flight: the lease lapses instead, and the successor starts
  after it.

Redis layout (all under `alerts:`; one Redis, not Redis Cluster):

    alerts:lock                     string: the owner polling now, PX lease, renewed while held
    alerts:state                    hash: floor (no alert for mail scanned before it: the first
                                    start minus ALERT_BACKFILL_HOURS), watermark (epoch seconds)
    alerts:seen:messages            zset: message id -> epoch seen; trimmed past SEEN_RETENTION
    alerts:seen:reports             zset: PhishGuard report id -> epoch seen; likewise
    alerts:outboxes                 set: channels whose outbox is not empty
    alerts:outbox:<channel>         zset: item id ("m:<message id>" / "r:<report id>") -> order
    alerts:outbox:<channel>:items   hash: item id -> JSON {"kind", "data"}
    alerts:outbox:seq               counter: the order of queued items
    alerts:campaign:<key>           hash: root_ts, data (JSON: campaign + latest message); TTL
    alerts:dirty:<channel>          set: campaign records whose root still needs its update
    alerts:rejected                 stream: items Slack refused for good (AlertRejected), kept
                                    for an admin (last REJECTED_KEEP)

To post old mail again after a first start (say, a larger ALERT_BACKFILL_HOURS), delete
`alerts:state`; the seen sets still keep what was posted from being posted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol, TypeVar

import redis.asyncio as aioredis
from pydantic import BaseModel, ValidationError
from redis.commands.core import AsyncScript

from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.errors import ApiError
from bot.cloudflare.models import MessageDetails, PhishGuardReport
from bot.services.routes import Routes
from bot.store import StoreUnavailable, redis_errors

log = logging.getLogger("bot.alerts")

T = TypeVar("T")

THREAD_BATCH = 8  # messages per post_in_thread call
RECIPIENTS_KEEP = 50  # distinct recipients kept on a campaign
SEEN_RETENTION = 7 * 24 * 3600  # seconds an id stays in the seen sets (well past any overlap)
SKEW_MARGIN = 24 * 3600  # seen ids are never trimmed within this of the search window's start
ENQUEUE_BATCH = 200  # items per enqueue script call
DRAIN_BATCH = 500  # outbox items read at a time
REJECTED_KEEP = 1000
PER_PAGE = 1000  # the API's largest search page

LOCK_KEY = "alerts:lock"
STATE_KEY = "alerts:state"
SEEN_MESSAGES_KEY = "alerts:seen:messages"
SEEN_REPORTS_KEY = "alerts:seen:reports"
OUTBOXES_KEY = "alerts:outboxes"
SEQ_KEY = "alerts:outbox:seq"
REJECTED_KEY = "alerts:rejected"
NO_CAMPAIGN = "alerts:campaign:-"  # placeholder key for scripts that touch no campaign


def _outbox(channel: str) -> str:
    return f"alerts:outbox:{channel}"


def _items(channel: str) -> str:
    return f"alerts:outbox:{channel}:items"


async def outbox_depth(client: aioredis.Redis) -> int:
    """Alerts waiting to be posted, over every channel's outbox (for the metrics)."""
    channels = [_text(c) for c in await client.smembers(OUTBOXES_KEY)]
    if not channels:
        return 0
    async with client.pipeline(transaction=False) as pipe:
        for channel in channels:
            pipe.zcard(_outbox(channel))
        sizes = await pipe.execute()
    return sum(int(n) for n in sizes)


def _campaign(key: str) -> str:
    return f"alerts:campaign:{key}"


def _dirty(channel: str) -> str:
    return f"alerts:dirty:{channel}"


def now_utc() -> datetime:
    return datetime.now(UTC)


class Campaign(BaseModel):
    """Messages of one sender with one subject within the grouping window, in one channel.

    Passed to every `AlertSender` call as it will be once that call succeeds: `count` and
    `recipients` include the messages of the call (post_root: 1 and the first's recipients)."""

    key: str  # hash of (channel, sender, subject)
    channel: str
    sender: str | None
    subject: str | None
    root_ts: str | None = None  # the root card, once posted
    count: int = 0  # messages posted in it so far
    recipients: list[str] = []  # distinct recipients, capped at RECIPIENTS_KEEP
    first_seen: datetime  # scan time of its first message (the window starts here)
    last_seen: datetime  # latest scan time of its messages


class AlertSender(Protocol):
    """What the poller needs from Slack. Each call either succeeds or raises; a raise leaves the
    work in the outbox for the next attempt. Raise `AlertRejected` when Slack refused this very
    post for good, so that it is set aside instead of retried forever."""

    async def post_root(self, campaign: Campaign, first: MessageDetails) -> str:
        """Post a campaign's root card (the first message's compact card); returns its ts."""
        ...

    async def update_root(self, campaign: Campaign, latest: MessageDetails) -> None:
        """Redraw the root card with the campaign's counter and recipients."""
        ...

    async def post_in_thread(self, campaign: Campaign, messages: Sequence[MessageDetails]) -> None:
        """Post more messages of the campaign into the root's thread (one post; few cards)."""
        ...

    async def post_report(self, channel: str, report: PhishGuardReport) -> None:
        """Post a PhishGuard report alert."""
        ...


class AlertRejected(Exception):  # noqa: N818 - a verdict, like the API's errors
    """Raised by an AlertSender when Slack refused this particular post and retrying cannot help
    (invalid_blocks, msg_too_long, ...). The poller moves the alert to the `alerts:rejected`
    stream (a batch is first retried one message at a time) so it does not hold up its channel
    and the watermark forever. Any other exception means "try again next cycle"."""


class PollReport(BaseModel):
    """What one cycle did (for logs and tests)."""

    fetched: int = 0  # detections with ALERT_DISPOSITIONS, and reports, in the window
    new: int = 0  # of those, never seen before: queued
    posted: int = 0  # alerts posted to Slack (messages and reports, leftovers included)
    campaigns_created: int = 0
    errors: list[str] = []
    rejected: int = 0  # alerts Slack refused for good (set aside in alerts:rejected)
    pending: int = 0  # alerts still queued after the cycle (posted by a later one)
    window_start: datetime | None = None
    window_end: datetime | None = None
    watermark: datetime | None = None  # as it is after the cycle
    watermark_moved: bool = False


# -- Lua ---------------------------------------------------------------------------------------
# Each script checks the lock's owner first (-1: not the owner any more) and is one atomic step.

# KEYS: lock. ARGV: owner, lease ms. Takes a free lock or extends one's own.
_ACQUIRE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2])) return 1 end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
return 1
"""

# KEYS: lock. ARGV: owner, lease ms.
_RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""

# KEYS: lock. ARGV: owner.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

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


# -- helpers -----------------------------------------------------------------------------------


class _Halt(Exception):  # noqa: N818 - internal control flow
    """The cycle must stop at once: the lock was lost, or the poller is stopping."""


class _SenderError(Exception):
    """A sender call failed (Slack down, rate limited past the sender's patience, ...)."""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _ceil_second(moment: datetime) -> datetime:
    """The next whole second (the API takes seconds; `end` must not cut off this second)."""
    return _at(math.ceil(moment.timestamp()))


def message_time(message: MessageDetails, default: datetime) -> datetime:
    return message.scanned_at or message.sent_at or default


def campaign_sender(message: MessageDetails) -> str | None:
    sender = (message.from_ or message.envelope_from or "").strip().lower()
    return sender or None


def campaign_subject(message: MessageDetails) -> str | None:
    subject = " ".join((message.subject or "").split())
    return subject or None


def campaign_key(channel: str, message: MessageDetails) -> str:
    """Same channel, sender address and subject: the same key."""
    parts = [channel, campaign_sender(message) or "", campaign_subject(message) or ""]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def recipients_of(message: MessageDetails) -> list[str]:
    found = message.to or message.client_recipients or message.envelope_to or []
    return list(dict.fromkeys(r.strip().lower() for r in found if r and r.strip()))


def _merged(known: Sequence[str], more: Sequence[str]) -> list[str]:
    return list(dict.fromkeys([*known, *more]))[:RECIPIENTS_KEEP]


@dataclass
class _Item:
    id: str  # "m:<message id>" or "r:<report id>"
    message: MessageDetails | None = None
    report: PhishGuardReport | None = None


@dataclass
class _Plan:
    """One campaign's share of a drain: a new root to post (or an existing campaign) and the
    messages to thread under it."""

    campaign: Campaign
    root: _Item | None
    follow: list[_Item] = field(default_factory=list)
    latest: MessageDetails | None = None


@dataclass
class _Stored:
    campaign: Campaign
    latest: MessageDetails


def _record_data(campaign: Campaign, latest: MessageDetails) -> str:
    return json.dumps(
        {
            "campaign": campaign.model_dump(mode="json"),
            "latest": latest.model_dump(mode="json", by_alias=True, exclude_none=True),
        },
        separators=(",", ":"),
    )


def _parse_record(raw: dict[Any, Any]) -> _Stored | None:
    fields = {_text(k): _text(v) for k, v in raw.items()}
    if "data" not in fields:
        return None
    try:
        data = json.loads(fields["data"])
        return _Stored(
            Campaign.model_validate(data["campaign"]),
            MessageDetails.model_validate(data["latest"]),
        )
    except (ValueError, KeyError, TypeError, ValidationError):
        return None


def _payload(item: MessageDetails | PhishGuardReport) -> str:
    kind = "message" if isinstance(item, MessageDetails) else "report"
    data = item.model_dump(mode="json", by_alias=True, exclude_none=True)
    return json.dumps({"kind": kind, "data": data}, separators=(",", ":"))


def _parse_item(item_id: str, payload: bytes | str) -> _Item:
    """ValueError when the payload cannot be read back."""
    try:
        body = json.loads(payload)
        if body["kind"] == "message":
            return _Item(item_id, message=MessageDetails.model_validate(body["data"]))
        if body["kind"] == "report":
            return _Item(item_id, report=PhishGuardReport.model_validate(body["data"]))
    except (KeyError, TypeError, ValidationError) as exc:
        raise ValueError(f"unreadable outbox item {item_id}") from exc
    raise ValueError(f"unreadable outbox item {item_id}")


# -- the poller --------------------------------------------------------------------------------


class AlertPoller:
    """Polls detections and PhishGuard reports into the outbox and drains it through `sender`.
    Every replica may run one; the `alerts:lock` lease makes one of them work at a time."""

    def __init__(
        self,
        redis: aioredis.Redis,
        client: EmailSecurityClient,
        sender: AlertSender,
        *,
        routes: Routes,
        dispositions: Sequence[str],
        owner: str,
        poll_seconds: float,
        backfill_hours: float = 0,
        overlap_seconds: float = 600,
        campaign_window_seconds: float = 3600,
        lock_seconds: float = 30,
        phishguard: bool = True,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        if poll_seconds <= 0 or lock_seconds <= 0 or campaign_window_seconds <= 0:
            raise ValueError("poll_seconds, lock_seconds and campaign_window_seconds must be > 0")
        if backfill_hours < 0 or overlap_seconds < 0:
            raise ValueError("backfill_hours and overlap_seconds must be >= 0")
        if not owner:
            raise ValueError("owner must name this process")
        self.redis = redis
        self.client = client
        self.sender = sender
        self.routes = routes
        self.dispositions = frozenset(d.strip().upper() for d in dispositions)
        self.owner = owner
        self.poll_seconds = poll_seconds
        self.backfill_seconds = backfill_hours * 3600
        self.overlap_seconds = overlap_seconds
        self.window_seconds = campaign_window_seconds
        self.lock_seconds = lock_seconds
        self.phishguard = phishguard
        self.clock = clock
        self._lease_ms = max(int(lock_seconds * 1000), 1)
        self._campaign_ttl = int(campaign_window_seconds + overlap_seconds) + 3600
        self._cycle_lock = asyncio.Lock()
        self._lost = False  # the lock was found held by another owner during this cycle
        self._stopping: asyncio.Event | None = None
        self._interrupted = False  # a sender call was cancelled: it may still land in Slack
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._start = redis.register_script(_START)
        self._enqueue_script = redis.register_script(_ENQUEUE)
        self._posted = redis.register_script(_POSTED)
        self._root_updated = redis.register_script(_ROOT_UPDATED)
        self._set_aside_script = redis.register_script(_SET_ASIDE)
        self._advance = redis.register_script(_ADVANCE)

    # -- Redis plumbing ------------------------------------------------------------------------

    async def _script(self, script: AsyncScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
        with redis_errors():
            return await script(keys=keys, args=args)

    async def _owned(self, script: AsyncScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run a script that checks the lock first; _Halt when this poller lost it."""
        answer = await self._script(script, keys, args)
        if answer == -1:
            self._lost = True
            raise _Halt("lost the alerts lock to another replica, which carries on")
        return answer

    async def _call(self, awaitable: Awaitable[Any]) -> Any:
        with redis_errors():
            return await awaitable

    # -- the lock ------------------------------------------------------------------------------

    async def lock_holder(self) -> str | None:
        """The owner polling now (None when nobody holds the lock)."""
        holder = await self._call(self.redis.get(LOCK_KEY))
        return None if holder is None else _text(holder)

    async def release_lock(self) -> bool:
        """Give the lock up if this poller holds it (another replica may then poll at once)."""
        return bool(await self._script(self._release, [LOCK_KEY], [self.owner]))

    async def _keep_lock(self, only_while_held: bool) -> None:
        """Renew the lease every third of it; stop when it turns out to be lost."""
        while True:
            await asyncio.sleep(self.lock_seconds / 3)
            try:
                if await self._script(self._renew, [LOCK_KEY], [self.owner, self._lease_ms]):
                    continue
                if not only_while_held:
                    self._lost = True
                    log.warning("alerts: lost the lock (%s) to another replica", LOCK_KEY)
                    return
            except StoreUnavailable as exc:
                log.warning("alerts: could not renew the lock: %s", exc)

    # -- one cycle -----------------------------------------------------------------------------

    async def poll_once(self) -> PollReport | None:
        """One cycle while holding the lock (taken, or kept, here); None when another replica
        holds it. StoreUnavailable when Redis fails (nothing is posted without its record)."""
        async with self._cycle_lock:
            if not await self._script(self._acquire, [LOCK_KEY], [self.owner, self._lease_ms]):
                return None
            self._lost = False
            self._interrupted = False
            renewer = asyncio.create_task(self._keep_lock(only_while_held=False))
            report = PollReport()
            try:
                await self._cycle(report)
            except _Halt as halt:
                report.errors.append(str(halt))
                log.warning("alerts: cycle stopped: %s", halt)
            finally:
                renewer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewer
            return report

    async def _cycle(self, report: PollReport) -> None:
        now = self.clock()
        floor_at = float(math.floor(now.timestamp() - self.backfill_seconds))
        answer = await self._owned(self._start, [LOCK_KEY, STATE_KEY], [self.owner, floor_at])
        floor, watermark = float(_text(answer[0])), float(_text(answer[1]))
        report.watermark = _at(watermark)

        failed = await self._drain(report, skip=set())  # (a) leftovers of a stopped poller

        now = self.clock()  # draining may have taken a while
        start = max(floor, watermark - self.overlap_seconds)
        end = max(now.timestamp(), start)
        report.window_start, report.window_end = _at(start), _at(end)
        try:  # (b), (c)
            messages = await self._fetch_messages(_at(start), _at(end), floor, now)
            reports = (
                await self._fetch_reports(_at(start), _at(end), floor) if self.phishguard else []
            )
        except ApiError as exc:
            report.errors.append(f"Email Security API: {exc}")
            log.warning("alerts: poll failed, retrying next interval: %s", exc)
            report.pending = await self._pending()
            return
        report.fetched = len(messages) + len(reports)
        report.new = await self._enqueue(messages, reports, now, start)  # (d)
        if report.new:
            log.info("alerts: %d new of %d in the window", report.new, report.fetched)

        await self._drain(report, skip=failed)  # (e)

        moved = await self._owned(  # (f)
            self._advance, [LOCK_KEY, OUTBOXES_KEY, STATE_KEY], [self.owner, repr(end)]
        )
        report.watermark_moved = bool(moved) and end > watermark
        if moved:
            report.watermark = _at(max(end, watermark))
        report.pending = await self._pending()

    async def _pending(self) -> int:
        channels = await self._call(self.redis.smembers(OUTBOXES_KEY))
        if not channels:
            return 0
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for channel in channels:
                    pipe.zcard(_outbox(_text(channel)))
                counts = await pipe.execute()
        return sum(int(c) for c in counts)

    # -- fetching ------------------------------------------------------------------------------

    async def _fetch_messages(
        self, start: datetime, end: datetime, floor: float, now: datetime
    ) -> list[MessageDetails]:
        found: dict[str, MessageDetails] = {}
        async for message in self.client.search(
            detections_only=True, start=start, end=_ceil_second(end), per_page=PER_PAGE
        ):
            if (message.final_disposition or "").upper() not in self.dispositions:
                continue
            if message.scanned_at is not None and message.scanned_at.timestamp() < floor:
                continue  # before the first start (minus backfill): never alerted
            found.setdefault(message.id, message)
        return sorted(found.values(), key=lambda m: (message_time(m, now), m.id))

    async def _fetch_reports(
        self, start: datetime, end: datetime, floor: float
    ) -> list[PhishGuardReport]:
        found: dict[int, PhishGuardReport] = {}
        for item in await self.client.list_phishguard_reports(start, _ceil_second(end)):
            if item.created_at is not None and item.created_at.timestamp() < floor:
                continue
            found.setdefault(item.id, item)
        return sorted(found.values(), key=lambda r: (r.created_at or _at(0), r.id))

    # -- queueing ------------------------------------------------------------------------------

    async def _enqueue(
        self,
        messages: Sequence[MessageDetails],
        reports: Sequence[PhishGuardReport],
        now: datetime,
        window_start: float,
    ) -> int:
        """Queue every id not seen before, and mark it seen, in one step per batch."""
        routed: list[tuple[str, str, str, str]] = [
            ("m", m.id, self.routes.channel_for(m), _payload(m)) for m in messages
        ]
        routed += [
            ("r", str(r.id), self.routes.channel_for_report(r), _payload(r)) for r in reports
        ]
        cutoff = min(now.timestamp() - SEEN_RETENTION, window_start - SKEW_MARGIN)
        added = 0
        for at in range(0, len(routed), ENQUEUE_BATCH):
            batch = routed[at : at + ENQUEUE_BATCH]
            channels = list(dict.fromkeys(channel for _, _, channel, _ in batch))
            number = {channel: n for n, channel in enumerate(channels, 1)}
            keys = [LOCK_KEY, SEEN_MESSAGES_KEY, SEEN_REPORTS_KEY, OUTBOXES_KEY, SEQ_KEY]
            for channel in channels:
                keys += [_outbox(channel), _items(channel)]
            args: list[Any] = [self.owner, repr(now.timestamp()), repr(cutoff), len(channels)]
            args += channels
            for kind, item_id, channel, payload in batch:
                args += [kind, item_id, number[channel], payload]
            added += int(await self._owned(self._enqueue_script, keys, args))
        return added

    # -- draining ------------------------------------------------------------------------------

    async def _drain(self, report: PollReport, skip: set[str]) -> set[str]:
        """Drain every channel's outbox (channels concurrently); the channels that failed."""
        queued = {_text(c) for c in await self._call(self.redis.smembers(OUTBOXES_KEY))}
        channels = sorted((queued | set(self.routes.channels)) - skip)
        results = await asyncio.gather(
            *(self._drain_channel(channel, report) for channel in channels),
            return_exceptions=True,
        )
        failed = set(skip)
        raised: BaseException | None = None
        for channel, result in zip(channels, results, strict=True):
            if isinstance(result, _SenderError):
                failed.add(channel)
                report.errors.append(f"posting to {channel}: {result}")
                log.warning(
                    "alerts: posting to %s failed, retrying next cycle: %s", channel, result
                )
            elif isinstance(result, BaseException) and (
                raised is None or isinstance(result, StoreUnavailable)
            ):
                raised = result  # Redis failures first: they are what the caller must hear
        if raised is not None:
            raise raised
        return failed

    async def _drain_channel(self, channel: str, report: PollReport) -> None:
        previous: list[str] = []
        while True:
            ids = [
                _text(i)
                for i in await self._call(self.redis.zrange(_outbox(channel), 0, DRAIN_BATCH - 1))
            ]
            if not ids or ids == previous:
                break
            previous = ids
            payloads = await self._call(self.redis.hmget(_items(channel), ids))
            items, unreadable = [], []
            for item_id, payload in zip(ids, payloads, strict=True):
                if payload is None:
                    unreadable.append(item_id)  # queued without a payload: cannot be posted
                    continue
                try:
                    items.append(_parse_item(item_id, payload))
                except ValueError:
                    unreadable.append(item_id)
            if unreadable:
                await self._set_aside(channel, unreadable, "unreadable outbox item", report)
            await self._post_items(channel, items, report)
            if len(ids) < DRAIN_BATCH:
                break
        await self._update_dirty(channel, report)

    async def _send(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """One sender call, unless the cycle must stop first; other failures -> _SenderError."""
        if self._lost:
            raise _Halt("lost the alerts lock to another replica, which carries on")
        if self._stopping is not None and self._stopping.is_set():
            raise _Halt("stopping: what is still queued is posted by the next poller")
        try:
            return await call()
        except (AlertRejected, StoreUnavailable, _Halt):
            raise
        except Exception as exc:
            raise _SenderError(f"{what}: {type(exc).__name__}: {exc}") from exc
        except BaseException:  # cancelled mid-call: Slack may still have taken the post
            self._interrupted = True
            raise

    async def _post_items(self, channel: str, items: list[_Item], report: PollReport) -> None:
        plans = await self._plan(channel, [i for i in items if i.message is not None])
        for plan in plans:  # every new campaign's root first: the overview comes first
            await self._post_root(channel, plan, report)
        for item in items:
            if item.report is not None:
                await self._post_report(channel, item, report)
        for plan in plans:
            await self._post_follow_ups(channel, plan, report)

    async def _plan(self, channel: str, items: list[_Item]) -> list[_Plan]:
        """Group queued messages by campaign, in queue order; a message outside the window of
        its key's campaign starts a new one."""
        keys = list(dict.fromkeys(campaign_key(channel, i.message) for i in items if i.message))
        stored = await self._load_campaigns(keys)
        now = self.clock()
        current: dict[str, _Plan] = {}
        plans: list[_Plan] = []
        for item in items:
            message = item.message
            assert message is not None
            key = campaign_key(channel, message)
            at = message_time(message, now)
            plan = current.get(key)
            if plan is None and key in stored:
                plan = _Plan(stored[key].campaign, None, latest=stored[key].latest)
                current[key] = plan
                plans.append(plan)
            if plan is not None and at.timestamp() <= (
                plan.campaign.first_seen.timestamp() + self.window_seconds
            ):
                plan.follow.append(item)
                continue
            campaign = Campaign(
                key=key,
                channel=channel,
                sender=campaign_sender(message),
                subject=campaign_subject(message),
                first_seen=at,
                last_seen=at,
            )
            current[key] = _Plan(campaign, item)
            plans.append(current[key])
        return plans

    async def _load_campaigns(self, keys: list[str]) -> dict[str, _Stored]:
        if not keys:
            return {}
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(_campaign(key))
                answers = await pipe.execute()
        found = {}
        for key, raw in zip(keys, answers, strict=True):
            record = _parse_record(raw) if raw else None
            if record is not None and record.campaign.root_ts:
                found[key] = record
        return found

    async def _commit(
        self,
        channel: str,
        ids: Sequence[str],
        mode: str = "none",
        campaign: Campaign | None = None,
        latest: MessageDetails | None = None,
    ) -> None:
        """Remove posted items from the outbox and record what their post created, at once."""
        record, data = NO_CAMPAIGN, ""
        if campaign is not None and latest is not None:
            record, data = _campaign(campaign.key), _record_data(campaign, latest)
        root_ts = campaign.root_ts if campaign is not None else ""
        await self._owned(
            self._posted,
            [LOCK_KEY, _outbox(channel), _items(channel), OUTBOXES_KEY, record, _dirty(channel)],
            [self.owner, channel, mode, root_ts or "", data, self._campaign_ttl, *ids],
        )

    async def _set_aside(
        self, channel: str, ids: Sequence[str], error: str, report: PollReport
    ) -> None:
        await self._owned(
            self._set_aside_script,
            [LOCK_KEY, _outbox(channel), _items(channel), OUTBOXES_KEY, REJECTED_KEY],
            [self.owner, channel, error[:500], self.clock().isoformat(), REJECTED_KEEP, *ids],
        )
        report.rejected += len(ids)
        log.error(
            "alerts: %d alert(s) for %s refused by Slack, set aside in %s: %s (%s)",
            len(ids), channel, REJECTED_KEY, ", ".join(ids[:10]), error[:200],
        )  # fmt: skip

    async def _post_root(self, channel: str, plan: _Plan, report: PollReport) -> None:
        while plan.root is not None and plan.root.message is not None:
            item, first = plan.root, plan.root.message
            at = message_time(first, self.clock())
            campaign = plan.campaign.model_copy(
                update={
                    "count": 1,
                    "recipients": recipients_of(first)[:RECIPIENTS_KEEP],
                    "first_seen": at,
                    "last_seen": at,
                    "root_ts": None,
                }
            )
            try:
                ts = await self._send("post_root", partial(self.sender.post_root, campaign, first))
            except AlertRejected as exc:
                await self._set_aside(channel, [item.id], str(exc), report)
                plan.root = plan.follow.pop(0) if plan.follow else None  # next one leads
                continue
            campaign.root_ts = ts
            await self._commit(channel, [item.id], "root", campaign, first)
            plan.campaign, plan.root, plan.latest = campaign, None, first
            report.posted += 1
            report.campaigns_created += 1

    async def _post_report(self, channel: str, item: _Item, report: PollReport) -> None:
        found = item.report
        assert found is not None
        try:
            await self._send("post_report", partial(self.sender.post_report, channel, found))
        except AlertRejected as exc:
            await self._set_aside(channel, [item.id], str(exc), report)
            return
        await self._commit(channel, [item.id])
        report.posted += 1

    async def _post_follow_ups(self, channel: str, plan: _Plan, report: PollReport) -> None:
        if plan.campaign.root_ts is None or not plan.follow:
            return  # no root (every candidate was refused), or nothing to add
        updated = False
        for at in range(0, len(plan.follow), THREAD_BATCH):
            batch = plan.follow[at : at + THREAD_BATCH]
            updated = await self._thread(channel, plan, batch, report) or updated
        if updated:
            await self._update_root(channel, plan.campaign, plan.latest, report)

    async def _thread(
        self, channel: str, plan: _Plan, batch: list[_Item], report: PollReport
    ) -> bool:
        """Post `batch` in the campaign's thread; True when at least one message went out."""
        messages = [i.message for i in batch if i.message is not None]
        now = self.clock()
        campaign = plan.campaign.model_copy(deep=True)
        campaign.count += len(messages)
        for message in messages:
            campaign.recipients = _merged(campaign.recipients, recipients_of(message))
            campaign.last_seen = max(campaign.last_seen, message_time(message, now))
        try:
            await self._send(
                "post_in_thread", partial(self.sender.post_in_thread, campaign, messages)
            )
        except AlertRejected as exc:
            if len(batch) == 1:
                await self._set_aside(channel, [batch[0].id], str(exc), report)
                return False
            posted = False  # find the message Slack refuses: the others still go out
            for single in batch:
                posted = await self._thread(channel, plan, [single], report) or posted
            return posted
        await self._commit(channel, [i.id for i in batch], "thread", campaign, messages[-1])
        plan.campaign, plan.latest = campaign, messages[-1]
        report.posted += len(batch)
        return True

    async def _update_root(
        self,
        channel: str,
        campaign: Campaign,
        latest: MessageDetails | None,
        report: PollReport,
    ) -> None:
        if latest is None:
            return
        try:
            await self._send("update_root", partial(self.sender.update_root, campaign, latest))
        except AlertRejected as exc:
            log.error("alerts: Slack refused to update campaign root %s: %s", campaign.key, exc)
        await self._owned(
            self._root_updated, [LOCK_KEY, _dirty(channel)], [self.owner, _campaign(campaign.key)]
        )

    async def _update_dirty(self, channel: str, report: PollReport) -> None:
        """Roots whose update a stopped poller did not get to (their threads were posted)."""
        for member in await self._call(self.redis.smembers(_dirty(channel))):
            record_key = _text(member)
            raw = await self._call(self.redis.hgetall(record_key))
            record = _parse_record(raw) if raw else None
            if record is None or not record.campaign.root_ts:
                await self._owned(
                    self._root_updated, [LOCK_KEY, _dirty(channel)], [self.owner, record_key]
                )
                continue
            await self._update_root(channel, record.campaign, record.latest, report)

    # -- running -------------------------------------------------------------------------------

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Every `poll_seconds`, take (or keep) the lock and poll; never dies on an error (it
        is logged and the next interval tries again). On `stop`, the cycle under way ends
        before its next Slack call, and the lock is released (if no call may be in flight)."""
        self._stopping = stop
        keeper = asyncio.create_task(self._keep_lock(only_while_held=True))
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                started = loop.time()
                try:
                    made = await self.poll_once()
                    if made is not None:
                        self._log(made)
                except StoreUnavailable as exc:
                    log.warning("alerts: %s; retrying in %ss", exc, self.poll_seconds)
                except Exception:
                    log.exception("alerts: poll failed; retrying in %ss", self.poll_seconds)
                wait = max(self.poll_seconds - (loop.time() - started), 0.0)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)
        finally:
            self._stopping = None
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            if not self._interrupted:  # else let the lease lapse: the call may still land
                with contextlib.suppress(StoreUnavailable):
                    await self.release_lock()

    @staticmethod
    def _log(made: PollReport) -> None:
        if made.errors:
            log.warning(
                "alerts: cycle posted %d, %d still queued; errors: %s",
                made.posted, made.pending, "; ".join(made.errors),
            )  # fmt: skip
        elif made.posted or made.new:
            log.info(
                "alerts: %d new, %d posted, %d new campaigns",
                made.new, made.posted, made.campaigns_created,
            )  # fmt: skip
