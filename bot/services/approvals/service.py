"""Four-eyes approvals as use cases: ask, approve, reject, cancel, execute, sweep, and what is
pending for whom. Each entry point takes the actor first, checks the role, lets the store decide
atomically, audits what changed and shows it through the `ApprovalBoard` it was given (the card,
its thread, the Home tabs); a refusal is raised as `bot.errors.Refused` with its sentence.

A request's card is posted before anyone can see the request in a list, and its place attached
to the record; the executor reports progress to the same board, never to a handler. Roles are
checked again, groups fresh from Slack, at each approval and when a run starts (`rechecks.py`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.dispositions import Disposition
from bot.commands import role_for
from bot.config import Settings
from bot.errors import InvalidInput, Refused, StoreUnavailable
from bot.roles import Role
from bot.services.approvals.board import ApprovalBoard, MessageCards
from bot.services.approvals.bulkjob import FALLBACK, BulkJobRunner
from bot.services.approvals.executor import Executor
from bot.services.approvals.jobcontrol import cancel_job
from bot.services.approvals.jobstate import JobReport, JobState, is_query
from bot.services.approvals.jobstore import JobStore
from bot.services.approvals.models import (
    ActionName,
    ApprovalEvent,
    ApprovalRequest,
    ApprovalState,
    Decision,
    ExecutionReport,
    FrozenSearch,
    Outcome,
    report,
)
from bot.services.approvals.rechecks import no_longer, recheck
from bot.services.approvals.store import ApprovalStore
from bot.services.approvals.summaries import guarded_counts, summarise
from bot.services.audit import AuditLog
from bot.services.audit_chain import TrailCheck
from bot.services.audit_entry import AuditEntry
from bot.services.briefs import Described
from bot.services.policy import GroupLookupError, Policy

log = logging.getLogger("bot.approvals")
SUMMARY_KEPT = 20  # messages whose subject, sender and disposition the record keeps
NO_CHANNEL = "I can only post cards in a channel or a DM; try again from one."
JOB_POLL_MAX = 8.0  # seconds between two polls of a bulk job, at most (bulkjob.py)

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


@dataclass(frozen=True)
class Overview:
    """What one person sees of the approvals: their roles, what waits for their approval,
    their own pending requests, and what ended recently."""

    roles: list[Role]
    waiting: list[ApprovalRequest]
    mine: list[ApprovalRequest]
    recent: list[ApprovalRequest]


class ApprovalService:
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

    # -- asking --------------------------------------------------------------------------------

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

    # -- deciding ------------------------------------------------------------------------------

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
            await self.execute(request_id)
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

    async def _cards_ended(self, made: ApprovalRequest, actor: str) -> None:
        """The cards of the request's messages say it ended unrun (one may say it was asked)."""
        if self.cards is not None:
            await self.cards.ended(made, actor)

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

    # -- executing -----------------------------------------------------------------------------

    async def execute(self, request_id: str) -> ApprovalRequest | None:
        """Run (or resume) an approved request, its progress shown on its card; None when
        another run holds it (or it was handed back at shutdown). A request approved as a
        query runs as one bulk job (bulkjob.py), or as chunks if the API refuses bulk jobs."""
        made = await self.store.get(request_id)
        job: JobState | None = None
        if made is not None and is_query(made):
            ran = await self._job_runner().run(request_id)
            if isinstance(ran, ApprovalRequest) and ran.state == ApprovalState.REFUSED:
                await self.board.say(ran, "refused", "bot")
            elif isinstance(ran, ApprovalRequest):
                state = await self.jobs.load(ran.id)
                if state is not None:
                    await self.board.say(ran, "finished", "bot", JobReport.of(state))
            if ran != FALLBACK:
                return ran if isinstance(ran, ApprovalRequest) else None
            job = await self.jobs.load(request_id)

        async def progress(made: ApprovalRequest) -> None:
            totals = await self._totals(made)
            await self.board.show(made, totals if job is None else JobReport.beside(job, totals))

        executor = Executor(
            self.store, self.email, lease_seconds=self.lease_seconds,
            # One owner per run: the sweeper and a click in this process must not share a lease.
            owner=f"{self.owner}:{secrets.token_hex(4)}",
            on_progress=progress, audit=self.audit, stop=self.stopping, roles=self._roles,
            by_search=self.settings.bot_recheck_by_search,
        )  # fmt: skip
        done = await executor.run(request_id)
        # The executor's last progress call drew the finished (or refused) card.
        if done is not None and done.state == ApprovalState.REFUSED:
            await self.board.say(done, "refused", "bot")
            if not done.chunks_done:  # else some ran: "not done" would not be true
                await self._cards_ended(done, "bot")
        elif done is not None:
            results = await self.store.chunks(done.id)
            await self.board.say(done, "finished", "bot", report(results))
            if self.cards is not None:
                await self.cards.settled(done, results)
        return done

    async def _roles(self, made: ApprovalRequest) -> str | None:
        """Why `made` may not run now (None: it may), groups fresh: the runs' RoleCheck."""
        return (await recheck(self.policy, made, "execution")).refusal

    def _job_runner(self) -> BulkJobRunner:
        return BulkJobRunner(
            self.store, self.jobs, self.email, f"{self.owner}:{secrets.token_hex(4)}",
            show=self.board.show, cards=self.cards, audit=self.audit,
            lease_seconds=self.lease_seconds,
            stop=self.stopping, roles=self._roles, poll_max=self.job_poll_max,
        )  # fmt: skip

    async def cancel_job(self, actor: str, request_id: str) -> None:
        """Cancel the running bulk job of a request approved as a query: its requester or an
        approver may (jobcontrol.py)."""
        await cancel_job(
            actor, request_id, store=self.store, jobs=self.jobs, policy=self.policy,
            email=self.email, audit=self.audit,
        )  # fmt: skip

    async def sweep(self) -> None:
        """Expire what is overdue and resume executions nobody holds (every replica runs this;
        the store makes each step happen once)."""
        for made in await self.store.expire_due():
            await self.audit.record(
                actor="bot", action=f"expire {made.action}", ids=made.ids, outcome="expired",
                request_id=made.id, digest=made.digest,
            )  # fmt: skip
            await self.board.show(made, None)
            await self.board.say(made, "expired", "bot")
            await self._cards_ended(made, "bot")
        # The approving process claims its request within moments; a replica's sweep leaves it
        # that long (a lease's worth), so the run stays where it was approved.
        for request_id in await self.store.stalled(settled_for=self.lease_seconds):
            await self.execute(request_id)

    async def _totals(self, made: ApprovalRequest) -> ExecutionReport | None:
        """The execution's totals so far, computed once for the card and the thread."""
        if not made.chunks_done and made.state != ApprovalState.DONE:
            return None
        return report(await self.store.chunks(made.id))

    # -- reading -------------------------------------------------------------------------------

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
