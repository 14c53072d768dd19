"""The one-time move of the keys that changed names for Redis Cluster support.

On a Redis Cluster, the keys a script touches together must live in one slot, so the approvals'
and the alerts' keys took a hash tag: `approval:<id>…` became `{approvals}:request:<id>…`,
`approvals:<index>` became `{approvals}:<index>`, `alerts:<name>` became `{alerts}:<name>`,
`submissions:follow` became `{submissions}:follow` (the audit stream kept its name). A bot
started on a single Redis moves what an earlier version left under the old names before it
serves (`move_old_keys`), so pending and executing requests, the alert watermark, the seen sets
and the followed submissions carry over. The old names never existed on a cluster: the
versions that wrote them could not run there.

Each key moves in one script: renamed unless the new name already exists (then the old one is
left as it is, and the log says so), with the campaign record keys held in the alerts' dirty
sets renamed too. Running it twice, or on two replicas at once, moves each key once.
"""

from __future__ import annotations

import logging

import redis.asyncio as aioredis

from bot.store.plumbing import redis_errors

log = logging.getLogger("bot.store")

# Old prefix -> new prefix, most specific first (`approvals:` before `approval:`).
MOVES: tuple[tuple[str, str], ...] = (
    ("approvals:", "{approvals}:"),
    ("approval:", "{approvals}:request:"),
    ("alerts:", "{alerts}:"),
    ("submissions:follow", "{submissions}:follow"),
)
DIRTY = "alerts:dirty:"  # sets whose members are campaign record keys (renamed with them)
SCAN_COUNT = 500

# KEYS: old, new. ARGV: the old and the new prefix of members to rename in a set ('' = none).
# 1: moved; 0: gone meanwhile (another replica moved it); -1: the new name is taken.
_MOVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
redis.call('RENAME', KEYS[1], KEYS[2])
if ARGV[1] ~= '' then
  for _, member in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    if string.sub(member, 1, #ARGV[1]) == ARGV[1] then
      redis.call('SREM', KEYS[2], member)
      redis.call('SADD', KEYS[2], ARGV[2] .. string.sub(member, #ARGV[1] + 1))
    end
  end
end
return 1
"""


def new_name(old: str) -> str | None:
    """The name `old` has now, or None when it did not change."""
    for before, after in MOVES:
        if old.startswith(before):
            return after + old[len(before) :]
    return None


async def move_old_keys(client: aioredis.Redis) -> int:
    """Move every key under an old name to its new one (on a single Redis); how many moved.
    Raises StoreUnavailable when Redis fails."""
    script = client.register_script(_MOVE)
    moved = 0
    with redis_errors():
        for before, _ in MOVES:
            async for raw in client.scan_iter(match=before + "*", count=SCAN_COUNT):
                old = raw.decode() if isinstance(raw, bytes) else str(raw)
                new = new_name(old)
                if new is None:
                    continue
                members = ("alerts:campaign:", "{alerts}:campaign:")
                args = members if old.startswith(DIRTY) else ("", "")
                done = int(await script(keys=[old, new], args=list(args)))
                if done < 0:
                    log.warning("Redis key %s not moved to %s: that name is taken", old, new)
                moved += max(done, 0)
    if moved:
        log.info("moved %d Redis key(s) to their Redis Cluster names (bot/store/keymove.py)", moved)
    return moved
