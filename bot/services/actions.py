"""The actions on messages (release, move, reclassify, block), whatever surface asks for them.

Each entry point takes the actor first and does all of it: the role, the messages' current state
(never a stale card's), the approval rule, one claim so that a double click does not act twice,
the API call, the audit entry, and the outcome on the card it came from (or a new card). It
returns an `ActionResult`, or raises a `bot.errors.BotError` whose sentence the person reads.
"Release/Move all matching" a search is bot/services/querying.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Literal

from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.models import Destination, MessageDetails, PatternType, ReclassifyDisposition
from bot.commands import role_for
from bot.config import Settings
from bot.errors import InProgress, InvalidInput, StoreUnavailable
from bot.roles import Role
from bot.services.approvals.service import ApprovalService
from bot.services.audit import AuditLog
from bot.services.blocking import BlockRules, block_pattern, forged_from
from bot.services.briefs import Described
from bot.services.guard import ApprovalNeeded, Verdicts, approval_needed
from bot.services.lookup import LookupService
from bot.services.outcomes import (
    ActionResult,
    Blocked,
    BlockPreview,
    CardOutcome,
    MessageOutcome,
    Moved,
    NotQuarantined,
    Reclassified,
    Released,
)
from bot.services.policy import Policy
from bot.services.ports import Origin
from bot.services.showing import CardKeeper
from bot.services.submissions import SubmissionService
from bot.store import Once

log = logging.getLogger("bot.actions")
RUNNING_SECONDS = 120  # how long a claim on an action in progress lasts if its process dies


class ActionService:
    def __init__(
        self,
        *,
        email: EmailSecurityClient,
        lookup: LookupService,
        policy: Policy,
        approvals: ApprovalService,
        audit: AuditLog,
        once: Once,
        cards: CardKeeper,
        settings: Settings,
    ) -> None:
        self.email = email
        self.lookup = lookup
        self.policy = policy
        self.approvals = approvals
        self.audit = audit
        self.once = once
        self.cards = cards
        self.bulk_threshold = settings.bot_bulk_threshold
        self.guarded = frozenset(settings.bot_guarded_dispositions)
        self.verdicts = Verdicts(email)
        self.block_rules = BlockRules(email)
        self.submissions: SubmissionService | None = None  # follows reclassifies (container)

    async def needs_approval(
        self,
        action: Literal["release", "move"],
        messages: Sequence[Described],
        folder: Destination | None = None,
        *,
        first_of_more: bool = False,
    ) -> ApprovalNeeded | None:
        """Every rule (bot.services.guard) that makes this action wait for an approver. The
        verdicts are looked up only when a guard applies (a release, a move to Inbox)."""
        guarding = action == "release" or folder == "Inbox"
        verdicts = await self.verdicts.of(messages) if guarding else {}
        return approval_needed(
            action, messages, verdicts, bulk_threshold=self.bulk_threshold,
            guarded=self.guarded, folder=folder, first_of_more=first_of_more,
        )  # fmt: skip

    # -- release and move ----------------------------------------------------------------------

    async def release(
        self,
        actor: str,
        ids: Sequence[str],
        origin: Origin,
        reason: str = "",
        *,
        ask_reason: bool = False,
    ) -> ActionResult:
        """Release what is still quarantined, or ask for approval. With `ask_reason` and no
        reason, a release that needs approval asks nothing yet: the result says so
        (`needs_reason`), so that the surface can ask the person why first."""
        await self.policy.require(actor, role_for("release"), "release messages")
        messages = await self.lookup.current(ids)
        held = [m for m in messages if m.is_quarantined]
        checked = [
            MessageOutcome(m.id, NotQuarantined(actor=actor))
            for m in messages
            if not m.is_quarantined
        ]
        await self.cards.show_all(origin, checked, new_cards=False)
        if not held:
            return ActionResult(outcomes=checked)
        need = await self.needs_approval("release", held)
        if need is not None and ask_reason and not reason:
            return ActionResult(outcomes=checked, needs_reason=need.reason, awaiting=held)
        if need is not None:
            return await self._request(
                actor, "release", held, {}, need, reason, origin, checked=checked
            )
        acted = [m.id for m in held]
        async with self._exclusive("release", acted):
            results = await self.email.release(acted)
        unaudited = await self._audit(
            actor, "release", acted, ", ".join(r.outcome for r in results)
        )
        done = [
            MessageOutcome(m.id, Released(actor=actor, result=r))
            for m, r in zip(held, results, strict=True)
        ]
        unshown = await self.cards.show_all(origin, done)
        return _ran(checked + done, unaudited, origin, unshown)

    async def move(
        self,
        actor: str,
        ids: Sequence[str],
        folder: Destination,
        origin: Origin,
        reason: str = "",
    ) -> ActionResult:
        await self.policy.require(actor, role_for("move"), "move messages")
        messages = await self.lookup.current(ids)
        need = await self.needs_approval("move", messages, folder)
        if need is not None:
            params: dict[str, str] = {"folder": folder}
            return await self._request(actor, "move", messages, params, need, reason, origin)
        acted = [m.id for m in messages]
        async with self._exclusive(f"move to {folder}", acted):
            results = await self.email.move(acted, folder)
        failed = sum(1 for r in results if not r.success)
        moved = Moved(actor=actor, folder=folder, done=len(results) - failed, failed=failed)
        summary = f"moved to {folder}" + (f", {failed} failed" if failed else "")
        unaudited = await self._audit(actor, f"move to {folder}", acted, summary)
        done = [MessageOutcome(m.id, moved) for m in messages]
        unshown = await self.cards.show_all(origin, done)
        return _ran(done, unaudited, origin, unshown)

    async def _request(
        self,
        actor: str,
        action: Literal["release", "move"],
        messages: Sequence[Described],
        params: dict[str, str],
        need: ApprovalNeeded,
        reason: str,
        origin: Origin,
        checked: list[MessageOutcome] | None = None,
    ) -> ActionResult:
        made = await self.approvals.request(
            actor, action, messages, params, rule=need.reason, reason=reason,
            channel=origin.channel, verdicts=need.verdicts,
        )  # fmt: skip
        return ActionResult(
            outcomes=checked or [],
            requested=made,
            approvers=self.policy.who(Role.APPROVER),
        )

    # -- one message ---------------------------------------------------------------------------

    async def reclassify(
        self,
        actor: str,
        message_id: str,
        disposition: ReclassifyDisposition,
        origin: Origin,
        reason: str | None = None,
    ) -> ActionResult:
        await self.policy.require(actor, role_for("reclassify"), "reclassify messages")
        message = await self.lookup.one(message_id)
        async with self._exclusive("reclassification", [message.id]):
            await self.email.reclassify(message.id, disposition)
        if self.submissions is not None:
            await self.submissions.expect(actor, message, disposition, origin.card)
        unaudited = await self._audit(
            actor, f"reclassify as {disposition}", [message.id], "requested"
        )
        done = [MessageOutcome(message.id, Reclassified(actor=actor, disposition=disposition,
                                                        reason=reason))]  # fmt: skip
        unshown = await self.cards.show_all(origin, done)
        return _ran(done, unaudited, origin, unshown)

    async def may_move(self, actor: str) -> None:
        """Refused unless `actor` may move messages: checked before a move modal opens that
        names no message to look up first (the ticked hits of a search page)."""
        await self.policy.require(actor, role_for("move"), "move messages")

    async def may_block(self, actor: str) -> None:
        """Refused unless `actor` may block: checked when Block is clicked, before any modal."""
        await self.policy.require(actor, role_for("block"), "block senders")

    async def block_preview(
        self,
        actor: str,
        *,
        message_id: str | None = None,
        pattern: str = "",
        pattern_type: PatternType = "EMAIL",
    ) -> BlockPreview:
        """What the confirm modal shows: the patterns of a message's envelope sender (or the
        one asked for by command), each with its recent matches and its approval rule."""
        await self.may_block(actor)
        if message_id is None:
            return await self.block_rules.preview([(pattern_type, pattern.strip().lower())])
        message = await self.lookup.one(message_id)
        kinds: list[PatternType] = ["EMAIL", "DOMAIN"]
        found = [(k, p) for k in kinds if (p := block_pattern(message, k)) is not None]
        return await self.block_rules.preview(found, forged_from(message))

    async def block(
        self,
        actor: str,
        pattern: str,
        pattern_type: PatternType,
        origin: Origin,
        comment: str | None = None,
        message: MessageDetails | None = None,
    ) -> ActionResult:
        """Block a sender address or domain; with `message`, the outcome shows on its card. A
        risky block (a public provider, a public suffix, a trusted domain, one of the tenant's
        own protected domains) becomes an approval request instead; the executor blocks once
        it is approved."""
        await self.may_block(actor)
        pattern = pattern.strip().lower()
        risk = await self.block_rules.risk(pattern, pattern_type)
        if risk is not None:
            params = {"pattern": pattern, "pattern_type": pattern_type}
            made = await self.approvals.request(
                actor, "block", [], params, rule=risk, reason=comment or "",
                channel=origin.channel,
            )  # fmt: skip
            return ActionResult(requested=made, approvers=self.policy.who(Role.APPROVER))
        async with self._exclusive("block", [pattern_type, pattern]):
            note = f"Blocked from Slack by {actor}" + (f": {comment}" if comment else "")
            blocked = await self.email.block_sender(pattern, pattern_type, comments=note)
        unaudited = await self._audit(
            actor, f"block {pattern_type.lower()} {blocked.pattern}", [], "blocked"
        )
        outcome: CardOutcome = Blocked(
            actor=actor, pattern=blocked.pattern, pattern_type=pattern_type, comment=comment
        )
        key = message.id if message is not None else ""
        done = [MessageOutcome(key, outcome)]
        unshown = await self.cards.show_all(origin, done) if message is not None else []
        return _ran(done, unaudited, origin, unshown)

    async def block_sender(
        self,
        actor: str,
        message_id: str,
        pattern_type: PatternType,
        origin: Origin,
        comment: str | None = None,
    ) -> ActionResult:
        """Block the envelope sender of a message (its address or its domain): the header
        From can be forged, so blocking it could stop the real partner a phish imitates."""
        await self.may_block(actor)
        message = await self.lookup.one(message_id)
        pattern = block_pattern(message, pattern_type)
        if pattern is None:
            raise InvalidInput("This message has no sender address to block.")
        return await self.block(actor, pattern, pattern_type, origin, comment, message)

    # -- plumbing ------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _exclusive(self, action: str, ids: Sequence[str]) -> AsyncIterator[None]:
        """Runs the block while this request alone runs `action` on `ids`; InProgress when the
        same action on the same messages is already under way (a double click, two people).
        Redis down: runs anyway (the action needs no record; a release still re-checks)."""
        digest = hashlib.sha256("\n".join([action, *sorted(ids)]).encode()).hexdigest()[:32]
        key = f"action:{digest}"
        try:
            alone = await self.once.first(key, RUNNING_SECONDS)
        except StoreUnavailable:
            alone, key = True, ""
        if not alone:
            raise InProgress(
                f"That {action} is already under way (another click a moment ago); "
                "its outcome will show on the card."
            )
        try:
            yield
        finally:
            if key:
                with contextlib.suppress(StoreUnavailable):
                    await self.once.forget(key)

    async def _audit(self, actor: str, action: str, ids: Sequence[str], outcome: str) -> bool:
        """Record a direct action. It is done already, so a Redis failure is reported (True:
        not recorded), not raised."""
        return await self.audit.record_done(actor=actor, action=action, ids=ids, outcome=outcome)


def _ran(
    outcomes: list[MessageOutcome], unaudited: bool, origin: Origin, unshown: list[MessageOutcome]
) -> ActionResult:
    """The result of an action that ran; `unshown`: its outcomes no card shows (no new card
    could be posted in the origin's channel), which the person is then told."""
    where = origin.channel if unshown else None
    return ActionResult(outcomes=outcomes, unaudited=unaudited, unshown=unshown, unshown_in=where)
