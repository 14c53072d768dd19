"""`/email phishguard`'s answer: the newest PhishGuard reports of the window as the alerts'
report cards (title, priority, disposition, tags, the message named, with Open), a page at a
time, a divider between them, and More for the next page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from slack_sdk.models.blocks import ActionsBlock, Block, ContextBlock, DividerBlock, SectionBlock

from blocks import parts
from blocks.alerts import report_card
from blocks.ids import ActionId
from blocks.parts import mrkdwn, page_heading, span
from bot.cloudflare.models import PhishGuardReport


def reports_list(
    reports: Sequence[PhishGuardReport],
    total: int,
    since: timedelta,
    *,
    shown_before: int = 0,
    more: str | None = None,
) -> list[Block]:
    """One page of the window's reports (newest first; at most REPORTS_SHOWN,
    bot/services/phishguard.py) of `total`, `more` the next page's key."""
    window = f"in the last {span(since)}"
    if not reports:
        return [SectionBlock(text=mrkdwn(f"No PhishGuard reports {window}."))]
    heading = page_heading(
        "PhishGuard reports", "PhishGuard reports", total, f" {window}", shown_before, len(reports)
    )
    blocks: list[Block] = [heading]
    for report in reports:
        blocks += [DividerBlock(), *report_card(report, compact=True)]
    if more is not None:
        blocks.append(ActionsBlock(elements=[parts.button("More", ActionId.PHISHGUARD_MORE, more)]))
    blocks.append(ContextBlock(elements=[mrkdwn("*Open* shows the message's card to you only.")]))
    return blocks
