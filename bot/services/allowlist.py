"""Allow policies and trusted domains from Slack (issue 16, items 3 and 4): asking for one, which
is always an approval request (an allow policy or a trusted domain switches protection off for a
sender, so a second person approves it, even when the one asking is an approver), with the mail
it would have let through in the last 30 days counted for the approver; listing them a page at a
time; removing one (operators, audited).

The request's kinds and params are `approvals/changes.py`; the approved step that makes the
change is `approvals/apply.py`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from bot.cloudflare import EmailSecurityClient, NotFoundError
from bot.cloudflare.models import MessageDetails, PatternType
from bot.cloudflare.settings_models import AllowPolicy, TrustedDomain
from bot.commands import MAX_FILTER, role_for
from bot.errors import InvalidInput, NotFound
from bot.roles import Role
from bot.services.approvals.changes import (
    ALLOW_KINDS,
    AllowKind,
    Exposure,
    allow_params,
    trust_params,
)
from bot.services.approvals.service import ApprovalService
from bot.services.audit import AuditLog
from bot.services.blocking import block_pattern, forged_from
from bot.services.entries import EntryWords, named_entry
from bot.services.lookup import LookupService
from bot.services.outcomes import RECENT_DAYS, ActionResult, MessageOutcome, Requested
from bot.services.paging import Page, read_key, searched_page
from bot.services.policy import Policy
from bot.services.ports import Origin
from bot.services.showing import CardKeeper

log = logging.getLogger("bot.services.allowlist")
COUNT_PAGE = 1000  # one search page: enough to say "N", else "more than 1,000"
ALLOW_RULE = (
    "an allow policy switches protection off for what it matches: every one is approved by a "
    "second person"
)
TRUST_RULE = (
    "a trusted domain switches lookalike and new-domain detections off for it: every one is "
    "approved by a second person"
)
Listing = Literal["allowed", "trusted"]
ALLOW_POLICY = EntryWords("allow policy", "allow policies", "allowed", "remove")
TRUSTED_DOMAIN = EntryWords("trusted domain", "trusted domains", "trusted", "remove")


def unreadable(listing: Listing) -> str:
    """What a person reads for a More or Remove whose page key names no page."""
    return f"That page cannot be shown; run `{listing}` again."


@dataclass(frozen=True)
class AllowChoices:
    """What the allow modal of a card offers: its envelope sender's address and domain, and
    the header From when it differs (it can be forged; never used)."""

    patterns: list[tuple[PatternType, str]]
    header_from: str | None = None


@dataclass(frozen=True)
class RemovedEntry:
    """What a Remove deleted: its pattern and kind in our words' terms, and whether the audit
    trail could not record it."""

    pattern: str
    what: str  # "allow policy" or "trusted domain"
    entry_id: str
    unaudited: bool = False


def sender_choices(message: MessageDetails) -> AllowChoices:
    """What an allow policy for `message` may name: its envelope sender's address and domain."""
    kinds: list[PatternType] = ["EMAIL", "DOMAIN"]
    found = [(k, p) for k in kinds if (p := block_pattern(message, k)) is not None]
    return AllowChoices(found, forged_from(message))


class AllowlistService:
    def __init__(
        self,
        *,
        email: EmailSecurityClient,
        policy: Policy,
        audit: AuditLog,
        approvals: ApprovalService,
        lookup: LookupService,
        cards: CardKeeper,
    ) -> None:
        self.email = email
        self.policy = policy
        self.audit = audit
        self.approvals = approvals
        self.lookup = lookup
        self.cards = cards

    # -- asking --------------------------------------------------------------------------------

    async def may_allow(self, actor: str) -> None:
        """Refused unless `actor` may ask for an allow policy: before any modal opens."""
        await self.policy.require(actor, role_for("allow"), "ask for allow policies")

    async def choices(self, actor: str, message_id: str) -> AllowChoices:
        """The patterns a card's modal offers: its envelope sender's address and domain."""
        await self.may_allow(actor)
        return sender_choices(await self.lookup.one(message_id))

    async def exposure(self, pattern: str, *, recipient: bool = False) -> Exposure:
        """The mail from `pattern` (to it, for an exempt recipient) in the last RECENT_DAYS
        days, by disposition: one search page."""
        start = datetime.now(UTC) - timedelta(days=RECENT_DAYS)
        where = {"recipient": pattern} if recipient else {"sender": pattern}
        page = await self.email.search_page(  # every verdict, clean mail too
            start=start,
            per_page=COUNT_PAGE,
            detections_only=False,
            **where,  # type: ignore[arg-type]
        )
        counts = Counter(m.final_disposition or "UNKNOWN" for m in page.messages)
        return Exposure(dict(counts), page.next_cursor is not None)

    async def request_allow(
        self,
        actor: str,
        pattern: str,
        pattern_type: PatternType,
        kind: AllowKind,
        verify_sender: bool,
        comment: str,
        origin: Origin,
    ) -> ActionResult:
        """Ask for an allow policy (always an approval request). From a card (`origin.card`),
        the request covers its message, and the card says it was asked for."""
        await self.may_allow(actor)
        if kind not in ALLOW_KINDS:
            raise InvalidInput("Choose the kind of allow policy.")
        message = await self._card_message(origin)
        return await self._ask_allow(
            actor, pattern, pattern_type, kind, verify_sender, comment, origin, message
        )

    async def request_allow_for(
        self,
        actor: str,
        message_id: str,
        pattern_type: PatternType,
        kind: AllowKind,
        verify_sender: bool,
        comment: str,
        origin: Origin,
    ) -> ActionResult:
        """An allow policy for a message's envelope sender (its address or its domain): the
        header From can be forged, so allowing it could let the phish that imitates it in."""
        await self.may_allow(actor)
        message = await self.lookup.one(message_id)
        pattern = block_pattern(message, pattern_type)
        if pattern is None:
            raise InvalidInput("This message has no sender address to allow.")
        if kind not in ALLOW_KINDS:
            raise InvalidInput("Choose the kind of allow policy.")
        # From its own card, the message is the one just looked up: not looked up again.
        card = origin.card
        shown = message if card is not None and card.message_id == message.id else None
        shown = shown or await self._card_message(origin)
        return await self._ask_allow(
            actor, pattern, pattern_type, kind, verify_sender, comment, origin, shown
        )

    async def _ask_allow(
        self,
        actor: str,
        pattern: str,
        pattern_type: PatternType,
        kind: AllowKind,
        verify_sender: bool,
        comment: str,
        origin: Origin,
        message: MessageDetails | None,
    ) -> ActionResult:
        pattern = pattern.strip().lower()
        counted = await self.exposure(pattern, recipient=kind == "exempt")
        params = allow_params(pattern, pattern_type, kind, verify_sender, counted)
        return await self._request(actor, "allow", params, ALLOW_RULE, comment, origin, message)

    async def request_trust(
        self, actor: str, domain: str, recent: bool, similarity: bool, reason: str, origin: Origin
    ) -> ActionResult:
        """Ask for a trusted domain (always an approval request)."""
        await self.policy.require(actor, role_for("trust"), "ask for trusted domains")
        domain = domain.strip().lower()
        counted = await self.exposure(domain)
        params = trust_params(domain, recent, similarity, counted)
        return await self._request(actor, "trust", params, TRUST_RULE, reason, origin, None)

    async def _card_message(self, origin: Origin) -> MessageDetails | None:
        card = origin.card
        return None if card is None else await self.lookup.one(card.message_id)

    async def _request(
        self,
        actor: str,
        action: Literal["allow", "trust"],
        params: dict[str, str],
        rule: str,
        reason: str,
        origin: Origin,
        message: MessageDetails | None,
    ) -> ActionResult:
        made = await self.approvals.request(
            actor, action, [message] if message is not None else [], params, rule=rule,
            reason=reason, channel=origin.channel,
        )  # fmt: skip
        if message is not None:
            asked = Requested(actor=actor, request_id=made.id, action=action,
                              pattern=params["pattern"])  # fmt: skip
            await self.cards.show_all(origin, [MessageOutcome(message.id, asked)], new_cards=False)
        return ActionResult(requested=made, approvers=self.policy.who(Role.APPROVER))

    # -- listing -------------------------------------------------------------------------------

    async def allowed(self, actor: str, key: str) -> Page[AllowPolicy]:
        """The page of allow policies `key` names (`paging.page_key(1, text)`: the first)."""
        await self.policy.require(actor, role_for("allowed"), "see the allow policies")
        return await searched_page(
            self.email.allow_policies.page, *read_key(key, MAX_FILTER, unreadable("allowed")),
            order="created_at", direction="desc",
        )  # fmt: skip

    async def trusted(self, actor: str, key: str) -> Page[TrustedDomain]:
        await self.policy.require(actor, role_for("trusted"), "see the trusted domains")
        return await searched_page(
            self.email.trusted_domains.page, *read_key(key, MAX_FILTER, unreadable("trusted")),
            order="created_at", direction="desc",
        )  # fmt: skip

    # -- removing ------------------------------------------------------------------------------

    async def remove_allowed(self, actor: str, target: str) -> RemovedEntry:
        """Remove one allow policy, by its id or its exact pattern; audited."""
        await self.policy.require(actor, role_for("disallow"), "remove allow policies")
        entry = await named_entry(
            target.strip(), ALLOW_POLICY, by_id=self.email.allow_policies.get,
            by_pattern=lambda pattern: self.email.list_allow_policies(pattern=pattern),
        )  # fmt: skip
        action = f"disallow {entry.pattern_type.lower()} {entry.pattern}"
        return await self._removed(
            actor, entry, ALLOW_POLICY, self.email.allow_policies.delete, action
        )

    async def remove_trusted(self, actor: str, target: str) -> RemovedEntry:
        """Remove one trusted domain, by its id or its exact pattern (a pattern several
        entries have removes none: entries.py); audited."""
        await self.policy.require(actor, role_for("untrust"), "remove trusted domains")
        entry = await named_entry(
            target.strip(), TRUSTED_DOMAIN, by_id=self.email.trusted_domains.get,
            by_pattern=lambda pattern: self.email.list_trusted_domains(pattern=pattern),
        )  # fmt: skip
        action = f"untrust domain {entry.pattern}"
        return await self._removed(
            actor, entry, TRUSTED_DOMAIN, self.email.trusted_domains.delete, action
        )

    async def _removed(
        self,
        actor: str,
        entry: AllowPolicy | TrustedDomain,
        words: EntryWords,
        delete: Callable[[str], Awaitable[object]],
        action: str,
    ) -> RemovedEntry:
        """Delete the entry and record it (done already: a Redis failure is reported in
        `unaudited`, not raised)."""
        try:
            await delete(entry.id)
        except NotFoundError:
            raise NotFound(entry.id, f"That {words.noun} was already removed.") from None
        unaudited = await self.audit.record_done(
            actor=actor, action=action, outcome="removed", detail={"id": entry.id}
        )
        return RemovedEntry(entry.pattern, words.noun, entry.id, unaudited)
