""" "False positive…" on a card (issue 16, item 4): one step that undoes a wrong verdict. It
releases the message when it is quarantined (under the usual release rules: it may become an
approval request), reclassifies it as NONE, and, when asked, asks for an allow policy for its
envelope sender (always an approval request). Each step is an existing use case, so each keeps
its own role check, audit entry and outcome line on the card: one line per step.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.cloudflare.models import MessageDetails, PatternType
from bot.commands import role_for
from bot.services.actions import ActionService
from bot.services.allowlist import AllowChoices, AllowlistService, sender_choices
from bot.services.approvals.changes import AllowKind
from bot.services.lookup import LookupService
from bot.services.outcomes import ActionResult, MessageOutcome, Requested
from bot.services.policy import Policy
from bot.services.ports import Origin
from bot.services.showing import CardKeeper


@dataclass(frozen=True)
class AllowAsked:
    """The allow policy "False positive…" should also ask for: the envelope sender's address
    (EMAIL) or domain, its kind and "verify sender"."""

    pattern_type: PatternType
    kind: AllowKind
    verify_sender: bool = True


class FalsePositiveService:
    def __init__(
        self,
        *,
        actions: ActionService,
        allowlist: AllowlistService,
        lookup: LookupService,
        policy: Policy,
        cards: CardKeeper,
    ) -> None:
        self.actions = actions
        self.allowlist = allowlist
        self.lookup = lookup
        self.policy = policy
        self.cards = cards

    async def may_report(self, actor: str) -> None:
        """Refused unless `actor` may reclassify (and release): before any modal opens."""
        await self.policy.require(actor, role_for("reclassify"), "report false positives")

    async def modal(self, actor: str, message_id: str) -> tuple[MessageDetails, AllowChoices]:
        """What the modal shows: the message and the patterns its allow policy may name,
        looked up once (the allow choices keep their own role check)."""
        await self.may_report(actor)
        await self.allowlist.may_allow(actor)
        message = await self.lookup.one(message_id)
        return message, sender_choices(message)

    async def report(
        self,
        actor: str,
        message_id: str,
        origin: Origin,
        reason: str,
        allow: AllowAsked | None = None,
    ) -> list[ActionResult]:
        """Release (if quarantined), reclassify as NONE, and maybe ask for an allow policy:
        what each step did, in order. A step that fails stops the ones after it (its error is
        the answer; the card shows the steps done)."""
        await self.may_report(actor)
        message = await self.lookup.one(message_id)
        done: list[ActionResult] = []
        if message.is_quarantined:
            released = await self.actions.release(actor, [message.id], origin, reason)
            if released.requested is not None:
                asked = Requested(actor=actor, request_id=released.requested.id, action="release")
                await self.cards.show_all(origin, [MessageOutcome(message.id, asked)])
            done.append(released)
        reason_note = f"false positive: {reason}" if reason else "false positive"
        done.append(await self.actions.reclassify(actor, message.id, "NONE", origin, reason_note))
        if allow is not None:
            done.append(
                await self.allowlist.request_allow_for(
                    actor,
                    message.id,
                    allow.pattern_type,
                    allow.kind,
                    allow.verify_sender,
                    reason,
                    origin,
                )
            )
        return done
