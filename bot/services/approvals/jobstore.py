"""Where a query request's bulk job is kept in Redis: its state (written only by the holder of
the request's execution lease, checked atomically with the write) and the Cancel mark anyone
allowed may set while it runs.

    {approvals}:request:<id>:job         string: JobState JSON (bot.services.approvals.jobstate)
    {approvals}:request:<id>:job:cancel  string: who asked to cancel the job (set once)

Both keys are named after the request's record key (scripts.record_key), so they share its
`{approvals}` hash tag: `save` checks the lease and writes the state in one slot. They live as
long as the request's record (ENDED_TTL_SECONDS after it ends).
"""

from __future__ import annotations

import redis.asyncio as aioredis

from bot.services.approvals.jobstate import JobState
from bot.services.approvals.scripts import ENDED_TTL_SECONDS, lease_key, record_key
from bot.store import redis_errors

# KEYS: lease, state. ARGV: owner, state JSON, ttl seconds.
_SAVE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'EX', tonumber(ARGV[3]))
return 1
"""


def job_key(request_id: str) -> str:
    return f"{record_key(request_id)}:job"


def cancel_key(request_id: str) -> str:
    return f"{record_key(request_id)}:job:cancel"


class JobStore:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._save = redis.register_script(_SAVE)

    async def load(self, request_id: str) -> JobState | None:
        with redis_errors():
            raw = await self.redis.get(job_key(request_id))
        return None if raw is None else JobState.model_validate_json(raw)

    async def save(self, request_id: str, owner: str, state: JobState) -> bool:
        """Store `state`, only while `owner` holds the request's lease (False otherwise)."""
        keys = [lease_key(request_id), job_key(request_id)]
        with redis_errors():
            saved = await self._save(
                keys=keys, args=[owner, state.model_dump_json(), ENDED_TTL_SECONDS]
            )
        return bool(saved)

    async def ask_cancel(self, request_id: str, actor: str) -> str:
        """Mark the job to be cancelled by `actor`; returns who asked first."""
        with redis_errors():
            await self.redis.set(cancel_key(request_id), actor, nx=True, ex=ENDED_TTL_SECONDS)
            first = await self.redis.get(cancel_key(request_id))
        return first.decode() if isinstance(first, bytes) else str(first or actor)

    async def cancel_asked(self, request_id: str) -> str | None:
        with redis_errors():
            found = await self.redis.get(cancel_key(request_id))
        return found.decode() if isinstance(found, bytes) else found
