"""Reading the approvals and their trail: what waits for whom (`/email approvals`, the App
Home), the audit trail of a request or a message (`/email audit [id]`) and the check of the
audit chain (`/email audit verify`)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.commands import role_for
from bot.errors import StoreUnavailable
from bot.roles import Role
from bot.services.approvals.base import ApprovalBase
from bot.services.approvals.models import ApprovalRequest
from bot.services.audit_chain import TrailCheck
from bot.services.audit_entry import AuditEntry


@dataclass(frozen=True)
class Overview:
    """What one person sees of the approvals: their roles, what waits for their approval,
    their own pending requests, and what ended recently."""

    roles: list[Role]
    waiting: list[ApprovalRequest]
    mine: list[ApprovalRequest]
    recent: list[ApprovalRequest]


class Reading(ApprovalBase):
    async def pending_for(self, actor: str) -> Overview:
        """`/email approvals`: what waits for `actor` and their own requests."""
        await self.policy.require(actor, role_for("approvals"), "see approval requests")
        return await self._overview(actor, await self.policy.roles(actor))

    async def home(self, actor: str) -> Overview:
        """The App Home: like `pending_for`, for anyone (it shows their roles, maybe none), and
        empty lists when Redis is down."""
        roles = await self.policy.roles(actor)
        try:
            return await self._overview(actor, roles)
        except StoreUnavailable:
            return Overview(roles=roles, waiting=[], mine=[], recent=[])

    async def _overview(self, actor: str, roles: list[Role]) -> Overview:
        pending = await self.store.pending()
        seen = {r.id for r in pending}
        recent = [r for r in await self.store.recent(limit=10) if r.id not in seen]
        waiting = [
            r for r in pending if r.requester != actor and actor not in r.approvers
        ] if Role.APPROVER in roles else []  # fmt: skip
        mine = [r for r in pending if r.requester == actor]
        return Overview(roles=roles, waiting=waiting, mine=mine, recent=recent)

    async def trail(self, actor: str, subject: str | None) -> list[AuditEntry]:
        """`/email audit [id]`: recent entries, for one approval request or one message."""
        await self.policy.require(actor, role_for("audit"), "read the audit trail")
        if subject is None:
            return await self.audit.recent(limit=20)
        if await self.store.get(subject) is not None:
            return await self.audit.recent(limit=20, request_id=subject)
        found = await self.audit.recent(limit=20, message_id=subject)
        # A request's record is kept 30 days, its audit entries longer.
        return found or await self.audit.recent(limit=20, request_id=subject)

    async def check_trail(self, actor: str) -> TrailCheck:
        """`/email audit verify`: walk the audit chain; the check itself is audited."""
        await self.policy.require(actor, role_for("audit"), "verify the audit trail")
        check = await self.audit.verify()
        broken = check.broken
        await self.audit.record(
            actor=actor, action="verify audit", outcome="intact" if broken is None else "broken",
            detail={"checked": check.checked, "oldest": check.oldest}
            if broken is None else {"checked": check.checked, "broken_at": broken.entry_id,
                                    "problem": broken.problem},
        )  # fmt: skip
        return check
