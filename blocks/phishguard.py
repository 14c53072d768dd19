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
from blocks.parts import mrkdwn
from bot.cloudflare.models import PhishGuardReport


def _window(since: timedelta) -> str:
    seconds = int(since.total_seconds())
    if seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} day{'s' if days != 1 else ''}"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hours"
    return f"{seconds // 60} minutes"


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
    window = f"in the last {_window(since)}"
    if not reports:
        return [SectionBlock(text=mrkdwn(f"No PhishGuard reports {window}."))]
    first, last = shown_before + 1, shown_before + len(reports)
    title = f"*{total} PhishGuard reports* {window} · showing {first}-{last}"
    blocks: list[Block] = [SectionBlock(text=mrkdwn(title))]
    for report in reports:
        blocks += [DividerBlock(), *report_card(report, compact=True)]
    if more is not None:
        blocks.append(ActionsBlock(elements=[parts.button("More", ActionId.PHISHGUARD_MORE, more)]))
    blocks.append(ContextBlock(elements=[mrkdwn("*Open* shows the message's card to you only.")]))
    return blocks
