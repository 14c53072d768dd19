"""`/email phishguard`'s answer: the newest PhishGuard reports of the window as the alerts'
report cards (title, priority, disposition, tags, the message named, with Open), a divider
between them, and how many more there were."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from slack_sdk.models.blocks import Block, ContextBlock, DividerBlock, SectionBlock

from blocks.alerts import report_card
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


def reports_list(reports: Sequence[PhishGuardReport], total: int, since: timedelta) -> list[Block]:
    """The reports given (the newest; at most REPORTS_SHOWN, bot/services/phishguard.py), of
    `total` in the window."""
    window = f"in the last {_window(since)}"
    if not reports:
        return [SectionBlock(text=mrkdwn(f"No PhishGuard reports {window}."))]
    title = f"*{total} PhishGuard reports* {window}"
    if total > len(reports):
        title += f" · the newest {len(reports)} shown; a shorter `since:` shows the others"
    blocks: list[Block] = [SectionBlock(text=mrkdwn(title))]
    for report in reports:
        blocks += [DividerBlock(), *report_card(report, compact=True)]
    blocks.append(ContextBlock(elements=[mrkdwn("*Open* shows the message's card to you only.")]))
    return blocks
