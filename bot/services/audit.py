"""The audit trail (DESIGN.md "Audit"): every request, approval, rejection, cancellation,
expiry, execution and result, appended to a Redis stream.

Entries carry who, what, which messages, the request and its digest, the outcome and the time;
never tokens, keys or message bodies. A bulk entry keeps the first MAX_IDS ids and the count
(the approval record keeps the full list for 30 days). The stream is capped (approximately)
at `maxlen` entries.

The entries form a hash chain sealed with the bot's integrity key (`audit_chain` says how and
what `verify` accepts). An entry is sealed here, then appended by a script that checks the
stream's last entry is still the one it links to; when another replica appended first, the
script answers with the new last entry and the entry is sealed again. So replicas appending at
once still form one chain, and the key never leaves the bot. A replica that lost such a race
gets the next turn (others wait for it, at most TURN_MS), so a busy replica cannot starve a
slower one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from bot.errors import StoreUnavailable
from bot.integrity import IntegrityKey
from bot.services.audit_chain import ChainWalk, TrailCheck, seal
from bot.services.audit_entry import AuditEntry
from bot.store import redis_errors

MAX_IDS = 100  # ids kept in one entry
SCAN_BACK = 5000  # entries a filtered read looks through at most
PAGE = 500
APPEND_SECONDS = 10  # past this, a crowd of replicas kept an entry out: give up loudly
TURN_MS = 200  # how long a replica that lost a race keeps the next turn, unless it takes it

# KEYS: stream, turn. ARGV: the hash and seq the entry links to, maxlen, the caller's token,
# then field, value, ... Answers {1, id} when appended; {0, hash, seq} of the stream's last
# entry when the entry does not link to it (the caller now has the next turn, unless another
# caller had it); {2} while another caller that lost a race has its turn.
_APPEND = """
local turn = redis.call('GET', KEYS[2])
if turn and turn ~= ARGV[4] then return {2} end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local hash, seq = '', '0'
if last[1] then
  local f = last[1][2]
  for i = 1, #f, 2 do
    if f[i] == 'hash' then hash = f[i + 1] elseif f[i] == 'seq' then seq = f[i + 1] end
  end
end
if hash ~= ARGV[1] or seq ~= ARGV[2] then
  redis.call('SET', KEYS[2], ARGV[4], 'NX', 'PX', ARGV[5])
  return {0, hash, seq}
end
if turn then redis.call('DEL', KEYS[2]) end
return {1, redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', unpack(ARGV, 6))}
"""

Detail = str | Mapping[str, Any] | None


log = logging.getLogger("bot.audit")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry(entry_id: bytes | str, fields: Mapping[Any, Any]) -> AuditEntry:
    data = {_text(k): _text(v) for k, v in fields.items()}
    detail = json.loads(data["detail"]) if data.get("detail") else None
    return AuditEntry(
        id=_text(entry_id),
        at=datetime.fromisoformat(data["at"]),
        actor=data.get("actor", ""),
        action=data.get("action", ""),
        outcome=data.get("outcome", ""),
        ids=json.loads(data.get("ids") or "[]"),
        count=int(data.get("count") or 0),
        request_id=data.get("request_id") or None,
        digest=data.get("digest") or None,
        detail=detail,
    )


def _stream_id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _mentions(entry: AuditEntry, message_id: str) -> bool:
    """The entry names the message: its investigate id, or a bare postfix id it starts with."""
    return any(i == message_id or i.startswith(message_id + "-") for i in entry.ids)


class AuditLog:
    def __init__(
        self,
        redis: aioredis.Redis,
        key: IntegrityKey,
        stream: str = "audit",
        maxlen: int = 100_000,
    ) -> None:
        self.redis = redis
        self.key = key
        self.stream = stream
        # `{audit}:turn` hashes as `audit` does: on a Redis Cluster the append script's two keys
        # share a slot, and the stream keeps its name.
        self.turn = "{" + stream + "}:turn"
        self.maxlen = maxlen
        self._append = redis.register_script(_APPEND)
        self._token = secrets.token_hex(8)  # this log's claim on the next turn
        self._last = ("", "0")  # hash, seq of the last entry as last seen (a guess: checked)
        self._appending = asyncio.Lock()  # this process's entries queue, not race each other

    async def record(
        self,
        *,
        actor: str,
        action: str,
        ids: Iterable[str] = (),
        outcome: str,
        request_id: str | None = None,
        digest: str | None = None,
        detail: Detail = None,
    ) -> str:
        """Append one entry; returns its stream id."""
        every = list(ids)
        fields: dict[str, str] = {
            "at": datetime.now(UTC).isoformat(),
            "actor": actor,
            "action": action,
            "outcome": outcome,
            "ids": json.dumps(every[:MAX_IDS], separators=(",", ":")),
            "count": str(len(every)),
            "request_id": request_id or "",
            "digest": digest or "",
            "detail": "" if detail is None else json.dumps(detail, separators=(",", ":")),
            "key": self.key.key_id,
        }
        async with self._appending:
            return await self._append_chained(fields)

    async def record_done(
        self,
        *,
        actor: str,
        action: str,
        ids: Iterable[str] = (),
        outcome: str,
        detail: Detail = None,
    ) -> bool:
        """Record an act already done: it cannot be undone, so Redis being down is logged and
        answered True (not recorded, for the person to be told), never raised."""
        try:
            await self.record(actor=actor, action=action, ids=ids, outcome=outcome, detail=detail)
        except StoreUnavailable:
            log.warning("%s by %s done but not audited: Redis unavailable", action, actor)
            return True
        return False

    async def _append_chained(self, fields: dict[str, str]) -> str:
        deadline = time.monotonic() + APPEND_SECONDS
        while time.monotonic() < deadline:
            prev, seq = self._last
            fields["prev"] = prev
            fields["seq"] = str(int(seq) + 1 if seq.isdigit() else 1)
            fields["hash"] = seal(self.key, fields)
            args = [prev, seq, str(self.maxlen), self._token, str(TURN_MS)]
            for name, value in fields.items():
                args += [name, value]
            with redis_errors():
                answer = await self._append(keys=[self.stream, self.turn], args=args)
            if int(answer[0]) == 1:
                self._last = (fields["hash"], fields["seq"])
                return _text(answer[1])
            if int(answer[0]) == 0:
                self._last = (_text(answer[1]), _text(answer[2]))  # and try again at once
            else:  # another replica's turn: it appends within a round trip or two
                await asyncio.sleep(random.uniform(0.001, 0.003))
        raise RuntimeError(f"could not append to the audit chain in {APPEND_SECONDS} s")

    async def verify(self) -> TrailCheck:
        """Walk the whole stream, oldest first, a page at a time, checking every entry's seal
        and link (bot.services.audit_chain); stops at the first break."""
        with redis_errors():
            length = int(await self.redis.xlen(self.stream))
        walk = ChainWalk(self.key, capped=length >= self.maxlen)
        after = "-"
        while True:
            with redis_errors():
                page: Any = await self.redis.xrange(self.stream, min=after, count=PAGE)
            for entry_id, raw in page:
                fields = {_text(k): _text(v) for k, v in raw.items()}
                if not walk.step(_text(entry_id), fields) and not await self._trimmed_meanwhile(
                    walk, _text(entry_id), fields
                ):
                    return walk.result()
            if len(page) < PAGE:
                return walk.result()
            after = "(" + _text(page[-1][0])

    async def _trimmed_meanwhile(
        self, walk: ChainWalk, entry_id: str, fields: dict[str, str]
    ) -> bool:
        """After a broken link: True (and the entry walked afresh) when the entry before it
        was trimmed by the cap while the walk went on, which is no break."""
        if walk.broken is None or walk.broken.problem != "unlinked" or walk.broken.before is None:
            return False
        with redis_errors():
            first: Any = await self.redis.xrange(self.stream, count=1)
        if not first or _stream_id(_text(first[0][0])) <= _stream_id(walk.broken.before):
            return False  # the entry before is still there (or the stream is gone): a break
        walk.broken = None
        return walk.step(entry_id, fields, trimmed_before=True)

    async def recent(
        self, limit: int = 20, *, message_id: str | None = None, request_id: str | None = None
    ) -> list[AuditEntry]:
        """The newest entries first; with a filter, those naming the message / the request,
        among the last SCAN_BACK entries."""
        limit = max(limit, 1)
        if message_id is None and request_id is None:
            with redis_errors():
                latest: Any = await self.redis.xrevrange(self.stream, count=limit)
            return [_entry(i, f) for i, f in latest]
        found: list[AuditEntry] = []
        newest = "+"
        scanned = 0
        while scanned < SCAN_BACK:
            with redis_errors():
                page: Any = await self.redis.xrevrange(self.stream, max=newest, count=PAGE)
            for entry_id, fields in page:
                entry = _entry(entry_id, fields)
                if (request_id is None or entry.request_id == request_id) and (
                    message_id is None or _mentions(entry, message_id)
                ):
                    found.append(entry)
                    if len(found) >= limit:
                        return found
            scanned += len(page)
            if len(page) < PAGE:
                break
            newest = "(" + _text(page[-1][0])
        return found
