"""The tenant's block list and protected domains, as Slack shows them (issue 16, item 3): the
blocked senders a page at a time, removing one (operators, audited), whether a message's sender
is blocked (for its card), and the protected domains, read-only (editing them stays in the
Cloudflare dashboard: a wrong change there stops the tenant's own mail)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.cloudflare import ApiError, EmailSecurityClient, NotFoundError
from bot.cloudflare.models import MessageDetails
from bot.cloudflare.settings_models import BlockedSender, ProtectedDomain
from bot.commands import MAX_FILTER, role_for
from bot.errors import NotFound
from bot.services.audit import AuditLog
from bot.services.blocking import envelope_sender
from bot.services.entries import EntryWords, named_entry, quoted
from bot.services.outcomes import MessageOutcome, Unblocked
from bot.services.paging import Page, read_key, searched_page
from bot.services.policy import Policy
from bot.services.ports import CardRef, Origin
from bot.services.showing import CardKeeper

log = logging.getLogger("bot.services.blocklist")

LOOKUP_PAGE = 50  # entries one card's check reads: one call, the address's domain searched
DOMAINS_READ = 30  # protected domains a list reads, as it shows them (a tenant has a handful)
UNREADABLE = "That page of blocked senders cannot be shown; run `blocked` again."
BLOCKED = EntryWords("blocked sender", "blocked senders", "blocked", "unblock")


BlockedPage = Page[BlockedSender]  # one page of blocked senders (paging.py)


@dataclass(frozen=True)
class Removed:
    """What `unblock` removed; `unaudited` when the audit trail could not record it."""

    entry: BlockedSender
    unaudited: bool = False


class BlocklistService:
    def __init__(
        self, *, email: EmailSecurityClient, policy: Policy, audit: AuditLog, cards: CardKeeper
    ) -> None:
        self.email = email
        self.policy = policy
        self.audit = audit
        self.cards = cards

    async def blocked(self, actor: str, text: str = "") -> BlockedPage:
        """The first page of blocked senders matching `text` (all of them without)."""
        await self.policy.require(actor, role_for("blocked"), "see the blocked senders")
        return await self._page(1, text.strip())

    async def more(self, actor: str, key: str) -> BlockedPage:
        """The page a "More" button names."""
        await self.policy.require(actor, role_for("blocked"), "see the blocked senders")
        return await self._page(*read_key(key, MAX_FILTER, UNREADABLE))

    async def _page(self, number: int, text: str) -> BlockedPage:
        return await searched_page(
            self.email.block_senders.page, number, text, order="created_at", direction="desc"
        )

    async def unblock(self, actor: str, target: str, card: CardRef | None = None) -> Removed:
        """Remove one blocked sender, named by its id or its exact pattern; audited. From a
        card's "Sender blocked" line (`card`), the card shows it, redrawn without the line."""
        await self.policy.require(actor, role_for("unblock"), "unblock senders")
        target = target.strip()
        entry = await self._entry(target)
        try:
            await self.email.delete_blocked_sender(entry.id)
        except NotFoundError:
            raise NotFound(
                entry.id, f"That blocked sender ({quoted(entry.id)}) was already removed."
            ) from None
        action = f"unblock {entry.pattern_type.lower()} {entry.pattern}"
        unaudited = await self.audit.record_done(
            actor=actor, action=action, outcome="unblocked", detail={"id": entry.id}
        )
        if card is not None:
            shown = Unblocked(actor=actor, pattern=entry.pattern, pattern_type=entry.pattern_type)
            origin = Origin(channel=card.channel, card=card)
            await self.cards.show_all(origin, [MessageOutcome(card.message_id, shown)])
        return Removed(entry, unaudited=unaudited)

    async def _entry(self, target: str) -> BlockedSender:
        return await named_entry(
            target, BLOCKED, by_id=self.email.block_senders.get,
            by_pattern=lambda pattern: self.email.list_blocked_senders(pattern=pattern),
        )  # fmt: skip

    async def sender_block(self, message: MessageDetails) -> BlockedSender | None:
        """The block list entry that names this message's envelope sender (its address, or its
        domain), for its card: one call, and None when it fails (the card shows without)."""
        address = envelope_sender(message)
        if address is None:
            return None
        domain = address.rsplit("@", 1)[1]
        try:
            page = await self.email.block_senders.page(1, LOOKUP_PAGE, search=domain)
        except (ApiError, ValueError) as exc:
            log.info("block list not checked for a card: %s", type(exc).__name__)
            return None
        for entry in page.items:
            pattern = entry.pattern.strip().lower()
            if not entry.is_regex and pattern in (address, domain):
                return entry
        return None

    async def domains(self, actor: str) -> tuple[list[ProtectedDomain], int]:
        """The first protected domains by name, and how many there are."""
        await self.policy.require(actor, role_for("domains"), "see the protected domains")
        page = await self.email.protected_domains.page(1, DOMAINS_READ, order="domain")
        total = page.total_count if page.total_count is not None else len(page.items)
        return list(page.items), max(total, len(page.items))
