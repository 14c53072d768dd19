"""The account's reclassify submissions a page at a time: for each, the verdict asked for and
the original one, its status and outcome, who asked and when. A subject is the email's
(attacker text, through `safe`); ids and addresses are literals."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from slack_sdk.models.blocks import ActionsBlock, Block, SectionBlock

from blocks import parts
from blocks.ids import ActionId
from blocks.parts import mrkdwn, page_heading, safe_or, span, when
from blocks.safety import Kind, safe
from bot.cloudflare.models import Submission

SUBJECT_CHARS = 150
PER_SECTION = 5  # submissions to a section: 5 of at most ~560 characters (3,000 allowed)


def _line(s: Submission) -> str:
    asked = safe(s.requested_disposition, 30) or "?"
    was = safe(s.original_disposition, 30) or "?"
    status = safe(s.status, 30) or "unknown"
    head = f"*{safe_or(s.subject, SUBJECT_CHARS, '(no subject)')}*"
    verdicts = f"{was} → asked {asked} · {status}"
    if s.outcome or s.outcome_disposition:
        verdicts += f": {safe(s.outcome, 40) or 'decided'}"
        if s.outcome_disposition:
            verdicts += f" ({safe(s.outcome_disposition, 30)})"
    who = safe(s.requested_by, 80, kind=Kind.LITERAL) or "?"
    kind = f"{safe(s.type, 10).lower()} " if s.type else ""
    ids = f"id {safe_or(s.submission_id, 60, kind=Kind.LITERAL)}"
    if s.original_postfix_id:
        ids += f" · message {safe(s.original_postfix_id, 60, kind=Kind.LITERAL)}"
    return f"{head}\n{verdicts}\n{kind}submission by {who} at {when(s.requested_at)} · {ids}"


def submissions_list(
    submissions: Sequence[Submission],
    *,
    since: timedelta,
    status: str | None,
    shown_before: int,
    total: int | None,
    more: str | None,
) -> list[Block]:
    """One page of submissions (at most PAGE, bot/services/paging.py)."""
    what = f"in the last {span(since)}" + (f", {safe(status, 20)}" if status else "")
    if not submissions:
        return [SectionBlock(text=mrkdwn(f"No submissions {what}."))]
    heading = page_heading(
        "submissions", "Submissions", total, f" {what}", shown_before, len(submissions)
    )
    blocks: list[Block] = [heading]
    lines = [_line(s) for s in submissions]
    for start in range(0, len(lines), PER_SECTION):
        blocks.append(SectionBlock(text=mrkdwn("\n\n".join(lines[start : start + PER_SECTION]))))
    if more is not None:
        blocks.append(
            ActionsBlock(elements=[parts.button("More", ActionId.SUBMISSIONS_MORE, more)])
        )
    return blocks
