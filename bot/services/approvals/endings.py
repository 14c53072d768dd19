"""The end of a run in Redis: the scripts that end it (`finish`, `refuse_run`, by the lease
holder) and the bookkeeping that makes its end shown even when the replica that ended it dies
before showing it or writing its audit entry (announcing.py, end_audit.py).

    {approvals}:unannounced         zset: id -> when its announcement was last taken (epoch
                                    seconds): a run ended and not yet all shown. The script
                                    that ends a run adds it, in the same step, so no run ends
                                    unrecorded; whoever shows the end removes it (`announced`).
                                    An entry older than a lease is taken over by a sweep
                                    (`take_due`: re-scored to now in one script, so exactly one
                                    sweeper takes it for the next lease).
    {approvals}:request:<id>:told   string: the thread line of the end was claimed (SET NX,
                                    kept ENDED_TTL_SECONDS): the first to claim it says it; a
                                    later announcer finds the claim taken and looks in the
                                    thread before saying it (its claimer may have died).
    {approvals}:request:<id>:audited  string: the end's audit entry was written (kept
                                    ENDED_TTL_SECONDS): a later announcer does not write it
                                    again (end_audit.py).

All carry the `{approvals}` hash tag, like every key the ending scripts touch (one slot on a
Redis Cluster).
"""

from __future__ import annotations

from datetime import datetime

import redis.asyncio as aioredis

from bot.services.approvals.records import Raw, as_text
from bot.services.approvals.scripts import (
    ENDED_TTL_SECONDS,
    EXECUTING_KEY,
    PREFIX,
    RECENT_KEEP,
    RECENT_KEY,
    TAG,
    answer_of,
    chunks_key,
    lease_key,
    record_key,
)
from bot.store import redis_errors, run_script

UNANNOUNCED_KEY = TAG + ":unannounced"


def told_key(request_id: str) -> str:
    return f"{PREFIX}{request_id}:told"


def audited_key(request_id: str) -> str:
    return f"{PREFIX}{request_id}:audited"


# The end of an execution, done or refused, by its lease holder (KEYS: rec, lease, chunks,
# executing, recent, unannounced; ARGV: id, owner, now, iso, ttl, keep): out of the executing
# index, into the recent one and the unannounced one, the record and its chunk results kept
# ENDED_TTL_SECONDS, the lease let go.
_ENDING_RUN = """
local function end_run()
  redis.call('ZREM', KEYS[4], ARGV[1])
  redis.call('ZADD', KEYS[5], tonumber(ARGV[3]), ARGV[1])
  redis.call('ZREMRANGEBYRANK', KEYS[5], 0, -(tonumber(ARGV[6]) + 1))
  redis.call('ZADD', KEYS[6], tonumber(ARGV[3]), ARGV[1])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
  redis.call('EXPIRE', KEYS[3], tonumber(ARGV[5]))
  redis.call('DEL', KEYS[2])
end
"""

# KEYS and ARGV: _ENDING_RUN's.
_FINISH = (
    _ENDING_RUN
    + """
local rec = KEYS[1]
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return {'not_owner'} end
if redis.call('HGET', rec, 'state') ~= 'executing' then return {'not_executing'} end
local total = tonumber(redis.call('HGET', rec, 'chunks_total') or '0')
if redis.call('HLEN', KEYS[3]) < total then return {'incomplete'} end
redis.call('HSET', rec, 'state', 'done', 'ended_at', ARGV[4])
end_run()
return {'done', redis.call('HGETALL', rec)}
"""
)

# KEYS and ARGV: _ENDING_RUN's, then ARGV[7] the reason. Like _FINISH, but before the rest of
# the chunks: the lease holder ends a run that may not go on.
_REFUSE_RUN = (
    _ENDING_RUN
    + """
local rec = KEYS[1]
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return {'not_owner'} end
if redis.call('HGET', rec, 'state') ~= 'executing' then return {'not_executing'} end
redis.call('HSET', rec, 'state', 'refused', 'ended_at', ARGV[4], 'ended_by', 'bot',
           'end_reason', ARGV[7])
end_run()
return {'refused', redis.call('HGETALL', rec)}
"""
)

# KEYS: unannounced. ARGV: now, seconds an announcement is left to its taker, batch.
# The ids taken last that long ago or more, each taken now (exactly one caller gets each).
_TAKE_DUE = """
local now = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]),
                       'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], now, id) end
return due
"""


class Endings:
    """The scripts, registered once per Redis client. Every call raises StoreUnavailable when
    Redis fails."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._finish = redis.register_script(_FINISH)
        self._refuse_run = redis.register_script(_REFUSE_RUN)
        self._take_due = redis.register_script(_TAKE_DUE)

    @staticmethod
    def _keys(request_id: str) -> list[str]:
        return [record_key(request_id), lease_key(request_id), chunks_key(request_id),
                EXECUTING_KEY, RECENT_KEY, UNANNOUNCED_KEY]  # fmt: skip

    async def finish(self, request_id: str, owner: str, at: datetime) -> tuple[str, Raw | None]:
        """executing -> done, by the lease holder once every chunk's result is stored; the
        lease is deleted, the end is to be announced. The word is "done" (with the record) or
        why not: "not_owner", "not_executing", "incomplete"."""
        args = [request_id, owner, at.timestamp(), at.isoformat(), ENDED_TTL_SECONDS,
                RECENT_KEEP]  # fmt: skip
        return answer_of(await run_script(self._finish, self._keys(request_id), args))

    async def refuse_run(
        self, request_id: str, owner: str, reason: str, at: datetime
    ) -> tuple[str, Raw | None]:
        """executing -> refused, by the lease holder, chunks not yet stored left unsent; the
        lease is deleted, the end is to be announced. The word is "refused" (with the record),
        "not_owner" or "not_executing"."""
        args = [request_id, owner, at.timestamp(), at.isoformat(), ENDED_TTL_SECONDS,
                RECENT_KEEP, reason]  # fmt: skip
        return answer_of(await run_script(self._refuse_run, self._keys(request_id), args))

    async def take_due(self, at: datetime, left_for: float, batch: int) -> list[str]:
        """Up to `batch` ends not announced, taken `left_for` seconds ago or more (their
        announcer died, or failed), each taken now by this caller alone."""
        args = [at.timestamp(), left_for, batch]
        return [as_text(i) for i in await run_script(self._take_due, [UNANNOUNCED_KEY], args)]

    async def keep(self, request_id: str, at: datetime) -> None:
        """Keep the announcement of `request_id` taken (as of `at`) while it is being shown."""
        with redis_errors():
            await self.redis.zadd(UNANNOUNCED_KEY, {request_id: at.timestamp()}, xx=True)

    async def announced(self, request_id: str) -> None:
        """The end of `request_id` is shown: nobody announces it again."""
        with redis_errors():
            await self.redis.zrem(UNANNOUNCED_KEY, request_id)

    async def first_telling(self, request_id: str) -> bool:
        """Claim the thread line of the end: True for the first caller only."""
        with redis_errors():
            claimed = await self.redis.set(
                told_key(request_id), b"1", nx=True, ex=ENDED_TTL_SECONDS
            )
        return bool(claimed)

    async def audited(self, request_id: str) -> None:
        """The end's audit entry is written: nobody writes it again."""
        with redis_errors():
            await self.redis.set(audited_key(request_id), b"1", ex=ENDED_TTL_SECONDS)

    async def was_audited(self, request_id: str) -> bool:
        with redis_errors():
            return bool(await self.redis.exists(audited_key(request_id)))
