"""Announcing the end of a run (done, or refused by the bot): the request's card drawn in its
final state, the "finished" or "refused" line in its thread, the cards of its messages
following. Done by the replica that ended the run, right after; redone by any replica's sweep
when that one died (or failed) before it was all shown.

What happens once and what may be redone, step by step (endings.py keeps the Redis side):

- The run's audit entry ("result <action>", a bulk job's end, or the bot's refusal) is the
  announcement's first step, before anything is shown, and is written once (end_audit.py):
  marked written; a redo without the mark looks for it in the trail before writing it. The
  step that ends the run does not write it, so a replica killed right after ending a run
  loses no audit entry: the sweep that announces its end writes it.
- The script that ends a run also records it as unannounced, in the same step: no run ends
  without its announcement owed. The announcer removes the record once all is shown.
- The announcer keeps the record taken while it works (re-taken every third of a lease), so a
  slow Slack does not hand it to another replica; a record left a lease untouched (its announcer
  died) is taken by exactly one sweeper (`take_due`), which announces it again.
- The card's redraw and the message cards are redoable: the card is drawn from the stored
  request, and each message card gains the run's record once (the record is the same each time:
  `CardKeeper.settled` dates it by the request's end; a bulk job's cards followed before the run
  was finished, bulkjob.py).
- The thread line is claimed (`first_telling`) just before it is said. A later announcer that
  finds the claim taken reads the thread (the line carries message metadata naming the request
  and the event) and says it only when it is not there: a line Slack took as the bot died is
  not said twice, and one it never got is not lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from bot.services.approvals.base import ApprovalBase
from bot.services.approvals.end_audit import EndEntry, audit_end, end_entry
from bot.services.approvals.jobstate import JobReport, JobState, is_query
from bot.services.approvals.models import (
    ApprovalRequest,
    ApprovalState,
    ExecutionReport,
    report,
)
from bot.store import StoreUnavailable

log = logging.getLogger("bot.approvals")

ANNOUNCE_BATCH = 20  # ends a sweep takes over at once
GIVE_UP = timedelta(days=1)  # an end still not shown by then (Slack refusing) is dropped


class Announcing(ApprovalBase):
    async def announce(self, ended: ApprovalRequest, *, redo: bool = False) -> None:
        """Audit the end of `ended` (done or refused) and show it everywhere it shows; safe to
        redo (`redo`: a sweep announcing an end whose announcer died or failed)."""
        async with self._kept(ended.id):
            job = await self.jobs.load(ended.id) if is_query(ended) else None
            by_job = job is not None and job.phase == "finished"
            done = ended.state == ApprovalState.DONE
            results = await self.store.chunks(ended.id) if done and not by_job else []
            audited = await self._audit(ended, end_entry(ended, job, results), redo=redo)
            if ended.state == ApprovalState.REFUSED:
                await self.board.show(ended, _beside(job, await self._totals(ended)))
                await self.board.say_once(ended, "refused", None, self._first(ended))
                nothing_ran = not ended.chunks_done and (job is None or job.phase == "refused")
                if nothing_ran:  # else some ran: "not done" would not be true
                    await self._cards_ended(ended, "bot")
            elif job is not None and by_job:
                # The cards followed the job before the run was finished (bulkjob.py).
                totals = JobReport.of(job)
                await self.board.show(ended, totals)
                await self.board.say_once(ended, "finished", totals, self._first(ended))
            else:
                await self.board.show(ended, _beside(job, report(results)))
                await self.board.say_once(ended, "finished", report(results), self._first(ended))
                if self.cards is not None:
                    await self.cards.settled(ended, results)
        if audited:  # else left for a sweep, which writes the entry (and shows the end again)
            await self.store.endings.announced(ended.id)

    async def _audit(self, ended: ApprovalRequest, entry: EndEntry, *, redo: bool) -> bool:
        """Write the end's audit entry once (end_audit.py); False when it could not be."""
        try:
            await audit_end(self.audit, self.store.endings, ended, entry, redo=redo)
        except Exception:  # the end is shown all the same; the entry is tried again a lease on
            log.exception("approval request %s: the audit entry of its end could not be "
                          "written", ended.id)  # fmt: skip
            return False
        return True

    async def announce_due(self) -> None:
        """Announce the ends whose announcer died or failed a lease ago (the sweep's part)."""
        taken = await self.store.endings.take_due(
            self.store.clock(), self.lease_seconds, ANNOUNCE_BATCH
        )
        for request_id in taken:
            ended = await self.store.get(request_id)
            if ended is None or ended.state not in (ApprovalState.DONE, ApprovalState.REFUSED):
                await self.store.endings.announced(request_id)  # gone: nothing left to show
                continue
            if ended.ended_at is not None and ended.ended_at < self.store.clock() - GIVE_UP:
                log.error("approval request %s: its end could not be shown for a day; "
                          "no longer tried", request_id)  # fmt: skip
                await self.store.endings.announced(request_id)
                continue
            log.info("approval request %s: announcing its end (its replica did not)", request_id)
            try:
                await self.announce(ended, redo=True)
            except StoreUnavailable:
                raise
            except Exception:  # the others are shown all the same; this one again a lease on
                log.exception("approval request %s: its end could not be shown", request_id)

    def _first(self, ended: ApprovalRequest) -> Callable[[], Awaitable[bool]]:
        return lambda: self.store.endings.first_telling(ended.id)

    @contextlib.asynccontextmanager
    async def _kept(self, request_id: str) -> AsyncIterator[None]:
        """Keep the announcement of `request_id` taken while the block runs."""

        async def keep() -> None:
            while True:
                await asyncio.sleep(self.lease_seconds / 3)
                with contextlib.suppress(StoreUnavailable):  # tried again at the next beat
                    await self.store.endings.keep(request_id, self.store.clock())

        keeper = asyncio.create_task(keep())
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper


def _beside(job: JobState | None, totals: ExecutionReport | None) -> ExecutionReport | None:
    """The card's totals: a query's job beside the chunks it fell back to, or its job alone."""
    if job is None:
        return totals
    return JobReport.beside(job, totals) if job.phase == "refused" else JobReport.of(job)
