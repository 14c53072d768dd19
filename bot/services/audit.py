"""The audit trail (DESIGN.md "Audit"): every request, approval, rejection, cancellation,
expiry, execution and result, appended to a Redis stream.

Entries carry who, what, which messages, the request and its digest, the outcome and the time;
never tokens, keys or message bodies. A bulk entry keeps the first MAX_IDS ids and the count
(the approval record keeps the full list for 30 days). The stream is capped (approximately)
at `maxlen` entries.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from bot.services.audit_entry import AuditEntry
from bot.store import redis_errors

MAX_IDS = 100  # ids kept in one entry
SCAN_BACK = 5000  # entries a filtered read looks through at most
PAGE = 500

Detail = str | Mapping[str, Any] | None


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


def _mentions(entry: AuditEntry, message_id: str) -> bool:
    """The entry names the message: its investigate id, or a bare postfix id it starts with."""
    return any(i == message_id or i.startswith(message_id + "-") for i in entry.ids)


class AuditLog:
    def __init__(self, redis: aioredis.Redis, stream: str = "audit", maxlen: int = 100_000) -> None:
        self.redis = redis
        self.stream = stream
        self.maxlen = maxlen

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
        }
        with redis_errors():
            entry_id = await self.redis.xadd(
                self.stream,
                fields,  # type: ignore[arg-type]  # dict[str, str] is what it takes
                maxlen=self.maxlen,
                approximate=True,
            )
        return _text(entry_id)

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
