"""The VIP list: `/email vip [text]`, `/email vip add <email> <name…>` (answered with a
confirmation whose Add button adds), the list's More, and Remove on an entry."""

from __future__ import annotations

from blocks.vip import add_confirmation, read_add_value, vip_added_text, vip_list, vip_removed_text
from bot.errors import InvalidInput
from bot.services.vip import VipPage
from handlers.context import Request
from handlers.replies import Reply


async def show_vips(reply: Reply, page: VipPage) -> None:
    blocks = vip_list(
        page.entries, text=page.text, shown_before=page.shown_before, total=page.total,
        more=page.more,
    )  # fmt: skip
    await reply.private_blocks(blocks, f"VIP list: {len(page.entries)} shown")


async def confirm_add(request: Request, email: str, name: str) -> None:
    """Ask first (operators only: a viewer is refused before any question)."""
    await request.services.vip.may_add(request.actor)
    await request.reply.private_blocks(add_confirmation(email, name), "Add to the VIP list?")


async def on_add(request: Request) -> None:
    try:
        email, name = read_add_value(request.value)
    except ValueError:
        raise InvalidInput("That button no longer works; run `vip add` again.") from None
    done = await request.services.vip.add(request.actor, email, name)
    await request.reply.private(vip_added_text(done.entry, unaudited=done.unaudited))


async def on_more(request: Request) -> None:
    await show_vips(request.reply, await request.services.vip.more(request.actor, request.value))


async def on_remove(request: Request) -> None:
    done = await request.services.vip.remove(request.actor, request.value)
    await request.reply.private(vip_removed_text(done.entry, unaudited=done.unaudited))
