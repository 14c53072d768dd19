"""Running approved requests: the execution (as chunks by the `Executor`, or as one bulk job
for a request approved as a query), its progress shown on the request's card and its end
announced (announcing.py), cancelling a running bulk job, and the sweep every replica runs
(expiry, resuming executions nobody holds, announcing ends whose replica died first)."""

from __future__ import annotations

import secrets

from bot.services.approvals.announcing import Announcing
from bot.services.approvals.bulkjob import FALLBACK, BulkJobRunner
from bot.services.approvals.executor import Executor
from bot.services.approvals.jobcontrol import cancel_job
from bot.services.approvals.jobstate import JobReport, JobState, is_query
from bot.services.approvals.models import ApprovalRequest
from bot.services.approvals.rechecks import recheck


class Running(Announcing):
    async def execute(
        self, request_id: str, made: ApprovalRequest | None = None
    ) -> ApprovalRequest | None:
        """Run (or resume) an approved request, its progress shown on its card and its end
        announced (announcing.py); None when another run holds it (or it was handed back at
        shutdown). A request approved as a query runs as one bulk job (bulkjob.py), or as
        chunks if the API refuses bulk jobs. `made`: the request as its approval just returned
        it, not read again here (whether it is a query never changes; the run reads it afresh
        once it holds the lease)."""
        if made is None:
            made = await self.store.get(request_id)
        job: JobState | None = None
        if made is not None and is_query(made):
            ran = await self._job_runner().run(request_id)
            if isinstance(ran, ApprovalRequest):
                await self.announce(ran)
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
        if done is not None:
            await self.announce(done)
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
        """Expire what is overdue, resume executions nobody holds and announce the ends whose
        replica died before announcing them (every replica runs this; the store makes each step
        happen once)."""
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
        await self.announce_due()
