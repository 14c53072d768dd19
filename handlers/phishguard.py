"""`/email phishguard [since:7d]`: the newest PhishGuard reports, privately. Their Open buttons
are search's (handlers/search.py `on_open`), as on the alerts' report posts."""

from __future__ import annotations

from datetime import timedelta

from blocks.phishguard import reports_list
from handlers.context import Request


async def show_reports(request: Request, since: timedelta) -> None:
    found = await request.services.phishguard.reports(request.actor, since)
    blocks = reports_list(found.reports, found.total, found.since)
    await request.reply.private_blocks(blocks, f"PhishGuard reports: {found.total}")
