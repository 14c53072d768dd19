"""One Redis lease: a key whose value names its holder, with a TTL the holder keeps renewing.

It guards the work only one process may do at a time: an approval request's execution, the
alert poller. A holder that dies stops renewing and the lease lapses after its TTL, so another
replica takes over; a holder that stops cleanly releases it at once. Scripts of other stores
that must only run for the holder check `GET <key> == owner` themselves, atomically with
their own step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

from bot.store.plumbing import redis_errors

# KEYS: lease. ARGV: owner, ms, "1" when the holder itself may take it again (extends it).
_ACQUIRE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] and ARGV[3] == '1' then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
return 1
"""

# KEYS: lease. ARGV: owner, ms.
_RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""

# KEYS: lease. ARGV: owner.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _ms(seconds: float) -> int:
    return max(int(seconds * 1000), 1)


class Lease:
    """The lease at `key`. Every call raises StoreUnavailable when Redis fails."""

    def __init__(self, redis: aioredis.Redis, key: str) -> None:
        self.redis = redis
        self.key = key
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    async def _run(self, script: Any, args: Sequence[Any]) -> bool:
        with redis_errors():
            return bool(await script(keys=[self.key], args=list(args)))

    async def acquire(self, owner: str, seconds: float, *, reentrant: bool = False) -> bool:
        """Take the lease if it is free. With `reentrant`, its holder extends it instead;
        without, even the holder is refused (two runs in one process must not both go)."""
        return await self._run(self._acquire, [owner, _ms(seconds), "1" if reentrant else "0"])

    async def renew(self, owner: str, seconds: float) -> bool:
        """Extend the lease; False when `owner` does not hold it (any more)."""
        return await self._run(self._renew, [owner, _ms(seconds)])

    async def release(self, owner: str) -> bool:
        """Give the lease up if `owner` holds it; True when it did."""
        return await self._run(self._release, [owner])

    async def holder(self) -> str | None:
        with redis_errors():
            value = await self.redis.get(self.key)
        return None if value is None else (value.decode() if isinstance(value, bytes) else value)
