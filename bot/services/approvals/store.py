"""Approval requests in Redis: creating them, the decisions on them, the lists, and the
bookkeeping of their execution (the lease, chunk results, the move to done).

Every state change is one script of `scripts.py` (the Redis layout is described there), so it
happens exactly once whatever the number of clicks, Slack retries or replicas. The record's
content (action, params, ids, and the frozen search of a request made from a search) is covered
by a digest, an HMAC under the integrity key the store is given (never stored in Redis),
re-checked before approving and, through `verified`, before executing. Button values carry only
the request id.
"""

from __future__ import annotations

import logging
import math
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from bot.cloudflare.models import DESTINATIONS
from bot.integrity import IntegrityKey
from bot.services.approvals.changes import SETTINGS_CHANGES
from bot.services.approvals.changes import check as check_change
from bot.services.approvals.endings import Endings
from bot.services.approvals.models import (
    CHUNK_SIZE,
    ApprovalRequest,
    ApprovalState,
    ChunkResult,
    Decision,
    FrozenSearch,
    MessageSummary,
    Outcome,
    digest,
    now_utc,
    verified,
)
from bot.services.approvals.records import Raw, as_text, fields, from_hash, parse
from bot.services.approvals.scripts import (
    ENDED_TTL_SECONDS,
    EXECUTING_KEY,
    PENDING_KEY,
    RECENT_KEY,
    ApprovalScripts,
    chunks_key,
    lease_key,
    record_key,
)
from bot.store import Lease, redis_errors

log = logging.getLogger("bot.approvals")

EXPIRE_BATCH = 100
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ApprovalStore:
    """Approval requests and their execution bookkeeping in Redis (see the module docstring)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        clock: Callable[[], datetime] = now_utc,
        *,
        key: IntegrityKey,
    ) -> None:
        self.redis = redis
        self.clock = clock
        self.key = key
        self.scripts = ApprovalScripts(redis)
        self.endings = Endings(redis)  # a run's end, and its announcement (announcing.py)

    async def _call(self, awaitable: Awaitable[Any]) -> Any:
        with redis_errors():
            return await awaitable

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
        message_ts: str | None = None,
        guarded: dict[str, int] | None = None,
        chunk_size: int = CHUNK_SIZE,
        search: FrozenSearch | None = None,
    ) -> ApprovalRequest:
        """Store a new pending request (ids sorted and made unique) and return it. `channel`
        and `message_ts` are where its card is: posted first, so that no request exists that
        an approver could approve without seeing it. `search`: the frozen search a release or
        move was made from, which the executor re-checks it with."""
        if action not in ("release", "move", "block", *SETTINGS_CHANGES):
            raise ValueError(f"cannot ask approval for {action!r}: not a request kind")
        if action in SETTINGS_CHANGES:
            check_change(action, params)  # one step, whatever its ids (the message asked from)
        if action == "move" and params.get("folder") not in DESTINATIONS:
            raise ValueError(f"move needs a folder, one of {', '.join(DESTINATIONS)}")
        if action == "block" and (
            not params.get("pattern") or params.get("pattern_type") not in ("EMAIL", "DOMAIN")
        ):
            raise ValueError("block needs a pattern and a pattern_type (EMAIL or DOMAIN)")
        one_step = action == "block" or action in SETTINGS_CHANGES
        if one_step and search is not None:
            raise ValueError(f"a {action} is not made from a search")
        unique = sorted(set(ids))
        if not unique and not one_step:
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
            digest=digest(self.key, action, params, unique, search),
            requester=requester,
            reason=reason,
            rule=rule,
            summary=list(summary),
            guarded=dict(guarded or {}),
            channel=channel,
            message_ts=message_ts,
            created_at=created,
            expires_at=expires,
            required=required,
            # A block, an allow and a trust are one step (one API call), whatever their ids.
            chunks_total=1 if one_step else math.ceil(len(unique) / chunk_size),
            chunk_size=chunk_size,
            search=search,
        )
        for _ in range(5):
            made.id = secrets.token_urlsafe(9)
            if await self.scripts.create(
                made.id,
                fields(made),
                requester=requester,
                created_at=created,
                expires_at=expires,
                record_ttl=int(ttl_seconds) + ENDED_TTL_SECONDS,
            ):
                return made
        raise RuntimeError("could not pick an unused approval request id")  # pragma: no cover

    def verified(self, made: ApprovalRequest) -> bool:
        """True when `made`'s content still matches its digest under this store's key."""
        return verified(made, self.key)

    async def _get_raw(self, request_id: str) -> Raw | None:
        if not _ID.match(request_id):
            return None
        stored = await self._call(self.redis.hgetall(record_key(request_id)))
        if not stored:
            return None
        return from_hash(stored)

    async def get(self, request_id: str) -> ApprovalRequest | None:
        raw = await self._get_raw(request_id)
        return None if raw is None else parse(raw, request_id)

    async def _get_many(self, ids: Sequence[bytes | str]) -> list[ApprovalRequest]:
        names = [as_text(i) for i in ids]
        if not names:
            return []
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.hgetall(record_key(name))
                answers = await pipe.execute()
        found = []
        for name, stored in zip(names, answers, strict=True):
            if stored:
                made = parse(from_hash(stored), name)
                if made is not None:
                    found.append(made)
        return found

    # -- decisions -----------------------------------------------------------------------------

    @staticmethod
    def _decision(word: str, raw: Raw | None, request_id: str) -> Decision:
        return Decision(Outcome(word), None if raw is None else parse(raw, request_id))

    async def approve(self, request_id: str, user: str) -> Decision:
        """Count `user`'s approval (roles are the caller's check). EXECUTE means this approval
        completed the request and moved it to executing: the caller runs the executor."""
        made: ApprovalRequest | None = None
        for _ in range(3):
            raw = await self._get_raw(request_id)
            if raw is None:
                return Decision(Outcome.NOT_FOUND, None)
            made = parse(raw, request_id)
            if made is None or (made.state == ApprovalState.PENDING and not self.verified(made)):
                return Decision(Outcome.TAMPERED, made)
            if made.state != ApprovalState.PENDING:
                return Decision(Outcome.NOT_PENDING, made)
            word, after = await self.scripts.approve(request_id, user, raw, self.clock())
            if word != "changed":  # "changed": the record changed after we verified it
                return self._decision(word, after, request_id)
        return Decision(Outcome.TAMPERED, made)

    async def _end_pending(
        self, request_id: str, user: str, reason: str, state: ApprovalState, requester_only: bool
    ) -> Decision:
        if not _ID.match(request_id):
            return Decision(Outcome.NOT_FOUND, None)
        word, after = await self.scripts.end(
            request_id, user, reason, state.value, self.clock(), requester_only=requester_only
        )
        return self._decision(word, after, request_id)

    async def reject(self, request_id: str, user: str, reason: str) -> Decision:
        return await self._end_pending(
            request_id, user, reason, ApprovalState.REJECTED, requester_only=False
        )

    async def cancel(self, request_id: str, user: str) -> Decision:
        """Withdraw a pending request; only its requester may (NOT_REQUESTER otherwise)."""
        return await self._end_pending(
            request_id, user, "", ApprovalState.CANCELLED, requester_only=True
        )

    async def refuse(self, request_id: str, reason: str) -> Decision:
        """pending -> refused, by the bot: a role the request needs is no longer held."""
        return await self._end_pending(
            request_id, "bot", reason, ApprovalState.REFUSED, requester_only=False
        )

    async def withdraw(self, request_id: str, users: Sequence[str]) -> ApprovalRequest | None:
        """Drop the approvals of `users` from a pending request: they no longer count. The
        request after the step; None when nothing was withdrawn (none of them had approved,
        or it is not pending)."""
        if not _ID.match(request_id) or not users:
            return None
        word, after = await self.scripts.withdraw(request_id, users)
        return parse(after, request_id) if word == "withdrawn" and after is not None else None

    async def expire_due(self) -> list[ApprovalRequest]:
        """Move every pending request past its expiry to expired; each is returned by exactly
        one caller, however many sweepers run at once."""
        moved: list[str] = []
        while True:
            seen, batch = await self.scripts.expire_due(self.clock(), EXPIRE_BATCH)
            moved += batch
            if seen < EXPIRE_BATCH:
                break
        return await self._get_many(moved)

    # -- lists ---------------------------------------------------------------------------------

    async def pending(self) -> list[ApprovalRequest]:
        """Every pending request, soonest expiry first."""
        ids = await self._call(self.redis.zrange(PENDING_KEY, 0, -1))
        return [r for r in await self._get_many(ids) if r.state == ApprovalState.PENDING]

    async def recent(self, limit: int = 20) -> list[ApprovalRequest]:
        """Requests that ended (done, rejected, cancelled, expired), latest first."""
        ids = await self._call(self.redis.zrevrange(RECENT_KEY, 0, max(limit, 1) * 2))
        return (await self._get_many(ids))[:limit]

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
    # The lease is the generic bot.store.lease.Lease, which knows nothing of approval states.
    # The state checks that matter for exactly-once stay atomic: `save_chunk` and `finish` are
    # scripts that check the lease owner AND that the request is executing, so no chunk is
    # stored and nothing is finished for a request that is not executing, whoever holds its
    # lease. `claim` reads the state before taking the lease (pending and ended requests' leases
    # are left alone) and again after, giving the lease back if the request is no longer
    # executing: only the holder moves an executing request on (`finish`), so a request seen
    # executing while we hold its lease stays executing until we finish it. (The executor also
    # re-reads the request after claiming and stops if it is not executing.) `renew` needs no
    # state check: `finish` deletes the lease, and nothing else moves a request out of
    # executing; a stray renewal is harmless since the scripts above still refuse.

    def _lease(self, request_id: str) -> Lease:
        return Lease(self.redis, lease_key(request_id))

    async def _executing_now(self, request_id: str) -> bool:
        state = await self._call(self.redis.hget(record_key(request_id), "state"))
        return state is not None and as_text(state) == ApprovalState.EXECUTING

    async def claim(self, request_id: str, owner: str, lease_seconds: float) -> bool:
        """Take the execution lease of an executing request, only if nobody holds it (the
        holder itself included: one run per lease; holders extend with `renew`)."""
        if not _ID.match(request_id) or not await self._executing_now(request_id):
            return False  # leave the lease of a pending or ended request alone
        lease = self._lease(request_id)
        if not await lease.acquire(owner, lease_seconds):
            return False
        if await self._executing_now(request_id):
            return True
        await lease.release(owner)  # finished by the previous holder just before we took it
        return False

    async def renew(self, request_id: str, owner: str, lease_seconds: float) -> bool:
        """Extend the lease; False if `owner` does not hold it (any more)."""
        return await self._lease(request_id).renew(owner, lease_seconds)

    async def release_lease(self, request_id: str, owner: str) -> None:
        await self._lease(request_id).release(owner)

    async def lease_holder(self, request_id: str) -> str | None:
        return await self._lease(request_id).holder()

    async def stalled(self, settled_for: float = 0.0) -> list[str]:
        """Executing requests nobody holds a lease on (a crashed or stopped executor), among
        those executing for at least `settled_for` seconds: one approved a moment ago is left
        to the process that approved it, which is about to claim it."""
        latest = self.clock().timestamp() - settled_for
        found_ids = self.redis.zrangebyscore(EXECUTING_KEY, "-inf", latest)
        ids = [as_text(i) for i in await self._call(found_ids)]
        if not ids:
            return []
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for request_id in ids:
                    pipe.hget(record_key(request_id), "state")
                    pipe.exists(lease_key(request_id))
                answers = await pipe.execute()
            stale, found = [], []
            for n, request_id in enumerate(ids):
                state, leased = answers[2 * n], answers[2 * n + 1]
                if state is None or as_text(state) != ApprovalState.EXECUTING:
                    stale.append(request_id)
                elif not leased:
                    found.append(request_id)
            if stale:
                await self.redis.zrem(EXECUTING_KEY, *stale)
        return found

    async def chunk(self, request_id: str, index: int) -> ChunkResult | None:
        raw = await self._call(self.redis.hget(chunks_key(request_id), str(index)))
        return None if raw is None else ChunkResult.model_validate_json(raw)

    async def save_chunk(self, request_id: str, result: ChunkResult, owner: str) -> bool:
        """Store one chunk's result, only while `owner` holds the lease. True when the result
        is stored (now, or already before: a chunk's result is written once)."""
        stored = await self.scripts.save_chunk(
            request_id, owner, result.index, result.model_dump_json()
        )
        return stored >= 0

    async def chunks(self, request_id: str) -> list[ChunkResult]:
        """Every stored chunk result, in chunk order."""
        stored = await self._call(self.redis.hgetall(chunks_key(request_id)))
        results = [ChunkResult.model_validate_json(v) for v in stored.values()]
        return sorted(results, key=lambda r: r.index)

    async def refuse_run(self, request_id: str, owner: str, reason: str) -> ApprovalRequest | None:
        """executing -> refused before the chunks not yet stored, only by the lease holder; its
        end is then owed an announcement (announcing.py). None when this call did not end it."""
        word, after = await self.endings.refuse_run(request_id, owner, reason, self.clock())
        if word != "refused" or after is None:
            log.info("refusing the run of %s by %s did not happen: %s", request_id, owner, word)
            return None
        return parse(after, request_id)

    async def finish(self, request_id: str, owner: str) -> ApprovalRequest | None:
        """executing -> done, exactly once: only by the lease holder, only when every chunk's
        result is stored; its end is then owed an announcement (announcing.py). None when this
        call did not finish it."""
        word, after = await self.endings.finish(request_id, owner, self.clock())
        if word != "done" or after is None:
            log.info("finish %s by %s refused: %s", request_id, owner, word)
            return None
        return parse(after, request_id)
