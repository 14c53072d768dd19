"""Deciding on a request: approve (the approval that completes it runs it), reject, cancel.
The roles are checked again first, groups fresh from Slack (rechecks.py); the store decides
atomically; what changed is audited and shown on the card and its thread, and a decision that
changed nothing is raised as `bot.errors.Refused` with its sentence."""

from __future__ import annotations

import logging

from bot.errors import Refused
from bot.roles import Role
from bot.services.approvals.models import (
    ApprovalEvent,
    ApprovalRequest,
    ApprovalState,
    Decision,
    Outcome,
)
from bot.services.approvals.rechecks import no_longer, recheck
from bot.services.approvals.running import Running
from bot.services.policy import GroupLookupError

log = logging.getLogger("bot.approvals")

_COUNTED: dict[Outcome, ApprovalEvent] = {
    Outcome.APPROVED: "approved",
    Outcome.EXECUTE: "executing",
    Outcome.REJECTED: "rejected",
    Outcome.CANCELLED: "cancelled",
}
_REFUSALS = {
    Outcome.ALREADY_APPROVED: "You have already approved this request; it needs another approver.",
    Outcome.NOT_REQUESTER: "Only the requester can cancel a request; approvers can reject it.",
    Outcome.EXPIRED: "This request has expired; ask again if it is still needed.",
    Outcome.TAMPERED: "This request's stored content no longer matches what was asked, so it "
    "was refused. Ask again.",
    Outcome.NOT_FOUND: "This request no longer exists (requests are kept 30 days).",
}


# On `Running`: the approval that completes a request runs it there and then.
class Deciding(Running):
    async def approve(self, actor: str, request_id: str) -> Decision:
        """Count `actor`'s approval; the one that completes the request also executes it. The
        roles are checked again first, groups fresh from Slack: the approver's own, the
        requester's (lost: the request is refused) and those of the approvals counted so far
        (lost: withdrawn, the request waits for another approver)."""
        await self.policy.require(actor, Role.APPROVER, "approve requests", fresh=True)
        await self._recheck_pending(actor, request_id)
        decision = await self.store.approve(request_id, actor)
        await self._decided(actor, decision, "approve")
        if decision.outcome == Outcome.EXECUTE:
            await self.execute(request_id, decision.request)
        return decision

    async def _recheck_pending(self, actor: str, request_id: str) -> None:
        """Before counting `actor`'s approval: refuse the request (raising Refused) or withdraw
        approvals that no longer count. A request not pending is left to the store's answer."""
        made = await self.store.get(request_id)
        if made is None or made.state != ApprovalState.PENDING:
            return
        try:
            found = await recheck(self.policy, made, "approval")
        except GroupLookupError as exc:
            raise Refused(
                f"Could not check the roles this request needs ({exc}); try again in a minute."
            ) from None
        if found.refusal is not None:
            ended = (await self.store.refuse(made.id, found.refusal)).request
            if ended is None or ended.state != ApprovalState.REFUSED:
                return  # it ended otherwise meanwhile: the store's approve says how
            await self._ended_by_bot(ended, actor)
            raise Refused(f"{found.refusal}. Nothing was done.")
        after = await self.store.withdraw(made.id, found.withdrawn)
        if after is None:
            return
        for user in found.withdrawn:
            await self.audit.record(
                actor="bot", action=f"withdraw approval of {made.action}", ids=made.ids,
                outcome="withdrawn", request_id=made.id, digest=made.digest,
                detail=f"{no_longer(user, Role.APPROVER)}; noticed at the approval of {actor}",
            )  # fmt: skip
            await self.board.say(after, "withdrawn", user)

    async def _ended_by_bot(self, ended: ApprovalRequest, noticed_by: str) -> None:
        """Audit and show a request the bot refused (`end_reason` says why)."""
        await self.audit.record(
            actor="bot", action=f"refuse {ended.action}", ids=ended.ids, outcome="refused",
            request_id=ended.id, digest=ended.digest,
            detail=f"{ended.end_reason}; noticed by {noticed_by}",
        )  # fmt: skip
        await self.board.show(ended, None)
        await self.board.say(ended, "refused", "bot")
        await self._cards_ended(ended, "bot")

    async def reject(self, actor: str, request_id: str, reason: str) -> Decision:
        await self.policy.require(actor, Role.APPROVER, "reject requests")
        decision = await self.store.reject(request_id, actor, reason)
        await self._decided(actor, decision, "reject")
        return decision

    async def cancel(self, actor: str, request_id: str) -> Decision:
        """Withdraw one's own pending request."""
        decision = await self.store.cancel(request_id, actor)
        await self._decided(actor, decision, "cancel")
        return decision

    async def _decided(self, actor: str, decision: Decision, verb: str) -> None:
        """Audit and show a decision that changed the request; raise Refused for one that
        did not (a stale card is redrawn first, so it shows the truth again)."""
        made, outcome = decision.request, decision.outcome
        event = _COUNTED.get(outcome)
        if made is not None and event is not None:
            await self.audit.record(
                actor=actor, action=f"{verb} {made.action}", ids=made.ids,
                outcome=outcome.value, request_id=made.id, digest=made.digest,
                detail=made.end_reason if outcome == Outcome.REJECTED else None,
            )  # fmt: skip
            await self.board.show(made, None)
            await self.board.say(made, event, actor)
            if outcome in (Outcome.REJECTED, Outcome.CANCELLED):
                await self._cards_ended(made, actor)
            return
        if outcome == Outcome.TAMPERED and made is not None:
            # Someone changed the record in Redis (or the key's source secret changed): the
            # trail keeps who tried and what the record held then.
            log.error("approval request %s: digest mismatch at %s", made.id, verb)
            await self.audit.record(
                actor=actor, action=f"{verb} {made.action}", ids=made.ids, outcome="tampered",
                request_id=made.id, digest=made.digest,
            )  # fmt: skip
        # While a request executes, its executor alone draws the card: this snapshot may be
        # older than what the executor drew last.
        stale = outcome in (Outcome.EXPIRED, Outcome.NOT_PENDING)
        if made is not None and stale and made.state != ApprovalState.EXECUTING:
            await self.board.show(made, await self._totals(made))
        raise Refused(self._refusal(outcome, made))

    def _refusal(self, outcome: Outcome, made: ApprovalRequest | None) -> str:
        state = made.state.value if made else "gone"
        if outcome == Outcome.SELF_APPROVAL:
            return "You cannot approve your own request. " + self.policy.who(Role.APPROVER)
        if outcome == Outcome.NOT_PENDING:
            return f"This request is {state} already; nothing more can be done with it."
        return _REFUSALS.get(outcome, f"Could not do that: the request is {state}.")
