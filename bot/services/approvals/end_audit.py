"""The audit entry of a run's end, written once by its announcement (announcing.py), never by
the step that ended the run: a replica killed between ending a run and writing its entry would
otherwise leave the security team's record without it. The announcement is redone by a sweep
until it is complete, so the entry is too:

- The announcer writes the entry first (before the card and the thread), then marks it written
  (`Endings.audited`: `{approvals}:request:<id>:audited`, kept as long as the request's record).
- A redo (a sweep announcing an end whose announcer died) finds the mark and writes nothing;
  without the mark, its announcer may have died between writing the entry and marking it, so
  the redo looks for the entry in the trail (`AuditLog.recent`, the newest SCAN_BACK entries)
  and writes it only when it is not there.

The entry's content is the one the run's end always had: "result <action>" with the chunks'
totals (a run as chunks), "bulk job <action>" with the job's counts (a query's bulk job),
"refuse <action>" with the reason (a run the bot refused; as the Executor or the bulk-job
runner wrote it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.services.approvals.endings import Endings
from bot.services.approvals.jobstate import JobState, is_query
from bot.services.approvals.models import ApprovalRequest, ApprovalState, ChunkResult, report
from bot.services.audit import AuditLog

TRAIL_LOOK = 20  # entries of the request a redo reads back (newest first) for the end's entry


@dataclass(frozen=True)
class EndEntry:
    action: str
    outcome: str
    ids: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)


def end_entry(
    ended: ApprovalRequest, job: JobState | None, results: Sequence[ChunkResult]
) -> EndEntry:
    """The audit entry of `ended`'s end (done or refused by the bot); `job` is a query's stored
    job state, `results` the chunk results of a run as chunks."""
    if ended.state == ApprovalState.REFUSED:
        if is_query(ended) and (job is None or job.phase != "refused"):  # the bulk-job runner's
            return EndEntry(f"refuse {ended.action}", "refused",
                            detail={"reason": ended.end_reason})  # fmt: skip
        return EndEntry(
            f"refuse {ended.action}", "refused", ended.ids,
            {"reason": ended.end_reason, "approved_by": sorted(ended.approvers),
             "chunks_done": ended.chunks_done, "chunks_total": ended.chunks_total},
        )  # fmt: skip
    if job is not None and job.phase == "finished":
        return EndEntry(
            f"bulk job {ended.action}", "failures" if job.failed else "done",
            detail={"job_id": job.job_id, "status": job.status, "discovered": job.discovered,
                    "successful": job.successful, "failed": job.failed,
                    "over_ceiling": job.over_ceiling, "cancelled_by": job.cancelled_by},
        )  # fmt: skip
    totals = report(results)
    return EndEntry(
        f"result {ended.action}", "failures" if totals.failed or totals.errors else "done",
        ended.ids,
        {"acted": totals.acted, "succeeded": totals.succeeded, "skipped": totals.skipped,
         "not_found": totals.not_found, "failed": len(totals.failed),
         "undelivered": len(totals.undelivered), "failed_ids": totals.failed[:20],
         "errors": totals.errors[:5], **({"notes": totals.notes[:5]} if totals.notes else {})},
    )  # fmt: skip


async def audit_end(
    audit: AuditLog, endings: Endings, ended: ApprovalRequest, entry: EndEntry, *, redo: bool
) -> None:
    """Write `entry` for `ended` unless it is written already, then mark it written. `redo`:
    an earlier announcer may have written it (and died before marking it)."""
    if await endings.was_audited(ended.id):
        return
    # A redo looks in the trail first. It misses the entry only when more than SCAN_BACK
    # entries were appended between the dead announcer's write and this look (a lease later:
    # seconds), or when that announcer is alive but was stalled past its lease and writes as
    # this one looks. Then the trail holds the entry twice, the same content under the same
    # request id and digest: a doubled entry misleads nobody, a lost one would leave no record
    # of what the run did.
    if not (redo and await _in_trail(audit, ended.id, entry)):
        await audit.record(
            actor="bot", action=entry.action, ids=entry.ids, outcome=entry.outcome,
            request_id=ended.id, digest=ended.digest, detail=entry.detail,
        )  # fmt: skip
    await endings.audited(ended.id)


async def _in_trail(audit: AuditLog, request_id: str, entry: EndEntry) -> bool:
    found = await audit.recent(TRAIL_LOOK, request_id=request_id)
    return any(e.action == entry.action and e.outcome == entry.outcome for e in found)
