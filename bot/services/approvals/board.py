"""What the approval service needs from the surface that shows requests: their card (which must
exist before anyone can approve), its redraws as the request moves, and the news of each step
(the Slack implementation is `bot.slack.approvals`)."""

from __future__ import annotations

from typing import Protocol

from bot.services.approvals.models import ApprovalEvent, ApprovalRequest, ExecutionReport


class ApprovalBoard(Protocol):
    async def post(self, request: ApprovalRequest) -> tuple[str, str]:
        """Post the request's card where it was asked for; returns (channel, ts). Raises when
        the card cannot be posted."""

    async def show(self, request: ApprovalRequest, totals: ExecutionReport | None) -> None:
        """Redraw the request's card in its current state (with its execution's totals so
        far). Never raises."""

    async def say(
        self,
        request: ApprovalRequest,
        event: ApprovalEvent,
        actor: str,
        totals: ExecutionReport | None = None,
    ) -> None:
        """Tell the request's thread and the people concerned what just happened."""
