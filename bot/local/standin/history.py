"""Message metadata, and reading a channel back: `conversations.history` and
`conversations.replies`, as Slack answers them.

- `metadata` on chat.postMessage is `{"event_type": "...", "event_payload": {...}}`, as a JSON
  object or a JSON string (a form post): text that is not JSON answers
  `invalid_metadata_format`, JSON of another shape `invalid_metadata_schema`. An event type of
  anything but letters, digits and underscores is dropped without a word, metadata and all,
  as Slack does (slackapi/bolt-python#863: `slack.post-prompt` posted, with no metadata). The
  posted message carries it, and history shows it only to a caller that asks for it with
  `include_all_metadata`.
- History lists a channel's messages newest first (thread replies only in
  `conversations.replies`, ephemeral ones never), between `oldest` and `latest` (exclusive
  unless `inclusive`), `limit` at a time (default 100, at most 999) with `has_more` and a
  `response_metadata.next_cursor`. Replies list a thread's parent, then its replies, oldest
  first (default limit 1000); an unknown thread answers `thread_not_found`.
- A channel the bot is not in answers as a post there would (`not_in_channel`, or
  `channel_not_found` for one it cannot see): membership is `members.py`'s.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from bot.local.standin.model import JsonObject, Message, SlackError
from bot.local.standin.state import Standin

EVENT_TYPE = re.compile(r"^[A-Za-z0-9_]+$")
HISTORY_LIMIT = (100, 999)  # default, most
REPLIES_LIMIT = (1000, 1000)


class Call(Protocol):
    """The arguments of a call (`webapi.Call`, which imports this module)."""

    def text(self, name: str) -> str | None: ...

    def need(self, name: str, error: str = ...) -> str: ...

    def flag(self, name: str) -> bool | None: ...


def parse_metadata(raw: Any) -> JsonObject | None:
    """The `metadata` argument of a post, checked as Slack checks it (None when not given)."""
    if raw is None or raw == "":
        return None
    value = raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError:
            raise SlackError("invalid_metadata_format") from None
    if not isinstance(value, dict):
        raise SlackError("invalid_metadata_format")
    event_type, payload = value.get("event_type"), value.get("event_payload")
    if not isinstance(event_type, str) or not event_type or not isinstance(payload, dict):
        raise SlackError("invalid_metadata_schema")
    if not EVENT_TYPE.match(event_type):
        return None
    return {"event_type": event_type, "event_payload": payload}


def conversations_history(standin: Standin, call: Call) -> JsonObject:
    channel = _readable(standin, call)
    found = [
        m
        for m in standin.messages.values()
        if m.channel == channel and not m.ephemeral and m.thread_ts in (None, m.ts)
    ]
    found = sorted(_between(found, call), key=lambda m: float(m.ts), reverse=True)
    return _page(found, call, HISTORY_LIMIT)


def conversations_replies(standin: Standin, call: Call) -> JsonObject:
    channel = _readable(standin, call)
    thread = call.need("ts", "thread_not_found")
    parent = standin.messages.get((channel, thread))
    if parent is None or parent.ephemeral:
        raise SlackError("thread_not_found")
    replies = [
        m
        for m in standin.messages.values()
        if m.channel == channel and m.thread_ts == thread and m.ts != thread and not m.ephemeral
    ]
    found = [parent, *sorted(_between(replies, call), key=lambda m: float(m.ts))]
    return _page(found, call, REPLIES_LIMIT)


def _readable(standin: Standin, call: Call) -> str:
    channel = call.need("channel", "channel_not_found")
    standin.members.postable(channel)  # the bot reads only where it is (not_in_channel…)
    return channel


def _between(messages: Sequence[Message], call: Call) -> list[Message]:
    oldest, latest = _ts(call, "oldest"), _ts(call, "latest")
    inclusive = bool(call.flag("inclusive"))

    def inside(message: Message) -> bool:
        at = float(message.ts)
        if oldest is not None and (at < oldest or (at == oldest and not inclusive)):
            return False
        return latest is None or at < latest or (at == latest and inclusive)

    return [m for m in messages if inside(m)]


def _ts(call: Call, name: str) -> float | None:
    value = call.text(name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise SlackError("invalid_ts_" + name) from None


def _page(found: list[Message], call: Call, limits: tuple[int, int]) -> JsonObject:
    default, most = limits
    limit = call.text("limit")
    size = default if limit is None or not limit.isdigit() or int(limit) < 1 else int(limit)
    size = min(size, most)
    start = _offset(call.text("cursor"))
    shown = found[start : start + size]
    more = start + size < len(found)
    metadata = bool(call.flag("include_all_metadata"))
    return {
        "messages": [_listed(m, metadata) for m in shown],
        "has_more": more,
        "pin_count": 0,
        "response_metadata": {"next_cursor": _cursor(start + size) if more else ""},
    }


def _listed(message: Message, metadata: bool) -> JsonObject:
    listed = message.to_slack()
    if not metadata:
        listed.pop("metadata", None)
    return listed


def _cursor(offset: int) -> str:
    return base64.b64encode(f"next_ts:{offset}".encode()).decode()


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        kind, _, number = base64.b64decode(cursor, validate=True).decode().partition(":")
        if kind != "next_ts" or not number.isdigit():
            raise ValueError(cursor)
    except ValueError:
        raise SlackError("invalid_cursor") from None
    return int(number)


METHODS: dict[str, Callable[[Standin, Any], JsonObject]] = {
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
}
