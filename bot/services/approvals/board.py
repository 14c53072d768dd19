"""What the approval service needs from the surface that shows requests: their card (which must
exist before anyone can approve), its redraws as the request moves, and the news of each step
(the Slack implementation is `bot.slack.approvals`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from bot.services.approvals.jobstate import JobState
from bot.services.approvals.models import (
    ApprovalEvent,
    ApprovalRequest,
    ChunkResult,
    ExecutionReport,
    MessageSummary,
)


class MessageCards(Protocol):
    async def settled(self, request: ApprovalRequest, results: Sequence[ChunkResult]) -> None:
        """A request ran: every card of each message it acted on shows what happened."""

    async def job_ended(self, request: ApprovalRequest, job: JobState) -> None:
        """The bulk job of a request approved as a query ended: every card of each message the
        request holds shows what the job did to it. May be called again for the same end (a
        run resumed after a replica died part way) without adding a line twice."""

    async def ended(self, request: ApprovalRequest, actor: str) -> None:
        """A request ended without running anything (rejected, cancelled, expired, refused by
        the bot): every card of each of its messages says so."""


class ApprovalBoard(Protocol):
    async def reserve(self, channel: str) -> tuple[str, str]:
        """Post the place of a request's card in `channel` (drawn by `show` once the request
        is stored); returns (channel, ts). Raises when nothing can be posted there."""

    async def retract(self, channel: str, ts: str) -> None:
        """Say on a reserved place that the request could not be made. Never raises."""

    async def list_messages(
        self, request: ApprovalRequest, messages: Sequence[MessageSummary]
    ) -> None:
        """Put every message of the request in its card's thread when the card cannot show
        them all."""

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

    async def say_once(
        self,
        request: ApprovalRequest,
        event: ApprovalEvent,
        totals: ExecutionReport | None,
        first_telling: Callable[[], Awaitable[bool]],
    ) -> None:
        """`say` the bot's `event` so that it may be redone after a replica died part way: the
        thread is told when `first_telling()`, asked just before, says it was not yet, or else
        when the thread does not have the line (its teller died before Slack took it)."""
