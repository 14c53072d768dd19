"""The VIP list (the impersonation registry: the people whose names impostors put on outside
mail) as Slack shows it (issue 16, item 3): a page at a time, adding one and removing one
(operators, audited). An entry synced from the directory (Microsoft 365, Google) belongs to the
directory: the bot refuses to remove it and says where to change it instead."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.cloudflare import EmailSecurityClient, NotFoundError
from bot.cloudflare.settings_models import ImpersonationEntry, NewImpersonationEntry
from bot.commands import role_for
from bot.errors import InvalidInput, NotFound, Refused
from bot.report_commands import MAX_VIP_FILTER
from bot.services.audit import AuditLog
from bot.services.paging import Page, read_key, searched_page
from bot.services.policy import Policy

log = logging.getLogger("bot.services.vip")

UNREADABLE = "That page of the VIP list cannot be shown; run `vip` again."
VipPage = Page[ImpersonationEntry]  # one page of the VIP list (paging.py)


@dataclass(frozen=True)
class VipChange:
    """An entry added or removed; `unaudited` when the audit trail could not record it."""

    entry: ImpersonationEntry
    unaudited: bool = False


class VipService:
    def __init__(self, *, email: EmailSecurityClient, policy: Policy, audit: AuditLog) -> None:
        self.email = email
        self.policy = policy
        self.audit = audit

    async def listing(self, actor: str, text: str = "") -> VipPage:
        """The first page of the VIP list (entries whose name, address or note hold `text`)."""
        await self.policy.require(actor, role_for("vip"), "see the VIP list")
        return await self._page(1, text.strip())

    async def more(self, actor: str, key: str) -> VipPage:
        await self.policy.require(actor, role_for("vip"), "see the VIP list")
        return await self._page(*read_key(key, MAX_VIP_FILTER, UNREADABLE))

    async def _page(self, number: int, text: str) -> VipPage:
        return await searched_page(
            self.email.impersonation_registry.page, number, text, order="name", direction="asc"
        )

    async def may_add(self, actor: str) -> None:
        """Refused unless `actor` may edit the VIP list: checked before the confirmation."""
        await self.policy.require(actor, role_for("vip add"), "change the VIP list")

    async def add(self, actor: str, email: str, name: str) -> VipChange:
        """Add a person (confirmed first: `may_add`, then the person's click)."""
        await self.may_add(actor)
        existing = await self.email.impersonation_registry.list(search=email)
        if any(e.email.lower() == email.lower() and not e.is_email_regex for e in existing):
            raise InvalidInput(
                f"`{email[:120]}` is already on the VIP list; `vip {email[:80]}` shows it."
            )
        entry = await self.email.impersonation_registry.create(
            NewImpersonationEntry(name=name, email=email, comments=f"Added from Slack by {actor}")
        )
        unaudited = await self._audit(actor, f"vip add {entry.email}", "added", entry)
        return VipChange(entry, unaudited)

    async def remove(self, actor: str, entry_id: str) -> VipChange:
        """Remove one entry added by hand (a synced one is the directory's: refused)."""
        await self.policy.require(actor, role_for("vip add"), "change the VIP list")
        try:
            entry = await self.email.impersonation_registry.get(entry_id)
        except NotFoundError:
            raise NotFound(
                entry_id, "That VIP entry was already removed; `vip` lists them."
            ) from None
        directory = entry.synced_from
        if directory is not None:
            raise Refused(
                f"That entry is synced from {directory}: the directory owns it, so it cannot "
                "be removed here. Change it in the directory (or its sync settings in the "
                "Cloudflare dashboard)."
            )
        try:
            await self.email.impersonation_registry.delete(entry.id)
        except NotFoundError:
            raise NotFound(
                entry_id, "That VIP entry was already removed; `vip` lists them."
            ) from None
        unaudited = await self._audit(actor, f"vip remove {entry.email}", "removed", entry)
        return VipChange(entry, unaudited)

    async def _audit(
        self, actor: str, action: str, outcome: str, entry: ImpersonationEntry
    ) -> bool:
        return await self.audit.record_done(
            actor=actor, action=action, outcome=outcome,
            detail={"id": entry.id, "name": entry.name[:200]},
        )  # fmt: skip
