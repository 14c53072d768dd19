"""What every approvals use case is given, and the few steps they share: `ApprovalService`
(service.py) is made of the use cases asking.py, deciding.py, running.py and reading.py, each
a mixin over this base, so that each module holds one part of the story and the service keeps
one public face for the handlers and the other services.

The board and the message cards are given after construction (the composition root builds the
Slack boards from the service), hence the property that fails loudly without one.
"""

from __future__ import annotations

import asyncio

from bot.cloudflare import EmailSecurityClient
from bot.config import Settings
from bot.services.approvals.board import ApprovalBoard, MessageCards
from bot.services.approvals.jobstore import JobStore
from bot.services.approvals.models import ApprovalRequest, ApprovalState, ExecutionReport, report
from bot.services.approvals.store import ApprovalStore
from bot.services.audit import AuditLog
from bot.services.policy import Policy

JOB_POLL_MAX = 8.0  # seconds between two polls of a bulk job, at most (bulkjob.py)


class ApprovalBase:
    def __init__(
        self,
        *,
        store: ApprovalStore,
        audit: AuditLog,
        policy: Policy,
        email: EmailSecurityClient,
        settings: Settings,
        owner: str,
        stopping: asyncio.Event,
        board: ApprovalBoard | None = None,
        cards: MessageCards | None = None,
    ) -> None:
        self.store = store
        self.audit = audit
        self.policy = policy
        self.email = email
        self.settings = settings
        self.owner = owner
        self.stopping = stopping
        self.guarded = frozenset(settings.bot_guarded_dispositions)
        self.lease_seconds = settings.bot_approval_lease_seconds
        self._board = board
        self.cards = cards
        self.jobs = JobStore(store.redis)
        self.job_poll_max = JOB_POLL_MAX

    @property
    def board(self) -> ApprovalBoard:
        if self._board is None:
            raise RuntimeError("ApprovalService has no board: the composition root gives one")
        return self._board

    @board.setter
    def board(self, board: ApprovalBoard) -> None:
        self._board = board

    async def _cards_ended(self, made: ApprovalRequest, actor: str) -> None:
        """The cards of the request's messages say it ended unrun (one may say it was asked)."""
        if self.cards is not None:
            await self.cards.ended(made, actor)

    async def _totals(self, made: ApprovalRequest) -> ExecutionReport | None:
        """The execution's totals so far, computed once for the card and the thread."""
        if not made.chunks_done and made.state != ApprovalState.DONE:
            return None
        return report(await self.store.chunks(made.id))
