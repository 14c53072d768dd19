"""Four-eyes approvals, kept in Redis: requests, approvals, the one-time move to executing,
chunked execution that resumes after a crash, expiry.

State machine (DESIGN.md "Policy and approvals"):

    pending --approve (enough approvers)--> executing --all chunks--> done
    pending --reject--> rejected      pending --cancel (requester)--> cancelled
    pending --sweeper, past expires_at--> expired

Every transition is one Lua script, so it happens exactly once whatever the number of clicks,
Slack retries or replicas. The record's content (action, params, ids) is covered by a digest
that is re-checked before approving and before executing. Button values carry only the
request id.

Redis layout (all names under `approval:` / `approvals:`):

    approval:<id>            hash: the request (lists as JSON; see `_fields`)
    approval:<id>:lease      string: the executor holding the request (owner, with a TTL)
    approval:<id>:chunks     hash: chunk index -> ChunkResult JSON
    approvals:pending        zset: pending ids by expiry (epoch seconds)
    approvals:executing      zset: executing ids by the time they started
    approvals:recent         zset: ended ids by end time (the last RECENT_KEEP)
    approvals:by:<user>      zset: a requester's ids by creation time (the last RECENT_KEEP)

Records of ended requests (and their chunk results) are kept ENDED_TTL_SECONDS. The scripts
touch keys derived from the request id, so the store needs a single Redis (or a managed
primary/replica pair), not Redis Cluster.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

import redis.asyncio as aioredis
from pydantic import BaseModel, ValidationError
from redis.commands.core import AsyncScript

from bot.cloudflare.models import DESTINATIONS
from bot.store import redis_errors

log = logging.getLogger("bot.approvals")

ActionName = Literal["release", "move"]
CHUNK_SIZE = 1000  # the API's batch limit (docs/001): one POST per chunk
ENDED_TTL_SECONDS = 30 * 24 * 3600
RECENT_KEEP = 200
EXPIRE_BATCH = 100
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def now_utc() -> datetime:
    return datetime.now(UTC)


class ApprovalState(StrEnum):
    PENDING = "pending"
    EXECUTING = "executing"
    DONE = "done"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Approval(BaseModel):
    user: str
    at: datetime


class MessageSummary(BaseModel):
    """What an approver sees of one message (taken when the request is made)."""

    id: str
    subject: str | None = None
    sender: str | None = None
    disposition: str | None = None


class ChunkResult(BaseModel):
    """The stored outcome of one chunk, written before the next chunk starts."""

    index: int
    acted: list[str]  # ids sent to the API in this chunk
    skipped: list[str]  # ids the re-check found already released / moved / gone
    delivered: list[str] = []  # release: ids delivered to every recipient
    failed: list[str] = []  # ids the API reported failed (release: any recipient failed)
    undelivered: list[str] = []  # release: ids with undelivered recipients or no outcome
    error: str | None = None  # the chunk could not be sent at all
    not_found: list[str] = []  # the part of `skipped` the API did not know (any more)


class ApprovalRequest(BaseModel):
    id: str
    action: ActionName
    params: dict[str, str]  # move: {"folder": ...}; release: {}
    ids: list[str]  # sorted, unique
    digest: str
    requester: str
    reason: str
    rule: str  # why approval is needed ("it touches 250 messages (BOT_BULK_THRESHOLD is 2)")
    summary: list[MessageSummary]  # the first messages, for the card
    channel: str | None = None
    message_ts: str | None = None
    created_at: datetime
    expires_at: datetime
    required: int
    approvals: list[Approval] = []
    state: ApprovalState = ApprovalState.PENDING
    ended_by: str | None = None  # who rejected / cancelled
    end_reason: str | None = None
    ended_at: datetime | None = None  # when it was rejected / cancelled / expired / done
    chunks_total: int = 0
    chunks_done: int = 0
    chunk_size: int = CHUNK_SIZE
    executing_at: datetime | None = None  # when the last approval started execution

    @property
    def approvers(self) -> set[str]:
        return {a.user for a in self.approvals}

    @property
    def approvals_missing(self) -> int:
        return max(self.required - len(self.approvals), 0)

    def chunk_ids(self, index: int) -> list[str]:
        return self.ids[index * self.chunk_size : (index + 1) * self.chunk_size]


def digest(action: str, params: dict[str, str], ids: Sequence[str]) -> str:
    """sha256 over the canonical JSON of what the request would do."""
    canonical = json.dumps(
        {"action": action, "params": params, "ids": sorted(ids)},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def verified(request: ApprovalRequest) -> bool:
    """True when the stored content still matches its digest (and the ids are sorted, unique)."""
    return request.ids == sorted(set(request.ids)) and request.digest == digest(
        request.action, request.params, request.ids
    )


class Outcome(StrEnum):
    APPROVED = "approved"  # counted; more approvals are needed
    EXECUTE = "execute"  # this approval completed it: the caller now runs the executor
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    SELF_APPROVAL = "self_approval"
    ALREADY_APPROVED = "already_approved"
    NOT_REQUESTER = "not_requester"
    NOT_PENDING = "not_pending"  # request.state says what it is now
    EXPIRED = "expired"  # it was pending past its expiry: now expired (by this call)
    TAMPERED = "tampered"  # stored content no longer matches its digest; nothing changed
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    request: ApprovalRequest | None  # as it is after the call (None when not found)

    @property
    def state(self) -> ApprovalState | None:
        return self.request.state if self.request else None


# -- Lua ---------------------------------------------------------------------------------------
# Each script is one atomic step. `snap` returns the record as it is after the step, so the
# caller sees exactly the state its own step produced.

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

# KEYS: rec, pending, by-requester. ARGV: id, expires_ts, created_ts, rec_ttl, index_ttl, keep,
# then field, value, field, value, ...
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -(tonumber(ARGV[6]) + 1))
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[5]))
return 1
"""

# KEYS: rec. ARGV: channel, ts.
_ATTACH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'channel', ARGV[1], 'message_ts', ARGV[2])
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
if redis.sha1hex(f[1] .. '\\n' .. f[2] .. '\\n' .. f[3] .. '\\n' .. f[4]) ~= ARGV[5] then
  return {'changed'}
end
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

# KEYS: rec, lease. ARGV: owner, lease ms.
_CLAIM = """
if redis.call('HGET', KEYS[1], 'state') ~= 'executing' then return 0 end
-- Only a free lease is taken, even by its own holder: two runs in one process (a click and
-- the sweeper) must never both go ahead. Holders extend with renew.
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', tonumber(ARGV[2])) then return 1 end
return 0
"""

# KEYS: rec, lease. ARGV: owner, lease ms.
_RENEW = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'state') ~= 'executing' then return 0 end
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[2]))
return 1
"""

# KEYS: lease. ARGV: owner.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: rec, lease, chunks. ARGV: owner, index, result JSON.
_SAVE_CHUNK = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
if redis.call('HGET', KEYS[1], 'state') ~= 'executing' then return -2 end
if redis.call('HSETNX', KEYS[3], ARGV[2], ARGV[3]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'chunks_done', 1)
return 1
"""

# KEYS: rec, lease, chunks, executing, recent. ARGV: id, owner, now, iso, ttl, keep.
_FINISH = """
local rec = KEYS[1]
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return {'not_owner'} end
if redis.call('HGET', rec, 'state') ~= 'executing' then return {'not_executing'} end
local total = tonumber(redis.call('HGET', rec, 'chunks_total') or '0')
if redis.call('HLEN', KEYS[3]) < total then return {'incomplete'} end
redis.call('HSET', rec, 'state', 'done', 'ended_at', ARGV[4])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[5], tonumber(ARGV[3]), ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[5], 0, -(tonumber(ARGV[6]) + 1))
redis.call('EXPIRE', rec, tonumber(ARGV[5]))
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[5]))
redis.call('DEL', KEYS[2])
return {'done', redis.call('HGETALL', rec)}
"""


# -- the store ---------------------------------------------------------------------------------

PREFIX = "approval:"
PENDING_KEY = "approvals:pending"
EXECUTING_KEY = "approvals:executing"
RECENT_KEY = "approvals:recent"


def _rec(request_id: str) -> str:
    return PREFIX + request_id


def _lease(request_id: str) -> str:
    return f"{PREFIX}{request_id}:lease"


def _chunks(request_id: str) -> str:
    return f"{PREFIX}{request_id}:chunks"


def _by(user: str) -> str:
    return f"approvals:by:{user}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


Raw = dict[str, bytes]


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _raw(flat: Sequence[bytes | str]) -> Raw:
    """A HGETALL answer from Lua (a flat list) as {field: bytes}."""
    items = list(flat)
    return {_text(items[i]): _bytes(items[i + 1]) for i in range(0, len(items) - 1, 2)}


def _raw_dict(answer: dict[Any, Any]) -> Raw:
    """A HGETALL answer of redis-py (a dict) as {field: bytes}."""
    return {_text(k): _bytes(v) for k, v in answer.items()}


def _fingerprint(raw: Raw) -> str:
    """sha1 of the stored action, params, ids and digest exactly as stored (bytes): the approve
    script recomputes it, so what it approves is what was verified here."""
    parts = [raw.get(name, b"") for name in ("action", "params", "ids", "digest")]
    return hashlib.sha1(b"\n".join(parts), usedforsecurity=False).hexdigest()


def _parse(raw: Raw) -> ApprovalRequest:
    def text(name: str) -> str | None:
        value = raw.get(name)
        return value.decode() if value else None

    def number(name: str, default: int = 0) -> int:
        value = text(name)
        return int(value) if value else default

    return ApprovalRequest(
        id=text("id") or "",
        action=text("action"),  # validated by pydantic
        params=json.loads(text("params") or "{}"),
        ids=json.loads(text("ids") or "[]"),
        digest=text("digest") or "",
        requester=text("requester") or "",
        reason=text("reason") or "",
        rule=text("rule") or "",
        summary=json.loads(text("summary") or "[]"),
        channel=text("channel"),
        message_ts=text("message_ts"),
        created_at=text("created_at"),
        expires_at=text("expires_at"),
        required=number("required", 1),
        approvals=json.loads(text("approvals") or "[]"),
        state=text("state"),
        ended_by=text("ended_by"),
        end_reason=text("end_reason"),
        ended_at=text("ended_at"),
        chunks_total=number("chunks_total"),
        chunks_done=number("chunks_done"),
        chunk_size=number("chunk_size", CHUNK_SIZE),
        executing_at=text("executing_at"),
    )


def _parse_or_none(raw: Raw, request_id: str) -> ApprovalRequest | None:
    try:
        return _parse(raw)
    except (ValueError, ValidationError):
        log.warning(
            "approval request %s has an unreadable record; treating it as missing", request_id
        )
        return None


class ApprovalStore:
    """Approval requests and their execution bookkeeping in Redis (see the module docstring)."""

    def __init__(self, redis: aioredis.Redis, clock: Callable[[], datetime] = now_utc) -> None:
        self.redis = redis
        self.clock = clock
        self._create = redis.register_script(_CREATE)
        self._attach = redis.register_script(_ATTACH)
        self._approve = redis.register_script(_APPROVE)
        self._end = redis.register_script(_END)
        self._expire_due = redis.register_script(_EXPIRE_DUE)
        self._claim = redis.register_script(_CLAIM)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._save_chunk = redis.register_script(_SAVE_CHUNK)
        self._finish = redis.register_script(_FINISH)

    async def _script(self, script: AsyncScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
        with redis_errors():
            return await script(keys=keys, args=args)

    async def _call(self, awaitable: Awaitable[Any]) -> Any:
        with redis_errors():
            return await awaitable

    def _now(self) -> tuple[datetime, float, str]:
        now = self.clock()
        return now, now.timestamp(), now.isoformat()

    # -- requests ------------------------------------------------------------------------------

    async def create(
        self,
        *,
        action: str,
        params: dict[str, str],
        ids: Sequence[str],
        requester: str,
        reason: str,
        rule: str,
        summary: Sequence[MessageSummary],
        ttl_seconds: float,
        required: int,
        channel: str | None,
        chunk_size: int = CHUNK_SIZE,
    ) -> ApprovalRequest:
        """Store a new pending request (ids sorted and made unique) and return it."""
        if action not in ("release", "move"):
            raise ValueError(f"cannot ask approval for {action!r}: only release and move")
        if action == "move" and params.get("folder") not in DESTINATIONS:
            raise ValueError(f"move needs a folder, one of {', '.join(DESTINATIONS)}")
        unique = sorted(set(ids))
        if not unique:
            raise ValueError("an approval request needs at least one message id")
        if required < 1 or ttl_seconds <= 0 or not 1 <= chunk_size <= CHUNK_SIZE:
            raise ValueError("required >= 1, ttl_seconds > 0 and 1 <= chunk_size <= 1000")
        created = self.clock()
        expires = datetime.fromtimestamp(created.timestamp() + ttl_seconds, UTC)
        made = ApprovalRequest(
            id="",
            action=action,  # checked above
            params=dict(params),
            ids=unique,
            digest=digest(action, params, unique),
            requester=requester,
            reason=reason,
            rule=rule,
            summary=list(summary),
            channel=channel,
            created_at=created,
            expires_at=expires,
            required=required,
            chunks_total=math.ceil(len(unique) / chunk_size),
            chunk_size=chunk_size,
        )
        record_ttl = int(ttl_seconds) + ENDED_TTL_SECONDS
        for _ in range(5):
            made.id = secrets.token_urlsafe(9)
            args: list[Any] = [
                made.id,
                expires.timestamp(),
                created.timestamp(),
                record_ttl,
                record_ttl,
                RECENT_KEEP,
            ]
            for name, value in self._fields(made).items():
                args += [name, value]
            keys = [_rec(made.id), PENDING_KEY, _by(requester)]
            if await self._script(self._create, keys, args):
                return made
        raise RuntimeError("could not pick an unused approval request id")  # pragma: no cover

    @staticmethod
    def _fields(made: ApprovalRequest) -> dict[str, str]:
        def compact(value: Any) -> str:
            return json.dumps(value, separators=(",", ":"))

        return {
            "id": made.id,
            "action": made.action,
            "params": compact(made.params),
            "ids": compact(made.ids),
            "digest": made.digest,
            "requester": made.requester,
            "reason": made.reason,
            "rule": made.rule,
            "summary": compact([s.model_dump(mode="json") for s in made.summary]),
            "channel": made.channel or "",
            "message_ts": made.message_ts or "",
            "created_at": made.created_at.isoformat(),
            "expires_at": made.expires_at.isoformat(),
            "expires_ts": repr(made.expires_at.timestamp()),
            "required": str(made.required),
            "approvals": "[]",
            "state": made.state.value,
            "chunks_total": str(made.chunks_total),
            "chunks_done": "0",
            "chunk_size": str(made.chunk_size),
        }

    async def attach_card(self, request_id: str, channel: str, message_ts: str) -> bool:
        """Remember where the request's card is; False if the request does not exist."""
        if not _ID.match(request_id):
            return False
        return bool(await self._script(self._attach, [_rec(request_id)], [channel, message_ts]))

    async def _get_raw(self, request_id: str) -> Raw | None:
        if not _ID.match(request_id):
            return None
        flat = await self._call(self.redis.hgetall(_rec(request_id)))
        if not flat:
            return None
        return _raw_dict(flat)

    async def get(self, request_id: str) -> ApprovalRequest | None:
        raw = await self._get_raw(request_id)
        return None if raw is None else _parse_or_none(raw, request_id)

    async def _get_many(self, ids: Sequence[bytes | str]) -> list[ApprovalRequest]:
        names = [_text(i) for i in ids]
        if not names:
            return []
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.hgetall(_rec(name))
                answers = await pipe.execute()
        found = []
        for name, flat in zip(names, answers, strict=True):
            if flat:
                made = _parse_or_none(_raw_dict(flat), name)
                if made is not None:
                    found.append(made)
        return found

    # -- decisions -----------------------------------------------------------------------------

    def _decision(self, answer: Sequence[Any], request_id: str) -> Decision:
        outcome = Outcome(_text(answer[0]))
        made = _parse_or_none(_raw(answer[1]), request_id) if len(answer) > 1 else None
        return Decision(outcome, made)

    async def approve(self, request_id: str, user: str) -> Decision:
        """Count `user`'s approval (roles are the caller's check). EXECUTE means this approval
        completed the request and moved it to executing: the caller runs the executor."""
        made: ApprovalRequest | None = None
        for _ in range(3):
            raw = await self._get_raw(request_id)
            if raw is None:
                return Decision(Outcome.NOT_FOUND, None)
            made = _parse_or_none(raw, request_id)
            if made is None or (made.state == ApprovalState.PENDING and not verified(made)):
                return Decision(Outcome.TAMPERED, made)
            if made.state != ApprovalState.PENDING:
                return Decision(Outcome.NOT_PENDING, made)
            _, ts, iso = self._now()
            answer = await self._script(
                self._approve,
                [_rec(request_id), PENDING_KEY, EXECUTING_KEY, RECENT_KEY],
                [request_id, user, ts, iso, _fingerprint(raw), ENDED_TTL_SECONDS, RECENT_KEEP],
            )
            if _text(answer[0]) != "changed":  # the record changed after we verified it
                return self._decision(answer, request_id)
        return Decision(Outcome.TAMPERED, made)

    async def _end_pending(
        self, request_id: str, user: str, reason: str, state: ApprovalState, requester_only: bool
    ) -> Decision:
        if not _ID.match(request_id):
            return Decision(Outcome.NOT_FOUND, None)
        _, ts, iso = self._now()
        answer = await self._script(
            self._end,
            [_rec(request_id), PENDING_KEY, RECENT_KEY],
            [
                request_id,
                user,
                reason,
                ts,
                iso,
                ENDED_TTL_SECONDS,
                RECENT_KEEP,
                state.value,
                "1" if requester_only else "0",
            ],
        )
        return self._decision(answer, request_id)

    async def reject(self, request_id: str, user: str, reason: str) -> Decision:
        return await self._end_pending(
            request_id, user, reason, ApprovalState.REJECTED, requester_only=False
        )

    async def cancel(self, request_id: str, user: str) -> Decision:
        """Withdraw a pending request; only its requester may (NOT_REQUESTER otherwise)."""
        return await self._end_pending(
            request_id, user, "", ApprovalState.CANCELLED, requester_only=True
        )

    async def expire_due(self) -> list[ApprovalRequest]:
        """Move every pending request past its expiry to expired; each is returned by exactly
        one caller, however many sweepers run at once."""
        moved: list[bytes | str] = []
        while True:
            _, ts, iso = self._now()
            seen, batch = await self._script(
                self._expire_due,
                [PENDING_KEY, RECENT_KEY],
                [ts, iso, ENDED_TTL_SECONDS, RECENT_KEEP, EXPIRE_BATCH, PREFIX],
            )
            moved += batch
            if int(seen) < EXPIRE_BATCH:
                break
        return await self._get_many(moved)

    # -- lists ---------------------------------------------------------------------------------

    async def pending(self) -> list[ApprovalRequest]:
        """Every pending request, soonest expiry first."""
        ids = await self._call(self.redis.zrange(PENDING_KEY, 0, -1))
        return [r for r in await self._get_many(ids) if r.state == ApprovalState.PENDING]

    async def by_requester(self, user: str, limit: int = 20) -> list[ApprovalRequest]:
        """`user`'s requests, newest first, whatever their state."""
        ids = await self._call(self.redis.zrevrange(_by(user), 0, max(limit, 1) * 2))
        return (await self._get_many(ids))[:limit]

    async def recent(self, limit: int = 20) -> list[ApprovalRequest]:
        """Requests that ended (done, rejected, cancelled, expired), latest first."""
        ids = await self._call(self.redis.zrevrange(RECENT_KEY, 0, max(limit, 1) * 2))
        return (await self._get_many(ids))[:limit]

    async def executing(self) -> list[ApprovalRequest]:
        ids = await self._call(self.redis.zrange(EXECUTING_KEY, 0, -1))
        return [r for r in await self._get_many(ids) if r.state == ApprovalState.EXECUTING]

    async def counts(self) -> dict[str, int]:
        """How many requests are pending and executing now (two index sizes; for metrics)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zcard(PENDING_KEY)
            pipe.zcard(EXECUTING_KEY)
            pending, executing = await self._call(pipe.execute())
        return {
            ApprovalState.PENDING.value: int(pending),
            ApprovalState.EXECUTING.value: int(executing),
        }

    # -- execution bookkeeping -----------------------------------------------------------------

    async def claim(self, request_id: str, owner: str, lease_seconds: float) -> bool:
        """Take the execution lease of an executing request, only if nobody holds it (the
        holder itself included: one run per lease; holders extend with `renew`)."""
        if not _ID.match(request_id):
            return False
        answer = await self._script(
            self._claim,
            [_rec(request_id), _lease(request_id)],
            [owner, max(int(lease_seconds * 1000), 1)],
        )
        return bool(answer)

    async def renew(self, request_id: str, owner: str, lease_seconds: float) -> bool:
        """Extend the lease; False if `owner` does not hold it (any more)."""
        answer = await self._script(
            self._renew,
            [_rec(request_id), _lease(request_id)],
            [owner, max(int(lease_seconds * 1000), 1)],
        )
        return bool(answer)

    async def release_lease(self, request_id: str, owner: str) -> None:
        await self._script(self._release, [_lease(request_id)], [owner])

    async def lease_holder(self, request_id: str) -> str | None:
        holder = await self._call(self.redis.get(_lease(request_id)))
        return None if holder is None else _text(holder)

    async def stalled(self) -> list[str]:
        """Executing requests nobody holds a lease on (a crashed or stopped executor, or one
        approved a moment ago whose executor has not started): to resume."""
        ids = [_text(i) for i in await self._call(self.redis.zrange(EXECUTING_KEY, 0, -1))]
        if not ids:
            return []
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for request_id in ids:
                    pipe.hget(_rec(request_id), "state")
                    pipe.exists(_lease(request_id))
                answers = await pipe.execute()
            stale, found = [], []
            for n, request_id in enumerate(ids):
                state, leased = answers[2 * n], answers[2 * n + 1]
                if state is None or _text(state) != ApprovalState.EXECUTING:
                    stale.append(request_id)
                elif not leased:
                    found.append(request_id)
            if stale:
                await self.redis.zrem(EXECUTING_KEY, *stale)
        return found

    async def chunk(self, request_id: str, index: int) -> ChunkResult | None:
        raw = await self._call(self.redis.hget(_chunks(request_id), str(index)))
        return None if raw is None else ChunkResult.model_validate_json(raw)

    async def save_chunk(self, request_id: str, result: ChunkResult, owner: str) -> bool:
        """Store one chunk's result, only while `owner` holds the lease. True when the result
        is stored (now, or already before: a chunk's result is written once)."""
        answer = await self._script(
            self._save_chunk,
            [_rec(request_id), _lease(request_id), _chunks(request_id)],
            [owner, str(result.index), result.model_dump_json()],
        )
        return int(answer) >= 0

    async def chunks(self, request_id: str) -> list[ChunkResult]:
        """Every stored chunk result, in chunk order."""
        stored = await self._call(self.redis.hgetall(_chunks(request_id)))
        results = [ChunkResult.model_validate_json(v) for v in stored.values()]
        return sorted(results, key=lambda r: r.index)

    async def finish(self, request_id: str, owner: str) -> ApprovalRequest | None:
        """executing -> done, exactly once: only by the lease holder, only when every chunk's
        result is stored. None when this call did not finish it."""
        _, ts, iso = self._now()
        answer = await self._script(
            self._finish,
            [
                _rec(request_id),
                _lease(request_id),
                _chunks(request_id),
                EXECUTING_KEY,
                RECENT_KEY,
            ],
            [request_id, owner, ts, iso, ENDED_TTL_SECONDS, RECENT_KEEP],
        )
        if _text(answer[0]) != "done":
            log.info("finish %s by %s refused: %s", request_id, owner, _text(answer[0]))
            return None
        return _parse_or_none(_raw(answer[1]), request_id)
