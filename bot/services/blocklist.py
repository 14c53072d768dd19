"""The tenant's block list and protected domains, as Slack shows them (issue 16, item 3): the
blocked senders a page at a time, removing one (operators, audited), whether a message's sender
is blocked (for its card), and the protected domains, read-only (editing them stays in the
Cloudflare dashboard: a wrong change there stops the tenant's own mail)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from bot.cloudflare import ApiError, EmailSecurityClient, NotFoundError
from bot.cloudflare.models import MessageDetails
from bot.cloudflare.settings_models import BlockedSender, ProtectedDomain
from bot.commands import BLOCKED_PAGE, MAX_FILTER, role_for
from bot.errors import InvalidInput, NotFound
from bot.services.audit import AuditLog
from bot.services.blocking import envelope_sender
from bot.services.outcomes import MessageOutcome, Unblocked
from bot.services.policy import Policy
from bot.services.ports import CardRef, Origin
from bot.services.showing import CardKeeper

log = logging.getLogger("bot.services.blocklist")

# The API's ids of settings entries are UUIDs; anything else given to `unblock` is a pattern.
ENTRY_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
LOOKUP_PAGE = 50  # entries one card's check reads: one call, the address's domain searched
DOMAINS_READ = 30  # protected domains a list reads, as it shows them (a tenant has a handful)


@dataclass(frozen=True)
class BlockedPage:
    """One page of blocked senders: `text` is what they were filtered by ("" for all);
    `more` the value of the next page's button (None on the last page)."""

    entries: list[BlockedSender]
    text: str
    shown_before: int
    total: int | None
    more: str | None


@dataclass(frozen=True)
class Removed:
    """What `unblock` removed; `unaudited` when the audit trail could not record it."""

    entry: BlockedSender
    unaudited: bool = False


def page_key(page: int, text: str) -> str:
    """The value of a "More" button: the page to show and the filter (no Redis needed)."""
    return f"{page}:{text}"


def _read_key(key: str) -> tuple[int, str]:
    number, _, text = key.partition(":")
    if not number.isdigit() or not 1 <= int(number) <= 1000 or len(text) > MAX_FILTER:
        raise InvalidInput("That page of blocked senders cannot be shown; run `blocked` again.")
    return int(number), text


def quoted(text: str) -> str:
    """A person's input in our sentence: a code span it cannot close, shortened."""
    return "`" + text.replace("`", "'")[:80] + "`"


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
        return await self._page(*_read_key(key))

    async def _page(self, number: int, text: str) -> BlockedPage:
        filters = {"search": text} if text else {}
        page = await self.email.block_senders.page(
            number, BLOCKED_PAGE, order="created_at", direction="desc", **filters
        )
        shown = (number - 1) * BLOCKED_PAGE + len(page.items)
        full = len(page.items) == BLOCKED_PAGE
        more = full and (page.total_count is None or shown < page.total_count)
        return BlockedPage(
            entries=list(page.items), text=text, shown_before=(number - 1) * BLOCKED_PAGE,
            total=page.total_count, more=page_key(number + 1, text) if more else None,
        )  # fmt: skip

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
        if ENTRY_ID.match(target):
            try:
                return await self.email.block_senders.get(target)
            except NotFoundError:
                raise NotFound(
                    target, f"No blocked sender has id {quoted(target)}; `blocked` lists them."
                ) from None
        found = await self.email.list_blocked_senders(pattern=target)
        exact = [e for e in found if e.pattern.lower() == target.lower()]
        if not exact:
            raise NotFound(
                target,
                f"No blocked sender has the pattern {quoted(target)}; `blocked {target[:40]}` "
                "finds those that contain it.",
            )
        if len(exact) > 1:
            ids = ", ".join(quoted(e.id) for e in exact[:5])
            raise InvalidInput(
                f"{len(exact)} blocked senders have that pattern; unblock one by its id: {ids}."
            )
        return exact[0]

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
