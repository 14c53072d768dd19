"""Every transition of an approval request as one Lua script, behind a typed method.

Each script is one atomic step, so a transition happens exactly once whatever the number of
clicks, Slack retries or replicas. Callers never build KEYS/ARGV lists: the key names and the
retention rules live here, next to the scripts that use them.

Redis layout (every name carries the `{approvals}` hash tag, so that on a Redis Cluster all of
them live in one slot and each script, which moves a request between the indexes atomically,
touches one slot; the approvals' traffic is small enough for one node):

    {approvals}:request:<id>          hash: the request (fields: bot.services.approvals.records)
    {approvals}:request:<id>:lease    string: the executor holding the request, with a TTL
                                      (bot.store.lease.Lease; `save_chunk` and `finish` check it)
    {approvals}:request:<id>:chunks   hash: chunk index -> ChunkResult JSON
    {approvals}:pending               zset: pending ids by expiry (epoch seconds)
    {approvals}:executing             zset: executing ids by the time they started
    {approvals}:recent                zset: ended ids by end time (the last RECENT_KEEP)
    {approvals}:unannounced           zset: ended runs whose end is not yet all shown,
    {approvals}:request:<id>:told     string: its thread line claimed, and
    {approvals}:request:<id>:audited  string: its end's audit entry written (all three:
                                      endings.py, whose scripts end a run: `finish`,
                                      `refuse_run`)

Records of ended requests (and their chunk results) are kept ENDED_TTL_SECONDS; an executing
record never expires. (Before Redis Cluster support the names were `approval:<id>…` and
`approvals:…`; bot/store/keymove.py moves them once.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis

from bot.services.approvals.records import Raw, as_text, from_flat
from bot.store import run_script

ENDED_TTL_SECONDS = 30 * 24 * 3600
RECENT_KEEP = 200

TAG = "{approvals}"
PREFIX = TAG + ":request:"
PENDING_KEY = TAG + ":pending"
EXECUTING_KEY = TAG + ":executing"
RECENT_KEY = TAG + ":recent"


def record_key(request_id: str) -> str:
    return PREFIX + request_id


def lease_key(request_id: str) -> str:
    return f"{PREFIX}{request_id}:lease"


def chunks_key(request_id: str) -> str:
    return f"{PREFIX}{request_id}:chunks"


# `snap` returns the record as it is after the step, so the caller sees exactly the state its
# own step produced.
_PRELUDE = """
local function snap(rec) return redis.call('HGETALL', rec) end
local function finish_pending(rec, id, state, now, iso, ttl, keep, pending, recent)
  redis.call('HSET', rec, 'state', state, 'ended_at', iso)
  redis.call('ZREM', pending, id)
  redis.call('ZADD', recent, now, id)
  redis.call('ZREMRANGEBYRANK', recent, 0, -(keep + 1))
  redis.call('EXPIRE', rec, ttl)
end
local function overdue(rec, now)
  return tonumber(redis.call('HGET', rec, 'expires_ts') or '0') <= now
end
"""

# KEYS: rec, pending. ARGV: id, expires_ts, created_ts, rec_ttl, then field, value, ...
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
"""

# KEYS: rec, pending, executing, recent.
# ARGV: id, user, now, iso, fingerprint of what the caller verified, ttl, keep.
_APPROVE = (
    _PRELUDE
    + """
local rec, id, user, now = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('EXISTS', rec) == 0 then return {'not_found'} end
if redis.call('HGET', rec, 'state') ~= 'pending' then return {'not_pending', snap(rec)} end
if overdue(rec, now) then
  finish_pending(rec, id, 'expired', now, ARGV[4], tonumber(ARGV[6]), tonumber(ARGV[7]),
                 KEYS[2], KEYS[4])
  return {'expired', snap(rec)}
end
local f = redis.call('HMGET', rec, 'action', 'params', 'ids', 'digest',
                     'requester', 'approvals', 'required')
for i = 1, 7 do if not f[i] then return {'changed'} end end
-- a record stored before requests kept their search has no such field: "" as for none
local search = redis.call('HGET', rec, 'search') or ''
local content = f[1] .. '\\n' .. f[2] .. '\\n' .. f[3] .. '\\n' .. f[4] .. '\\n' .. search
if redis.sha1hex(content) ~= ARGV[5] then return {'changed'} end
if f[5] == user then return {'self_approval', snap(rec)} end
local ok, approvals = pcall(cjson.decode, f[6])
if not ok or type(approvals) ~= 'table' then return {'changed'} end
for _, a in ipairs(approvals) do
  if a['user'] == user then return {'already_approved', snap(rec)} end
end
table.insert(approvals, {user = user, at = ARGV[4]})
redis.call('HSET', rec, 'approvals', cjson.encode(approvals))
if #approvals >= tonumber(f[7]) then
  redis.call('HSET', rec, 'state', 'executing', 'executing_at', ARGV[4])
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZADD', KEYS[3], now, id)
  redis.call('PERSIST', rec)
  return {'execute', snap(rec)}
end
return {'approved', snap(rec)}
"""
)

# KEYS: rec, pending, recent. ARGV: id, user, reason, now, iso, ttl, keep, new state,
# "1" if only the requester may do it.
_END = (
    _PRELUDE
    + """
local rec, id, user, now = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[4])
local ttl, keep = tonumber(ARGV[6]), tonumber(ARGV[7])
if redis.call('EXISTS', rec) == 0 then return {'not_found'} end
if redis.call('HGET', rec, 'state') ~= 'pending' then return {'not_pending', snap(rec)} end
if overdue(rec, now) then
  finish_pending(rec, id, 'expired', now, ARGV[5], ttl, keep, KEYS[2], KEYS[3])
  return {'expired', snap(rec)}
end
if ARGV[9] == '1' and redis.call('HGET', rec, 'requester') ~= user then
  return {'not_requester', snap(rec)}
end
finish_pending(rec, id, ARGV[8], now, ARGV[5], ttl, keep, KEYS[2], KEYS[3])
redis.call('HSET', rec, 'ended_by', user, 'end_reason', ARGV[3])
return {ARGV[8], snap(rec)}
"""
)

# KEYS: pending, recent. ARGV: now, iso, ttl, keep, batch, record key prefix.
_EXPIRE_DUE = (
    _PRELUDE
    + """
local now = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[5]))
local moved = {}
for _, id in ipairs(due) do
  local rec = ARGV[6] .. id
  if redis.call('HGET', rec, 'state') == 'pending' then
    finish_pending(rec, id, 'expired', now, ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]),
                   KEYS[1], KEYS[2])
    table.insert(moved, id)
  else
    redis.call('ZREM', KEYS[1], id)  -- a stale index entry (record gone or not pending)
  end
end
return {#due, moved}
"""
)

# KEYS: rec, lease, chunks. ARGV: owner, index, result JSON.
_SAVE_CHUNK = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
if redis.call('HGET', KEYS[1], 'state') ~= 'executing' then return -2 end
if redis.call('HSETNX', KEYS[3], ARGV[2], ARGV[3]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'chunks_done', 1)
return 1
"""

# KEYS: rec. ARGV: JSON array of the users whose approvals no longer count.
_WITHDRAW = (
    _PRELUDE
    + """
local rec = KEYS[1]
if redis.call('EXISTS', rec) == 0 then return {'not_found'} end
if redis.call('HGET', rec, 'state') ~= 'pending' then return {'not_pending', snap(rec)} end
local ok, approvals = pcall(cjson.decode, redis.call('HGET', rec, 'approvals') or '[]')
if not ok or type(approvals) ~= 'table' then return {'changed'} end
local drop = {}
for _, user in ipairs(cjson.decode(ARGV[1])) do drop[user] = true end
local kept = {}
for _, a in ipairs(approvals) do
  if not drop[a['user']] then table.insert(kept, a) end
end
if #kept == #approvals then return {'unchanged', snap(rec)} end
-- cjson encodes an empty table as {}: the record's list stays a JSON list
redis.call('HSET', rec, 'approvals', #kept == 0 and '[]' or cjson.encode(kept))
return {'withdrawn', snap(rec)}
"""
)


def fingerprint(raw: Raw) -> str:
    """sha1 of the stored action, params, ids, digest and frozen search exactly as stored
    (bytes): the approve script recomputes it, so what it approves is what the caller
    verified."""
    parts = [raw.get(name, b"") for name in ("action", "params", "ids", "digest", "search")]
    return hashlib.sha1(b"\n".join(parts), usedforsecurity=False).hexdigest()


def answer_of(answer: Sequence[Any]) -> tuple[str, Raw | None]:
    """A script's {word, snapshot?} as (word, the record after the step or None)."""
    return as_text(answer[0]), from_flat(answer[1]) if len(answer) > 1 else None


class ApprovalScripts:
    """The scripts, registered once per Redis client. Every call raises StoreUnavailable when
    Redis fails."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._create = redis.register_script(_CREATE)
        self._approve = redis.register_script(_APPROVE)
        self._end = redis.register_script(_END)
        self._expire_due = redis.register_script(_EXPIRE_DUE)
        self._save_chunk = redis.register_script(_SAVE_CHUNK)
        self._withdraw = redis.register_script(_WITHDRAW)

    async def create(
        self,
        request_id: str,
        fields: Mapping[str, str],
        *,
        requester: str,
        created_at: datetime,
        expires_at: datetime,
        record_ttl: int,
    ) -> bool:
        """Store a new record (kept `record_ttl` seconds) and index it as pending; False when
        `request_id` is taken."""
        args: list[Any] = [request_id, expires_at.timestamp(), created_at.timestamp(), record_ttl]
        for name, value in fields.items():
            args += [name, value]
        keys = [record_key(request_id), PENDING_KEY]
        return bool(await run_script(self._create, keys, args))

    async def approve(
        self, request_id: str, user: str, verified: Raw, at: datetime
    ) -> tuple[str, Raw | None]:
        """Count `user`'s approval of a pending request whose content is still what `verified`
        held. The word is an Outcome value, or "changed" (content changed since `verified`
        was read; nothing was done); with the record after the step (None: not found, changed).
        """
        answer = await run_script(
            self._approve,
            [record_key(request_id), PENDING_KEY, EXECUTING_KEY, RECENT_KEY],
            [
                request_id,
                user,
                at.timestamp(),
                at.isoformat(),
                fingerprint(verified),
                ENDED_TTL_SECONDS,
                RECENT_KEEP,
            ],
        )
        return answer_of(answer)

    async def end(
        self,
        request_id: str,
        user: str,
        reason: str,
        state: str,
        at: datetime,
        *,
        requester_only: bool,
    ) -> tuple[str, Raw | None]:
        """Move a pending request to `state` (rejected, cancelled), by `user`. The word is
        `state` or an Outcome value (not_found, not_pending, expired, not_requester)."""
        answer = await run_script(
            self._end,
            [record_key(request_id), PENDING_KEY, RECENT_KEY],
            [
                request_id,
                user,
                reason,
                at.timestamp(),
                at.isoformat(),
                ENDED_TTL_SECONDS,
                RECENT_KEEP,
                state,
                "1" if requester_only else "0",
            ],
        )
        return answer_of(answer)

    async def expire_due(self, at: datetime, batch: int) -> tuple[int, list[str]]:
        """Expire up to `batch` pending requests due by `at`: (how many due entries were seen,
        the ids this call moved to expired)."""
        seen, moved = await run_script(
            self._expire_due,
            [PENDING_KEY, RECENT_KEY],
            [at.timestamp(), at.isoformat(), ENDED_TTL_SECONDS, RECENT_KEEP, batch, PREFIX],
        )
        return int(seen), [as_text(i) for i in moved]

    async def save_chunk(self, request_id: str, owner: str, index: int, result: str) -> int:
        """Store chunk `index`'s result JSON while `owner` holds the lease of an executing
        request: 1 stored now, 0 stored before (a chunk's result is written once), -1 `owner`
        does not hold the lease, -2 the request is not executing."""
        answer = await run_script(
            self._save_chunk,
            [record_key(request_id), lease_key(request_id), chunks_key(request_id)],
            [owner, str(index), result],
        )
        return int(answer)

    async def withdraw(self, request_id: str, users: Sequence[str]) -> tuple[str, Raw | None]:
        """Drop the approvals of `users` from a pending request (they no longer count). The word
        is "withdrawn", "unchanged" (none of them had approved), "not_pending", "not_found" or
        "changed" (an unreadable approvals list; nothing was done)."""
        keys, args = [record_key(request_id)], [json.dumps(list(users))]
        return answer_of(await run_script(self._withdraw, keys, args))
