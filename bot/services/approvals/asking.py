"""Asking for an approval: the request's card is posted where it was asked for before the
request exists, and the request is stored with the card's place, so nobody can approve what
nobody sees (docs/architecture.md, "A request exists only with its card")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.cloudflare.dispositions import Disposition
from bot.errors import NO_CHANNEL, InvalidInput
from bot.services.approvals.base import ApprovalBase
from bot.services.approvals.models import ActionName, ApprovalRequest, FrozenSearch
from bot.services.approvals.summaries import guarded_counts, summarise
from bot.services.briefs import Described

SUMMARY_KEPT = 20  # messages whose subject, sender and disposition the record keeps


class Asking(ApprovalBase):
    async def request(
        self,
        actor: str,
        action: ActionName,
        messages: Sequence[Described],
        params: dict[str, str],
        *,
        rule: str,
        reason: str,
        channel: str | None,
        verdicts: Mapping[str, Disposition | None] | None = None,
        search: FrozenSearch | None = None,
    ) -> ApprovalRequest:
        """Post the request's card where it was asked for, then store the pending request with
        the card's place, audit it and draw it. A request whose card cannot be posted is never
        created (the attempt is audited), so nobody can approve what nobody sees. `search`: the
        frozen search `messages` came from, which the execution is re-checked with."""
        summaries = summarise(messages, self.guarded, verdicts)
        if not channel:
            raise InvalidInput(NO_CHANNEL)
        try:
            place, ts = await self.board.reserve(channel)
        except Exception as exc:  # the surface refused the card: nothing is created
            await self._audit_unposted(actor, action, messages, type(exc).__name__)
            raise
        try:
            made = await self.store.create(
                action=action, params=params, ids=[m.id for m in messages], requester=actor,
                reason=reason, rule=rule, summary=summaries[:SUMMARY_KEPT],
                guarded=guarded_counts(summaries, self.guarded),
                ttl_seconds=self.settings.bot_approval_ttl,
                required=self.settings.bot_required_approvals, channel=place, message_ts=ts,
                search=search,
            )  # fmt: skip
        except Exception:
            await self.board.retract(place, ts)
            raise
        detail: dict[str, object] = {"rule": rule, **params}
        if search is not None:
            detail["search"] = search.filters
        await self.audit.record(
            actor=actor, action=f"request {action}", ids=made.ids, outcome="pending",
            request_id=made.id, digest=made.digest, detail=detail if len(detail) > 1 else rule,
        )  # fmt: skip
        await self.board.show(made, None)
        await self.board.list_messages(made, summaries)
        await self.board.say(made, "requested", actor)
        return made

    async def _audit_unposted(
        self, actor: str, action: str, messages: Sequence[Described], why: str
    ) -> None:
        await self.audit.record(
            actor=actor, action=f"request {action}", ids=[m.id for m in messages],
            outcome="not created", detail=f"its card could not be posted ({why})",
        )  # fmt: skip
