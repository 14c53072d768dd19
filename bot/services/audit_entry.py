"""One entry of the audit trail, as read back: plain data (the renderers show it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditEntry(BaseModel):
    id: str  # the stream entry id ("<ms>-<seq>")
    at: datetime
    actor: str  # a Slack user id, or "bot" for the bot's own steps (expiry, execution)
    action: str  # e.g. "request release", "approve move", "execute release", "result move"
    outcome: str
    ids: list[str] = []  # the first MAX_IDS message ids
    count: int = 0  # how many messages in all
    request_id: str | None = None
    digest: str | None = None
    detail: str | dict[str, Any] | None = None

    @property
    def truncated(self) -> bool:
        return self.count > len(self.ids)
