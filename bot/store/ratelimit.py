"""One Cloudflare budget for every replica sharing this Redis (issue 15).

Cloudflare counts `CLOUDFLARE_RATE_LIMIT` per token, and every replica uses the same token, so
the window lives in Redis: a sorted set of send times (microseconds, Redis's own clock, so the
replicas' clocks never matter), plus one key for a 429's pause. Each grant is one Lua script,
one round trip; a call that has to wait (for the window, or for an in-flight slot) makes one
more when its time comes, to check it still holds (a pause may have begun meanwhile). At most
CALLS scripts run at once per replica; the others queue in order.

- **Everyone's lane** (lookups, commands, alerts) *plans*: on arrival, the script gives the
  call the earliest time at which the window has room, counting every call planned before it,
  and records it: its place in the queue, across replicas. When that time comes the call is
  granted if the window has room *now*, and recorded at the moment it is sent. Calls are
  served in the order they reached Redis, none waits longer than the budget requires (no
  polling, no slot idle while someone waits), and a call that comes late (no in-flight slot
  free, a busy event loop) delays those planned after it by as much, never a whole window, and
  never makes a window hold more than the limit. A call whose transport has no free in-flight
  slot plans at once all the same: its place is its arrival, not when a slot frees.
- **The executor's lane** (approved bulk actions) takes at most `share` of the budget in any
  window, and only what is free *now*, after every planned call: it never plans ahead, so a
  lookup made during a 10,000-message release finds the rest of the budget free.
- **A 429's Retry-After** is written to the pause key; every replica's next grant (and every
  call planned inside the pause) waits until it has passed.
- **Redis down**: each replica falls back to its own per-process limiter with the same setting
  (`bot.cloudflare.ratelimit.RequestLimiter`), logs that once, and asks Redis again every few
  seconds; the same setting per replica can then add up to N times it, and Cloudflare's 429
  (waited out per replica) is the guard until Redis is back.

Keys carry the `{ratelimit}` hash tag, so that every script touches one slot of a Redis Cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import redis.asyncio as aioredis

from bot.cloudflare.ratelimit import MARGIN, Limiter, RequestLimiter
from bot.store.plumbing import FAILURES as STORE_FAILURES

log = logging.getLogger("bot.ratelimit")

SENT = "{ratelimit}:sent"  # every call sent or planned: member -> its time (us)
EXECUTOR = "{ratelimit}:executor"  # the executor's grants, to hold it to its share
PAUSE = "{ratelimit}:pause"  # a 429's end (us); absent when nothing is paused
# Redis that does not answer is not waited for: the call goes through the fallback instead.
FAILURES: tuple[type[BaseException], ...] = (*STORE_FAILURES, OSError)
RETRY_SECONDS = 5.0  # while Redis is down, how often one call tries it again
CALLS = 20  # script calls at once; the rest queue here, in order (a pool would refuse them)

# What every script starts with: the time by Redis's clock, the window trimmed, the pause.
_PRELUDE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
local function keep(key)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  redis.call('PEXPIRE', key, math.floor((tonumber(last[2]) - now + window) / 1000) + 1000)
end
local function nth_free(key, count, most)
  -- when the window holds `most` or more, the earliest time at which one more fits: the
  -- most-th newest entry leaves the window then (valid whatever the order of insertion)
  if count < most then return 0 end
  local nth = redis.call('ZRANGE', key, count - most, count - most, 'WITHSCORES')
  return tonumber(nth[2]) + window
end
"""

# KEYS: sent, pause. ARGV: limit, window (us), member. Returns the microseconds to wait: 0 =
# granted, send now. A member not in the set plans its time: the earliest at which the window
# has room, counting every entry, planned ones too (its place in the queue). A member whose time
# has come is granted if the window holds fewer than `limit` entries now (sent, or due and not
# yet sent), and recorded at this moment, the time it is actually sent: a call that comes late
# (no in-flight slot free, a busy event loop) pushes the calls planned after it by that much, no
# more, and never makes a window hold more than `limit`. Otherwise it waits for room.
_RESERVE = (
    _PRELUDE
    + """
local mine = redis.call('ZSCORE', KEYS[1], ARGV[3])
local at
if not mine then
  at = math.max(now, paused, nth_free(KEYS[1], redis.call('ZCARD', KEYS[1]), limit))
else
  mine = tonumber(mine)
  if mine > now and mine >= paused then return mine - now end
  redis.call('ZREM', KEYS[1], ARGV[3])
  if paused > now then
    at = paused
  else
    local low = string.format('(%.0f', now - window)
    local count = redis.call('ZCOUNT', KEYS[1], low, now)
    at = now
    if count >= limit then
      local nth = redis.call('ZRANGEBYSCORE', KEYS[1], low, now, 'WITHSCORES', 'LIMIT',
                             count - limit, 1)
      at = tonumber(nth[2]) + window
    end
  end
end
redis.call('ZADD', KEYS[1], at, ARGV[3])
keep(KEYS[1])
return at - now
"""
)

# KEYS: sent, pause, executor. ARGV: limit, window (us), member, share. Takes a slot now or
# answers how long to wait; never plans ahead, so planned calls (everyone's lane) come first.
_TAKE = (
    _PRELUDE
    + """
if paused > now then return paused - now end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)
local at = math.max(nth_free(KEYS[1], redis.call('ZCARD', KEYS[1]), limit),
                    nth_free(KEYS[3], redis.call('ZCARD', KEYS[3]), tonumber(ARGV[4])))
if at > now then return at - now end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('ZADD', KEYS[3], now, ARGV[3])
keep(KEYS[1])
keep(KEYS[3])
return 0
"""
)

# KEYS: pause. ARGV: microseconds. Extends the pause (never shortens it).
_PAUSE = """
local t = redis.call('TIME')
local ends = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[1])
if ends > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], ends, 'PX', math.floor(tonumber(ARGV[1]) / 1000) + 1000)
end
return 1
"""


class _SkippedError(Exception):
    """A call not made: Redis failed while it waited for its turn to ask."""


# A turn that meets one of these goes through the fallback.
_UNSHARED: tuple[type[BaseException], ...] = (*FAILURES, _SkippedError)


class SharedBudget:
    """`CLOUDFLARE_RATE_LIMIT` as one budget in Redis; `everyone()` and `share()` are the
    limiters the API clients use. `redis` should fail fast (bot.clients.limiter_redis)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        max_requests: int,
        period: float,
        *,
        margin: float = MARGIN,
        retry_seconds: float = RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        calls: int = CALLS,
    ) -> None:
        if max_requests < 1 or period <= 0:
            raise ValueError("rate limit must allow at least 1 request in a positive period")
        self.max_requests = max_requests
        self.period = period
        self.margin = margin
        self.window_us = round((period + margin) * 1_000_000)
        # The fallback: this process alone, with the same setting.
        self.local = RequestLimiter(max_requests, period, clock, margin)
        self.redis = redis
        self._reserve = redis.register_script(_RESERVE)
        self._take = redis.register_script(_TAKE)
        self._pause = redis.register_script(_PAUSE)
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._calls = asyncio.Semaphore(calls)
        self._down = False
        self._since = 0.0  # when `_down` last changed: calls asked before then tell nothing
        self._retry_at = 0.0
        self._prefix = secrets.token_hex(6)
        self._ids = itertools.count()
        self._forgetting: set[asyncio.Task[Any]] = set()

    def everyone(self) -> Limiter:
        """The whole budget, first come first served across replicas."""
        return _Everyone(self)

    def share(self, fraction: float) -> Limiter:
        """At most `fraction` of the budget in any window (at least one request), and only
        what no planned call needs: the executor's."""
        if not 0 < fraction <= 1:
            raise ValueError("a share is more than 0 and at most 1")
        most = max(1, math.floor(self.max_requests * fraction + 1e-9))
        return _Share(self, most)

    # -- shared by the lanes -------------------------------------------------------------------

    def shared(self) -> bool:
        """Whether to ask Redis: yes unless it failed less than `retry_seconds` ago."""
        return not self._down or self._clock() >= self._retry_at

    def answered(self, asked: float) -> None:
        """A call asked at `asked` got its answer."""
        if self._down and asked >= self._since:
            self._down, self._since = False, self._clock()
            log.info("shared rate limit: Redis answers again; the budget is shared again")

    def failed(self, exc: BaseException, asked: float) -> None:
        """A call asked at `asked` failed with `exc` (it goes through the fallback)."""
        if asked < self._since:
            return  # asked before the last change: tells nothing new
        self._retry_at = self._clock() + self._retry_seconds
        if not self._down:
            self._down, self._since = True, self._clock()
            # Once per outage: every call of every lane comes through here while it lasts.
            log.warning(
                "shared rate limit: Redis did not answer (%s); this replica keeps "
                "CLOUDFLARE_RATE_LIMIT on its own until it does",
                type(exc).__name__,
            )

    def member(self) -> str:
        return f"{self._prefix}:{next(self._ids)}"

    async def reserve(self, member: str) -> float:
        """0 when `member` is granted (send now), else the seconds to wait: until its planned
        time (planned by this call if it had none), or until the window has room."""
        return await self._ask(self._reserve, [SENT, PAUSE], [member])

    async def take(self, member: str, most: int) -> float:
        """0 when a slot of the share was taken for `member`, else the seconds to wait."""
        return await self._ask(self._take, [SENT, PAUSE, EXECUTOR], [member, most])

    async def _ask(self, script: Any, keys: list[str], args: list[Any]) -> float:
        async with self._calls:
            if not self.shared():
                raise _SkippedError  # Redis failed while this call queued: not asked again now
            answer = await self._call(script, keys, [self.max_requests, self.window_us, *args])
        return int(answer) / 1_000_000

    async def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        """One script call, its outcome told to `answered` or `failed`."""
        asked = self._clock()
        try:
            answer = await script(keys=keys, args=args)
        except FAILURES as exc:
            self.failed(exc, asked)
            raise
        self.answered(asked)
        return answer

    def forget(self, member: str) -> None:
        """Give back a planned time its caller no longer wants (cancelled), in the background:
        a cancelled task must not wait on Redis."""
        task = asyncio.ensure_future(self._forget(member))
        self._forgetting.add(task)
        task.add_done_callback(self._forgetting.discard)

    async def _forget(self, member: str) -> None:
        with contextlib.suppress(*FAILURES):  # else it ages out of the window by itself
            await self.redis.zrem(SENT, member)

    async def pause(self, seconds: float) -> None:
        await self.local.pause(seconds)  # honoured by the fallback too
        if not self.shared():
            return
        with contextlib.suppress(*FAILURES):  # then only this replica pauses
            await self._call(self._pause, [PAUSE], [max(round(seconds * 1_000_000), 1)])


class _Lane:
    """A way to the shared budget: a turn is granted in Redis when it answers, else by this
    process's own limiter (`_alone`)."""

    def __init__(self, budget: SharedBudget) -> None:
        self.budget = budget

    @contextlib.asynccontextmanager
    async def turn(self, slots: asyncio.Semaphore) -> AsyncIterator[None]:
        if self.budget.shared() and await self._granted(slots):
            try:
                yield
            finally:
                slots.release()
            return
        async with self._alone(slots):
            yield

    async def _granted(self, slots: asyncio.Semaphore) -> bool:
        raise NotImplementedError

    def _alone(self, slots: asyncio.Semaphore) -> contextlib.AbstractAsyncContextManager[None]:
        raise NotImplementedError

    async def pause(self, seconds: float) -> None:
        await self.budget.pause(seconds)


class _Everyone(_Lane):
    def _alone(self, slots: asyncio.Semaphore) -> contextlib.AbstractAsyncContextManager[None]:
        return self.budget.local.turn(slots)

    async def _granted(self, slots: asyncio.Semaphore) -> bool:
        """True when granted, holding one of `slots` (the caller releases it); False when
        Redis failed, holding none."""
        budget = self.budget
        member = budget.member()
        try:
            # With every slot busy, the place in the queue is taken now, not when one frees.
            wait = await budget.reserve(member) if slots.locked() else 0.0
            while True:
                if wait > 0:
                    await asyncio.sleep(wait)
                async with _held(slots) as keep:
                    wait = await budget.reserve(member)
                    if wait <= 0:
                        keep()
                        break
        except asyncio.CancelledError:
            budget.forget(member)
            raise
        except _UNSHARED:
            return False  # logged by the budget, once per outage
        budget.local.record()
        return True


class _Share(_Lane):
    def __init__(self, budget: SharedBudget, most: int) -> None:
        super().__init__(budget)
        self.most = most
        # The share while Redis is down, within this process's own limit.
        self.local = RequestLimiter(most, budget.period, margin=budget.margin)

    @contextlib.asynccontextmanager
    async def _alone(self, slots: asyncio.Semaphore) -> AsyncIterator[None]:
        async with slots:
            await self.local.acquire()
            await self.budget.local.acquire()
            yield

    async def _granted(self, slots: asyncio.Semaphore) -> bool:
        """Like `_Everyone._granted`, but only a slot free now: it never plans ahead."""
        budget = self.budget
        member = budget.member()
        try:
            while True:
                async with _held(slots) as keep:
                    wait = await budget.take(member, self.most)
                    if wait <= 0:
                        keep()
                        break
                # Time-based: a slot frees when an entry ages out of the window.
                await asyncio.sleep(wait)
        except _UNSHARED:
            return False  # logged by the budget, once per outage
        budget.local.record()
        self.local.record()
        return True


@contextlib.asynccontextmanager
async def _held(slots: asyncio.Semaphore) -> AsyncIterator[Callable[[], None]]:
    """One of `slots`, released on the way out unless `keep()` was called: then the caller
    owns it (a turn holds it while its request is sent)."""
    kept = False

    def keep() -> None:
        nonlocal kept
        kept = True

    await slots.acquire()
    try:
        yield keep
    finally:
        if not kept:
            slots.release()
