"""Reclassify submissions: `/email submissions [since:7d] [status:…]` and the list's More."""

from __future__ import annotations

from blocks.submissions import submissions_list
from bot.services.submissions import SubmissionsPage
from handlers.context import Request
from handlers.replies import Reply


async def show_submissions(reply: Reply, page: SubmissionsPage) -> None:
    listed = page.listed
    blocks = submissions_list(
        listed.entries, since=page.since, status=page.status,
        shown_before=listed.shown_before, total=listed.total, more=listed.more,
    )  # fmt: skip
    await reply.private_blocks(blocks, f"Submissions: {len(listed.entries)} shown")


async def on_more(request: Request) -> None:
    page = await request.services.submissions.more(request.actor, request.value)
    await show_submissions(request.reply, page)
