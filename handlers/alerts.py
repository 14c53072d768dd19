"""An alert digest's list: "List them" on a digest card, and "Next page" on the list, answered
privately a page at a time (each alert with Open, a search hit's button: its card, privately)."""

from __future__ import annotations

from blocks.alerts import DigestPage, digest_list, digest_summary
from bot.errors import InvalidInput
from handlers.context import Request

NOT_A_PAGE = "That button does not name a page of an alert digest."


async def on_digest_list(request: Request) -> None:
    try:
        page = DigestPage.load(request.value)
    except ValueError:
        raise InvalidInput(NOT_A_PAGE) from None
    listing = await request.services.digests.page(request.actor, page.digest, page.start)
    await request.reply.private_blocks(digest_list(listing), digest_summary(listing.digest))
