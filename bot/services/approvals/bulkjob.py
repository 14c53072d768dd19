"""Running a request approved as a query (jobstate.py) as one Cloudflare bulk job: create it
once, follow it to its end, and keep what it did.

Exactly once, step by step:

- Only the holder of the request's execution lease (the Executor's, bot.store.lease) creates or
  follows the job; every state write is lease-checked (jobstore.py). A killed process loses
  the lease, and any replica's sweeper resumes the request (`ApprovalService.sweep`).
- Before the POST the state says `creating`; once the job exists, `running` with its id. A run
  that finds `creating` (the process died around the POST) looks the job up by its comment,
  which names the request, and creates it only when there is none: one job per request across
  replicas and restarts. A run that finds `running` follows the job id.
- The API refusing bulk jobs (a 4xx answer to the POST, e.g. an account without the feature)
  is stored (`refused`): the card says so, and the request runs as chunks of its ids, the first
  BOT_BULK_SEARCH_LIMIT matches, re-checked by its frozen search (the Executor).
- Following: one GET of the job per poll, the first after `poll_first` seconds, each wait twice
  the last up to `poll_max` (so the final card comes at most that long after the job ends, and a
  long job costs few calls); the card is redrawn when the counts change, at most once a second.
  Discovery past the ceiling cancels the job (`over_ceiling`); a Cancel mark (jobstore.py) is
  sent at the next poll if the click's own cancel did not go through.
- At the end, one page of the job's failed messages (the first FAILURES_KEPT), stored with the
  state (`finished`); then every card of the messages the request holds says what the job did
  to each (`MessageCards.job_ended`: the records are made from that stored state, so a resumed
  run redoes this without adding a line twice); then the request is finished as any other (the
  lease-checked `finish`), its chunk slots filled with empty results so that the finish
  script's count holds. A run that dies before `finish` leaves the request executing, and the
  sweeper's run redoes the end from the stored state; one that dies after it leaves the end owed
  to its announcement (the audit entry of the job's end, the final card and the thread line:
  announcing.py), which a sweep redoes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.bulkjobs import BulkJob, BulkSearch
from bot.cloudflare.errors import ApiError
from bot.services.approvals.board import MessageCards
from bot.services.approvals.eligible import search_args
from bot.services.approvals.executor import RoleCheck
from bot.services.approvals.jobstate import FINISHED, JobFailure, JobReport, JobState, ceiling_of
from bot.services.approvals.jobstore import JobStore
from bot.services.approvals.models import ApprovalRequest, ApprovalState, ChunkResult
from bot.services.approvals.renewal import lease_renewed
from bot.services.approvals.store import ApprovalStore
from bot.services.audit import AuditLog
from bot.services.policy import GroupLookupError
from bot.store import StoreUnavailable

log = logging.getLogger("bot.bulkjob")
FAILURES_KEPT = 50
SHOW_EVERY = 1.0  # seconds: the card is redrawn at most this often
Show = Callable[[ApprovalRequest, JobReport], Awaitable[None]]
FALLBACK = "fallback"  # run() handed the request to the Executor (the API refused bulk jobs)


def comment_of(request_id: str) -> str:
    """The job's comment: it names the request, so a restarted run finds the job it made."""
    return f"Slack approval request {request_id}"


def job_search(made: ApprovalRequest) -> BulkSearch:
    """The request's frozen search as the job's: a release acts on what is still quarantined."""
    assert made.search is not None
    given = {k: v for k, v in search_args(made.search).items() if k in BulkSearch.model_fields}
    if made.action == "release":
        given.setdefault("delivery_status", "quarantined")
    return BulkSearch.model_validate(given)


class BulkJobRunner:
    def __init__(
        self,
        store: ApprovalStore,
        jobs: JobStore,
        client: EmailSecurityClient,
        owner: str,
        *,
        show: Show,
        cards: MessageCards | None = None,
        audit: AuditLog,
        lease_seconds: float,
        stop: asyncio.Event,
        roles: RoleCheck,
        poll_first: float = 1.0,
        poll_max: float = 8.0,
    ) -> None:
        self.store, self.jobs, self.client, self.owner = store, jobs, client, owner
        self.show, self.audit, self.stop, self.roles = show, audit, stop, roles
        self.cards = cards
        self.lease_seconds = lease_seconds
        self.poll_first, self.poll_max = poll_first, poll_max
        self._shown = 0.0
        self._drawn: JobState | None = None  # the state the card shows, as drawn last

    async def run(self, request_id: str) -> ApprovalRequest | str | None:
        """The request done (or refused), FALLBACK when it must run as chunks, None when it is
        not this run's (not executing, leased elsewhere, stopped, or held for a retry)."""
        if self.stop.is_set() or not await self.store.claim(
            request_id, self.owner, self.lease_seconds
        ):
            return None
        release = True
        try:
            async with lease_renewed(self.store, request_id, self.owner, self.lease_seconds):
                answer = await self._run(request_id)
            # A POST whose answer was lost (None while creating) may still land: let the
            # lease lapse rather than let another run look for the job too early.
            if answer is None:
                state = await self.jobs.load(request_id)
                release = state is None or state.phase != "creating"
            return answer
        finally:
            if release:
                with contextlib.suppress(StoreUnavailable):
                    await self.store.release_lease(request_id, self.owner)

    async def _run(self, request_id: str) -> ApprovalRequest | str | None:
        made = await self.store.get(request_id)
        ceiling = ceiling_of(made) if made is not None else None
        if made is None or made.state != ApprovalState.EXECUTING or ceiling is None:
            return None
        state = await self.jobs.load(made.id)
        if state is not None and state.phase == "refused":
            return FALLBACK
        try:
            refusal = await self.roles(made)
        except GroupLookupError as exc:
            log.warning("approval request %s: roles unchecked (%s); retried later", made.id, exc)
            return None
        if refusal is None and not self.store.verified(made):
            refusal = "its stored content no longer matches its approved digest; nothing was sent"
        if refusal is not None:
            return await self._refuse(made, refusal)
        if state is None or state.phase == "creating":
            state = await self._create(made, state or JobState(phase="creating", ceiling=ceiling))
            if state is None or state.phase == "refused":
                return None if state is None else FALLBACK
        if state.phase == "running":
            state = await self._follow(made, state)
            if state is None:
                return None
        return await self._finish(made, state)

    async def _refuse(self, made: ApprovalRequest, refusal: str) -> ApprovalRequest | None:
        # Audited and shown by the caller's announcement (end_audit.py, announcing.py).
        return await self.store.refuse_run(made.id, self.owner, refusal)

    # -- creating ------------------------------------------------------------------------------

    async def _create(self, made: ApprovalRequest, state: JobState) -> JobState | None:
        """The job made once: found by its comment when a run before this one may have made it
        (`state` creating), else created. The state after; None when the lease was lost or the
        POST failed (retried by a later run, which looks for the job first)."""
        job = await self._made_before(made) if state.phase == "creating" else None
        if not await self.jobs.save(made.id, self.owner, state):
            return None
        if job is None:
            folder = made.params.get("folder")
            try:
                job = await self.client.bulk_jobs.create(
                    "RELEASE" if made.action == "release" else "MOVE", job_search(made),
                    destination=folder if made.action == "move" else None,  # type: ignore[arg-type]
                    comment=comment_of(made.id),
                )  # fmt: skip
            except ApiError as exc:
                if exc.status is None or not 400 <= exc.status < 500 or exc.status == 429:
                    # The job may exist all the same (a 5xx or a lost answer says nothing of
                    # that): the card says so, and a later run looks for it before making one.
                    log.warning("approval request %s: bulk job not created: %s", made.id, exc)
                    failed = state.model_copy(update={"error": str(exc)})
                    if await self.jobs.save(made.id, self.owner, failed):
                        await self._draw(made, failed, force=True)
                    return None
                refused = state.model_copy(update={"phase": "refused", "refusal": str(exc)})
                if not await self.jobs.save(made.id, self.owner, refused):
                    return None
                await self._audit_job(made, "refused", {"refusal": str(exc)})
                await self._draw(made, refused, force=True)
                return refused
        running = _seen(state.model_copy(update={"phase": "running"}), job)
        if not await self.jobs.save(made.id, self.owner, running):
            return None
        await self._audit_job(made, "created", {"job_id": job.job_id, "ceiling": state.ceiling})
        await self._draw(made, running, force=True)
        return running

    async def _made_before(self, made: ApprovalRequest) -> BulkJob | None:
        comment = comment_of(made.id)
        found = await self.client.bulk_jobs.list()
        return next((j for j in found if j.comment == comment), None)

    # -- following -----------------------------------------------------------------------------

    async def _follow(self, made: ApprovalRequest, state: JobState) -> JobState | None:
        """Poll the job until it ends; the state then. None: stopped or the lease was lost."""
        job_id = state.job_id
        assert job_id is not None
        wait = self.poll_first
        while not state.finished:
            if await self._stopped_within(wait):
                return None
            wait = min(wait * 2, self.poll_max)
            # The Cancel mark is read until the cancel is sent: after that it changes nothing.
            asked = await self.jobs.cancel_asked(made.id) if state.cancelled_by is None else None
            try:
                if asked:
                    state = state.model_copy(update={"cancelled_by": asked})
                    job = await self._cancel(job_id)
                else:
                    job = await self.client.bulk_jobs.get(job_id)
                    if job.total_messages_discovered > state.ceiling and job.status not in FINISHED:
                        state = state.model_copy(update={"over_ceiling": True})
                        job = await self._cancel(job_id)
                state = _seen(state, job)
            except ApiError as exc:  # followed again at the next poll
                log.warning("approval request %s: job %s: %s", made.id, state.job_id, exc)
                state = state.model_copy(update={"error": str(exc)})
            if not await self.jobs.save(made.id, self.owner, state):
                return None
            await self._draw(made, state, force=state.finished)
        return state

    async def _cancel(self, job_id: str) -> BulkJob:
        try:
            return await self.client.bulk_jobs.cancel(job_id)
        except ApiError:  # already ended (or the click's cancel went first): read it
            return await self.client.bulk_jobs.get(job_id)

    async def _stopped_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)
        return self.stop.is_set()

    # -- the end -------------------------------------------------------------------------------

    async def _finish(self, made: ApprovalRequest, state: JobState) -> ApprovalRequest | None:
        if state.phase != "finished":
            if state.failed and state.job_id:
                page = await self.client.bulk_jobs.messages_page(
                    state.job_id, 1, FAILURES_KEPT, status="FAILED"
                )
                failures = [JobFailure(postfix_id=m.postfix_id, reason=m.status_message)
                            for m in page.items]  # fmt: skip
                state = state.model_copy(update={"failures": failures})
            state = state.model_copy(update={"phase": "finished", "error": None})
            if not await self.jobs.save(made.id, self.owner, state):
                return None
        # Before `finish`: a run that dies after it would leave the cards unredrawn for good.
        await self._cards_follow(made, state)
        for index in range(made.chunks_total):  # the finish script counts the chunk slots
            empty = ChunkResult(index=index, acted=[], skipped=[], note=None)
            if not await self.store.save_chunk(made.id, empty, self.owner):
                return None
        # The job's end is audited by the announcement, from the state stored (end_audit.py).
        return await self.store.finish(made.id, self.owner)

    # -- lease, card, audit --------------------------------------------------------------------

    async def _cards_follow(self, made: ApprovalRequest, state: JobState) -> None:
        """Every card of the request's messages says what the job did (redoable: the state is
        the stored one). Only the messages the request holds: see `CardKeeper.job_ended`."""
        if self.cards is None:
            return
        try:
            await self.cards.job_ended(made, state)
        except StoreUnavailable:
            raise
        except Exception:  # the job's end is recorded whatever a card shows
            log.exception("the message cards of approval request %s did not follow", made.id)

    async def _draw(self, made: ApprovalRequest, state: JobState, *, force: bool) -> None:
        # A poll that saw nothing new (only `updated_at`, which the card does not show, moved)
        # leaves the card as it is: a long job costs no Slack call per poll.
        drawn = state.model_copy(update={"updated_at": None})
        if not force and (drawn == self._drawn or time.monotonic() - self._shown < SHOW_EVERY):
            return
        self._shown = time.monotonic()
        try:
            await self.show(made, JobReport.of(state))
            self._drawn = drawn
        except StoreUnavailable:
            raise
        except Exception:  # drawing must never stop the job being followed
            log.exception("could not draw the job of approval request %s", made.id)

    async def _audit_job(
        self, made: ApprovalRequest, outcome: str, detail: dict[str, object]
    ) -> None:
        await self.audit.record(
            actor="bot", action=f"bulk job {made.action}", ids=[], outcome=outcome,
            request_id=made.id, digest=made.digest, detail=detail,
        )  # fmt: skip


def _seen(state: JobState, job: BulkJob) -> JobState:
    """`state` with what `job` says now."""
    return state.model_copy(
        update={
            "job_id": job.job_id, "status": job.status,
            "discovered": job.total_messages_discovered, "pending": job.messages_pending,
            "successful": job.messages_successful, "failed": job.messages_failed,
            "error": None, "updated_at": datetime.now(UTC),
        }
    )  # fmt: skip
