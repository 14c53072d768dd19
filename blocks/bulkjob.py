"""A request approved as a query, on its card: the search it is (filters and fixed window), its
ceiling, and the Cloudflare bulk job that runs it (status, counts, failures, Cancel).

Pure functions. Filter values were typed by people or taken from mail (a subject, a sender):
they go through `safe`, as literals; the job's failure reasons are the API's words, escaped.
"""

from __future__ import annotations

from slack_sdk.models.blocks import ActionsBlock, Block, ConfirmObject, SectionBlock

from blocks import parts
from blocks.ids import ActionId, BlockPrefix
from blocks.parts import mrkdwn, plain
from blocks.safety import Kind, clamp, safe
from bot.services.approvals.jobstate import (
    JOB_CEILING,
    JobReport,
    JobState,
    ceiling_is_setting,
    ceiling_of,
    uncounted,
)
from bot.services.approvals.models import ApprovalRequest, ApprovalState

FAILURES_SHOWN = 20
WINDOW = ("start", "end")


def query_section(request: ApprovalRequest) -> list[Block]:
    """What an approver approves of a query: the filters, the window, the ceiling."""
    ceiling, search = ceiling_of(request), request.search
    if ceiling is None or search is None:
        return []
    filters = ", ".join(
        f"{safe(name, 40)}: {safe(value, 200, kind=Kind.LITERAL)}"
        for name, value in sorted(search.filters.items())
        if name not in WINDOW
    )
    start, end = search.filters.get("start", "?"), search.filters.get("end", "?")
    bound = f"at most {ceiling:,} messages; the job is cancelled if it finds more"
    if ceiling_is_setting(request):
        bound = uncounted(search.matches, ceiling, request.action) + "."
    text = (
        f"*Approved as a query* (one Cloudflare bulk job)\n*Filters*: {filters or 'none'}\n"
        f"*Window*: {safe(start, 30)} to {safe(end, 30)} (fixed when it was asked)\n"
        f"*Ceiling*: {bound}"
    )
    return [SectionBlock(text=mrkdwn(clamp(text, 3000)))]


def message_list_comment(request: ApprovalRequest) -> str:
    """What the thread's file of a request's messages is: an uncounted query's are not all
    it acts on."""
    if not ceiling_is_setting(request):  # its matches were counted: they are all here
        return "Every message of this request, guarded ones first."
    return (
        f"The {len(request.ids):,} messages this query holds (its first matches), guarded ones "
        "first: sent in chunks if the API refuses bulk jobs. The bulk job acts on every match."
    )


def job_title(totals: JobReport) -> str | None:
    """The title of a finished query whose job did not complete."""
    status = totals.job.status or ""
    if totals.job.phase == "refused" or status == "COMPLETED":
        return None
    return "↩️ Job cancelled" if status == "CANCELLED" else f"⚠️ Job {safe(status, 20).lower()}"


def job_counts(job: JobState) -> str:
    return (
        f"found {job.discovered:,} · done {job.successful:,} · failed {job.failed:,} · "
        f"pending {job.pending:,}"
    )


def job_lines(request: ApprovalRequest, totals: JobReport) -> list[Block]:
    """The job as far as it went: its status and counts, why it stopped, its failures."""
    job = totals.job
    if job.phase == "refused":
        text = (
            f"*Bulk job refused by the API*: {safe(job.refusal or '', 300)}\nFalling back to "
            f"the first {len(request.ids):,} messages, re-checked and sent in chunks."
        )
        return [SectionBlock(text=mrkdwn(clamp(text, 3000)))]
    status = safe(job.status or "creating", 30).lower()
    ident = f" {safe(job.job_id, 64, kind=Kind.LITERAL)}" if job.job_id else ""  # a code span
    lines = [f"*Bulk job*{ident}: {status} · {job_counts(job)}"]
    if job.over_ceiling and ceiling_is_setting(request):  # the admin's to raise
        lines.append(
            f"⛔ Cancelled by the bot: the job found more than the ceiling of {job.ceiling:,} "
            f"messages ({JOB_CEILING}). To act on them all, raise {JOB_CEILING} and ask again."
        )
    elif job.over_ceiling:
        lines.append(
            f"⛔ Cancelled by the bot: the job found more than the ceiling of {job.ceiling:,} "
            "messages approved."
        )
    if job.cancelled_by:
        lines.append(f"↩️ Cancelled by <@{safe(job.cancelled_by, 30)}>.")
    if job.failures:
        shown = ", ".join(
            f"{safe(f.postfix_id, 64, kind=Kind.LITERAL)} ({safe(f.reason or '?', 80)})"
            for f in job.failures[:FAILURES_SHOWN]
        )
        more = job.failed - min(len(job.failures), FAILURES_SHOWN)
        lines.append(f"*Failed*: {shown}" + (f" and {more:,} more" if more > 0 else ""))
    if job.error and job.phase == "creating":
        lines.append(
            f"⚠️ The job could not be created ({safe(job.error, 200)}). The bot tries again "
            "in a few seconds, looking first for a job the failed call may have made, so that "
            "only one is ever made."
        )
    elif job.error:
        lines.append(f"Last poll failed ({safe(job.error, 200)}); retrying.")
    return [SectionBlock(text=mrkdwn(clamp("\n".join(lines), 3000)))]


def job_buttons(request: ApprovalRequest, totals: JobReport | None) -> list[Block]:
    """Cancel, while the job runs."""
    running = totals is not None and totals.job.phase == "running" and not totals.job.finished
    if request.state != ApprovalState.EXECUTING or not running:
        return []
    confirm = ConfirmObject(
        title=plain("Cancel the bulk job?"),
        text=mrkdwn("What it has done stays done; the rest is not acted on."),
        confirm=plain("Cancel the job"),
        deny=plain("Back"),
    )
    button = parts.button(
        "Cancel job", ActionId.JOB_CANCEL, request.id, style="danger", confirm=confirm
    )
    return [ActionsBlock(block_id=f"{BlockPrefix.APPROVAL}-job-{request.id}", elements=[button])]
