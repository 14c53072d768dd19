"""The blocked senders list and the protected domains: `/email blocked|unblock|domains`, the
list's "More", and Unblock (on the list or on a card whose sender is blocked)."""

from __future__ import annotations

from blocks.blocklist import blocked_list, domains_list, unblocked_text
from bot.services.blocklist import BlockedPage
from bot.services.ports import CardRef
from handlers.context import Request
from handlers.replies import Reply


async def show_blocked(reply: Reply, page: BlockedPage) -> None:
    blocks = blocked_list(
        page.entries, text=page.text, shown_before=page.shown_before, total=page.total,
        more=page.more,
    )  # fmt: skip
    await reply.private_blocks(blocks, f"Blocked senders: {len(page.entries)} shown")


async def unblock(request: Request, target: str, card: CardRef | None = None) -> None:
    done = await request.services.blocklist.unblock(request.actor, target, card)
    await request.reply.private(unblocked_text(done.entry, unaudited=done.unaudited))


async def show_domains(request: Request) -> None:
    domains, total = await request.services.blocklist.domains(request.actor)
    await request.reply.private_blocks(domains_list(domains, total), f"{total} protected domains")


async def on_more(request: Request) -> None:
    await show_blocked(
        request.reply, await request.services.blocklist.more(request.actor, request.value)
    )


async def on_unblock(request: Request) -> None:
    """Unblock on the list (an ephemeral message: no card) or on a card's "Sender blocked"
    line, whose card then shows it."""
    await unblock(request, request.value, request.card)
