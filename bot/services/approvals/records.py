"""The Redis hash form of an approval request: fields to write, and a request read back.

One codec, shared by the scripts (which answer with flat HGETALL lists) and the store (which
reads hashes with redis-py), so the two can never disagree on a field. Lists are stored as
compact JSON, times as ISO 8601, and `expires_ts` as epoch seconds for the scripts' expiry check.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from bot.services.approvals.models import CHUNK_SIZE, ApprovalRequest, FrozenSearch

log = logging.getLogger("bot.approvals")

Raw = dict[str, bytes]  # a stored hash: field -> value exactly as stored


def as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def from_flat(flat: Sequence[bytes | str]) -> Raw:
    """A HGETALL answer from Lua (a flat list) as {field: bytes}."""
    items = list(flat)
    return {as_text(items[i]): _bytes(items[i + 1]) for i in range(0, len(items) - 1, 2)}


def from_hash(answer: Mapping[Any, Any]) -> Raw:
    """A HGETALL answer of redis-py (a dict, bytes or decoded) as {field: bytes}."""
    return {as_text(k): _bytes(v) for k, v in answer.items()}


def fields(made: ApprovalRequest) -> dict[str, str]:
    """The hash of a new request (no approvals, no chunk stored yet)."""

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
        "guarded": compact(made.guarded),
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
        # "": no search (the approve script fingerprints it either way; see scripts.py)
        "search": compact(made.search.model_dump()) if made.search is not None else "",
    }


def _parse(raw: Raw) -> ApprovalRequest:
    def text(name: str) -> str | None:
        value = raw.get(name)
        return value.decode() if value else None

    def number(name: str, default: int = 0) -> int:
        value = text(name)
        return int(value) if value else default

    search = text("search")
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
        guarded=json.loads(text("guarded") or "{}"),
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
        search=FrozenSearch.model_validate_json(search) if search else None,
    )


def parse(raw: Raw, request_id: str) -> ApprovalRequest | None:
    """The request in `raw`; None (logged) when the record cannot be read as one."""
    try:
        return _parse(raw)
    except (ValueError, ValidationError):
        log.warning(
            "approval request %s has an unreadable record; treating it as missing", request_id
        )
        return None
