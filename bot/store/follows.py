"""The reclassify submissions the bot follows until Cloudflare decides them, so that a restart
(or another replica) keeps following them, and the outcomes being shown, so that one a replica
was showing when it died is shown by another.

Redis layout (one hash tag: a claim moves a field from one hash to the other in one script,
which on a Redis Cluster needs both keys in one slot):
- `{submissions}:follow` hash, a follow's key -> its JSON (what the service needs to find the
  submission and show its outcome).
- `{submissions}:showing` hash, a follow's key -> JSON {owner, until (Redis time, ms), record}:
  an outcome a replica (`owner`) is showing. Claiming a decided follow moves it here, in one
  script that exactly one caller wins; it is deleted once the cards and the thread are told. A
  record whose `until` passed (its replica died part way) is taken over, in one script, by the
  replica that finds it, which shows it again: showing is at least once, and the service makes
  a second showing add nothing (bot.services.submissions).
"""

from __future__ import annotations

import redis.asyncio as redis

from bot.store.plumbing import redis_errors

FOLLOWS_KEY = "{submissions}:follow"
SHOWING_KEY = "{submissions}:showing"
MAX_FOLLOWS = 5_000  # followed at once; past that, a new reclassify is not followed (logged)

# KEYS: follows, showing. ARGV: key, record, owner, lease ms. 1: claimed; 0: someone else did.
_CLAIM = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('HSET', KEYS[2], ARGV[1],
  cjson.encode({owner = ARGV[3], ['until'] = ms + tonumber(ARGV[4]), record = ARGV[2]}))
return 1
"""

# KEYS: follows. ARGV: key, record. The record rewritten only if the follow is still there: a
# claim (another replica) between a look and a write must not be undone by the write.
_UPDATE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 0
"""

# KEYS: showing. ARGV: owner, lease ms. Every record whose lease passed, taken over by `owner`:
# a flat list key, record, key, record...
_OVERDUE = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local taken = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local ok, held = pcall(cjson.decode, all[i + 1])
  if ok and type(held) == 'table' and tonumber(held['until']) and tonumber(held['until']) <= ms
  then
    held.owner = ARGV[1]
    held['until'] = ms + tonumber(ARGV[2])
    redis.call('HSET', KEYS[1], all[i], cjson.encode(held))
    table.insert(taken, all[i])
    table.insert(taken, held.record)
  elseif not ok or type(held) ~= 'table' then
    redis.call('HDEL', KEYS[1], all[i])
  end
end
return taken
"""


class FollowStore:
    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._claim = client.register_script(_CLAIM)
        self._overdue = client.register_script(_OVERDUE)
        self._update = client.register_script(_UPDATE)

    async def add(self, key: str, record: str) -> bool:
        """Keep `record` under `key`; False when too many are followed already."""
        with redis_errors():
            if int(await self.redis.hlen(FOLLOWS_KEY)) >= MAX_FOLLOWS:
                return False
            await self.redis.hset(FOLLOWS_KEY, key, record)
        return True

    async def all(self) -> dict[str, str]:
        with redis_errors():
            found = await self.redis.hgetall(FOLLOWS_KEY)
        return {_text(k): _text(v) for k, v in found.items()}

    async def update(self, key: str, record: str) -> None:
        """Rewrite a follow still held (one claimed meanwhile is not brought back)."""
        with redis_errors():
            await self._update(keys=[FOLLOWS_KEY], args=[key, record])

    async def drop(self, key: str) -> None:
        """Stop following `key` (unreadable, or too old), with nothing to show."""
        with redis_errors():
            await self.redis.hdel(FOLLOWS_KEY, key)

    async def claim(self, key: str, record: str, owner: str, seconds: float) -> bool:
        """Take the follow out to show it: True for exactly one caller, whose `record` (what
        to show) is kept under `owner` for `seconds`, until `shown`, in case it dies first."""
        with redis_errors():
            args: list[str | int] = [key, record, owner, _ms(seconds)]
            return bool(await self._claim(keys=[FOLLOWS_KEY, SHOWING_KEY], args=args))

    async def overdue(self, owner: str, seconds: float) -> dict[str, str]:
        """The records whose replica did not finish showing them in time (it died), each taken
        over by `owner` for `seconds`: key -> record, for `owner` to show again."""
        with redis_errors():
            flat = await self._overdue(keys=[SHOWING_KEY], args=[owner, _ms(seconds)])
        texts = [_text(x) for x in flat]
        return dict(zip(texts[::2], texts[1::2], strict=True))

    async def shown(self, key: str) -> None:
        """The outcome of `key` is on its cards and in its thread: nothing more to do."""
        with redis_errors():
            await self.redis.hdel(SHOWING_KEY, key)


def _ms(seconds: float) -> int:
    return max(int(seconds * 1000), 1)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
