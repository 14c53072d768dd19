"""The allow policies and trusted domains lists: `/email allowed|trusted [text]`, their "More",
Remove on each (which redraws the page it was clicked on), `/email disallow|untrust <target>`,
and the modal `/email allow <sender|domain>` opens (its submission: handlers/allowing.py)."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject

from blocks.allowlist import allow_modal, removed_text, settings_list
from blocks.modals import ModalContext
from bot.cloudflare.models import PatternType
from bot.errors import InvalidInput
from bot.services.allowlist import AllowlistService, Listing, RemovedEntry
from bot.services.paging import Page, page_key
from handlers.context import Request, Work


async def _page(services: AllowlistService, actor: str, listing: Listing, key: str) -> Page[Any]:
    if listing == "allowed":
        return await services.allowed(actor, key)
    return await services.trusted(actor, key)


def _blocks(listing: Listing, page: Page[Any]) -> list[Block]:
    return settings_list(
        listing, page.entries, text=page.text, shown_before=page.shown_before, total=page.total,
        key=page.key, more=page.more,
    )  # fmt: skip


async def show_list(request: Request, listing: Listing, text: str) -> None:
    page = await _page(request.services.allowlist, request.actor, listing, page_key(1, text))
    await request.reply.private_blocks(
        _blocks(listing, page), f"{listing}: {len(page.entries)} shown"
    )


def on_more(listing: Listing) -> Work:
    async def more(request: Request) -> None:
        page = await _page(request.services.allowlist, request.actor, listing, request.value)
        await request.reply.private_blocks(_blocks(listing, page), f"{listing}: more")

    more.__name__ = f"on_{listing}_more"
    return more


async def remove(request: Request, listing: Listing, target: str) -> RemovedEntry:
    service = request.services.allowlist
    if listing == "allowed":
        return await service.remove_allowed(request.actor, target)
    return await service.remove_trusted(request.actor, target)


async def removed_by_command(request: Request, listing: Listing, target: str) -> None:
    done = await remove(request, listing, target)
    await request.reply.private(_said(done))


def _said(done: RemovedEntry) -> str:
    return removed_text(done.what, done.pattern, done.entry_id, unaudited=done.unaudited)


def on_remove(listing: Listing) -> Work:
    async def removing(request: Request) -> None:
        """Remove the entry, then redraw the page the button was on, saying what went."""
        entry_id, _, key = request.value.partition(" ")
        if not entry_id:
            raise InvalidInput(f"That entry cannot be named; run `{listing}` again.")
        done = await remove(request, listing, entry_id)
        page = await _page(request.services.allowlist, request.actor, listing, key or "1:")
        said = ContextBlock(elements=[MarkdownTextObject(text=_said(done))])
        await request.reply.replace_blocks([said, *_blocks(listing, page)], _said(done))

    removing.__name__ = f"on_{listing}_remove"
    return removing


async def open_allow_modal(
    request: Request, pattern: str, pattern_type: PatternType, reason: str
) -> None:
    """`/email allow`: the modal (kind, verify sender, comment), the pattern the command named;
    role first, so nobody who may not ask sees it."""
    await request.services.allowlist.may_allow(request.actor)
    ctx = ModalContext(
        channel_id=request.reply.channel_id or "", pattern=pattern, pattern_type=pattern_type
    )
    view = allow_modal(ctx, [(pattern_type, pattern)], comment=reason)
    await request.client.views_open(trigger_id=request.body["trigger_id"], view=view)
