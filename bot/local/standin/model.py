"""What the stand-in stores: messages, views, files, response URLs, triggers; and its errors."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

TEAM_ID = "T0LOCAL"
TEAM_NAME = "Local Workspace"
APP_ID = "A0LOCAL"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
BOT_NAME = "emailbot"

JsonObject = dict[str, Any]


class SlackError(Exception):
    """A Web API failure: `{"ok": false, "error": ...}` with HTTP 200 unless `status` says else."""

    def __init__(
        self,
        error: str,
        status: int = 200,
        *,
        headers: dict[str, str] | None = None,
        messages: list[str] | None = None,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.headers = headers or {}
        self.messages = messages or []

    def body(self) -> JsonObject:
        body: JsonObject = {"ok": False, "error": self.error}
        if self.messages:
            # Slack lists the offending fields twice: plainly and as response_metadata.
            body["errors"] = self.messages
            body["response_metadata"] = {"messages": [f"[ERROR] {m}" for m in self.messages]}
        return body


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Ids:
    """Slack-looking ids and message timestamps, unique and increasing within one stand-in."""

    def __init__(self) -> None:
        self._counters: dict[str, int] = {}
        self._last_micros = 0

    def new(self, prefix: str) -> str:
        count = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = count
        return f"{prefix}LOCAL{count:05d}"

    def ts(self) -> str:
        """`"1700000000.000100"`: wall-clock microseconds, strictly increasing, like Slack's."""
        micros = max(int(time.time() * 1_000_000), self._last_micros + 1)
        self._last_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def dm_channel(user: str) -> str:
    """The DM channel with a user: Slack answers a `D…` id when a user id is the channel."""
    return "D" + user[1:]


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[JsonObject]
    thread_ts: str | None = None
    user: str | None = BOT_USER_ID  # the author; for an ephemeral message, who sees it
    bot_id: str | None = BOT_ID
    ephemeral: bool = False
    edited: bool = False
    version: int = 1
    files: list[JsonObject] | None = None
    attachments: list[JsonObject] | None = None
    unfurl_links: bool | None = None
    unfurl_media: bool | None = None
    source: str = "chat.postMessage"
    metadata: JsonObject | None = None  # {"event_type", "event_payload"} (history.py)

    def to_hook(self) -> JsonObject:
        return {
            "channel": self.channel,
            "ts": self.ts,
            "thread_ts": self.thread_ts,
            "text": self.text,
            "blocks": self.blocks,
            "attachments": self.attachments,
            "user": self.user,
            "bot_id": self.bot_id,
            "files": self.files,
            "ephemeral": self.ephemeral,
            "edited": self.edited,
            "version": self.version,
            "unfurl_links": self.unfurl_links,
            "unfurl_media": self.unfurl_media,
            "source": self.source,
            "metadata": self.metadata,
        }

    def to_slack(self) -> JsonObject:
        """The `message` object of API answers (and of block_actions payloads)."""
        message: JsonObject = {"type": "message", "text": self.text, "ts": self.ts}
        message.update({"user": self.user, "team": TEAM_ID, "blocks": self.blocks})
        if self.bot_id:
            message["bot_id"] = self.bot_id
            message["app_id"] = APP_ID
        if self.thread_ts:
            message["thread_ts"] = self.thread_ts
        if self.files:
            message["files"] = self.files
        if self.attachments:
            message["attachments"] = self.attachments
        if self.edited:
            message["edited"] = {"user": self.user, "ts": self.ts}
        if self.metadata:
            message["metadata"] = self.metadata
        return message


@dataclass
class View:
    id: str
    body: JsonObject  # the view as the bot sent it, block ids filled in
    user: str | None
    hash: str
    external_id: str | None = None
    root_view_id: str | None = None
    previous_view_id: str | None = None

    def to_slack(self) -> JsonObject:
        view: JsonObject = {
            "id": self.id,
            "team_id": TEAM_ID,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "private_metadata": "",
            "callback_id": "",
            "external_id": self.external_id or "",
            "state": {"values": {}},
            "clear_on_close": False,
            "notify_on_close": False,
            **self.body,
        }
        view.update(
            hash=self.hash,
            root_view_id=self.root_view_id or self.id,
            previous_view_id=self.previous_view_id,
        )
        return view


@dataclass
class StoredFile:
    id: str
    filename: str
    length: int
    alt_txt: str | None = None
    title: str | None = None
    content: bytes | None = None
    completed: bool = False
    shares: dict[str, list[JsonObject]] = field(default_factory=dict)

    def to_slack(self) -> JsonObject:
        size = len(self.content) if self.content is not None else self.length
        name = quote(self.filename)
        return {
            "id": self.id,
            "name": self.filename,
            "title": self.title or self.filename,
            "size": size,
            "user": BOT_USER_ID,
            "mimetype": "application/octet-stream",
            # Slack's file object carries its URLs; they serve the bytes to whoever holds them
            # with a token, so the bot must never log them (tests/kit/logcheck.py looks).
            "url_private": f"https://files.slack.com/files-pri/{TEAM_ID}-{self.id}/{name}",
            "url_private_download": (
                f"https://files.slack.com/files-pri/{TEAM_ID}-{self.id}/download/{name}"
            ),
            "permalink": f"https://local.slack.com/files/{BOT_USER_ID}/{self.id}/{name}",
            "channels": sorted(self.shares),
            "shares": {"public": self.shares} if self.shares else {},
        }


@dataclass
class ResponseUrl:
    """A response_url issued with an interaction: where its answers go, how often it was used."""

    token: str
    issued_at: float
    channel: str | None = None
    user: str | None = None
    message_ts: str | None = None
    uses: int = 0


@dataclass
class Trigger:
    trigger_id: str
    user: str | None
    expires_at: float | None  # monotonic; None = never (--trigger-ttl 0)
    exchanged: bool = False
