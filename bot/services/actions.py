"""Acting on messages: which actions need a second person's approval, and doing the rest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.models import (
    BlockedSender,
    Destination,
    MessageDetails,
    MoveResult,
    PatternType,
    ReclassifyDisposition,
    ReleaseResult,
)
from bot.config import Settings


@dataclass(frozen=True)
class ApprovalNeeded:
    """The action must wait for an approver; `reason` names the rule that says so."""

    reason: str


class ActionService:
    def __init__(self, client: EmailSecurityClient, settings: Settings) -> None:
        self.client = client
        self.bulk_threshold = settings.bot_bulk_threshold
        self.guarded = frozenset(settings.bot_guarded_dispositions)

    def approval_needed(
        self, action: Literal["release", "move"], messages: Sequence[MessageDetails]
    ) -> ApprovalNeeded | None:
        """DESIGN.md "Policy and approvals": bulk (≥ BOT_BULK_THRESHOLD messages) or a release
        of a message whose disposition is guarded."""
        if len(messages) >= self.bulk_threshold:
            return ApprovalNeeded(
                f"it touches {len(messages)} messages (BOT_BULK_THRESHOLD is {self.bulk_threshold})"
            )
        guarded = sorted({m.final_disposition or "" for m in messages} & self.guarded)
        if action == "release" and guarded:
            return ApprovalNeeded(
                f"it releases a {'/'.join(guarded)} message (BOT_GUARDED_DISPOSITIONS)"
            )
        return None

    async def release(self, ids: Sequence[str]) -> list[ReleaseResult]:
        return await self.client.release(ids)

    async def move(self, ids: Sequence[str], folder: Destination) -> list[MoveResult]:
        return await self.client.move(ids, folder)

    async def reclassify(self, message_id: str, disposition: ReclassifyDisposition) -> None:
        await self.client.reclassify(message_id, disposition)

    async def block(
        self, pattern: str, pattern_type: PatternType, comment: str | None, actor: str
    ) -> BlockedSender:
        note = f"Blocked from Slack by {actor}" + (f": {comment}" if comment else "")
        return await self.client.block_sender(pattern, pattern_type, comments=note)


def block_pattern(message: MessageDetails, pattern_type: PatternType) -> str | None:
    """The sender address (EMAIL) or its domain (DOMAIN) of `message`, if it has one."""
    address = (message.from_ or message.envelope_from or "").strip().strip("<>").lower()
    if "@" not in address:
        return None
    return address if pattern_type == "EMAIL" else address.rsplit("@", 1)[1]
