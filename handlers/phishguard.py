"""`/email phishguard [since:7d]`: the newest PhishGuard reports, privately, a page at a time
(More). Their Open buttons are search's (handlers/search.py `on_open`), as on the alerts' report
posts."""

from __future__ import annotations

from datetime import timedelta

from blocks.phishguard import reports_list
from bot.services.phishguard import Reports
from handlers.context import Request
from handlers.replies import Reply


async def _show(reply: Reply, found: Reports) -> None:
    blocks = reports_list(
        found.reports, found.total, found.since, shown_before=found.shown_before,
        more=found.more,
    )  # fmt: skip
    await reply.private_blocks(blocks, f"PhishGuard reports: {found.total}")


async def show_reports(request: Request, since: timedelta) -> None:
    await _show(request.reply, await request.services.phishguard.reports(request.actor, since))


async def on_more(request: Request) -> None:
    await _show(request.reply, await request.services.phishguard.more(request.actor, request.value))
