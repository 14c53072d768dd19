"""Search results you can act on: the next page; a hit's card, privately ("Open"), and then in
the channel ("Share in channel"); "Release selected" / "Move selected…" on the hits ticked on a
page. The ticked hits are read from the page's state, which Slack sends with every click on the
page; a tick itself is only acknowledged (Slack shows the box ticked, nothing else happens)."""

from __future__ import annotations

from slack_bolt.context.ack.async_ack import AsyncAck

from blocks import fallback_text, move_modal, release_modal
from blocks.ids import ActionId
from blocks.modals import ModalContext
from blocks.search import shareable_card
from bot.commands import SEARCH_PAGE
from bot.errors import InvalidInput
from bot.services.ports import Origin
from handlers.commands import show_page, tell
from handlers.context import Request

NOTHING_TICKED = "Tick the hits to act on first (the box beside each), then click the button again."
SHARED = "Shared in the channel: the card there follows the message's changes."


async def on_more(request: Request) -> None:
    await show_page(
        request.reply, await request.services.messages.more(request.actor, request.value)
    )


async def on_tick(ack: AsyncAck) -> None:
    """A box ticked or unticked: Slack keeps it in the page's state until a button is
    clicked; the bot has nothing to do yet."""
    await ack()


async def on_open(request: Request) -> None:
    """A hit's card, only for the person who opened it."""
    found = await request.services.messages.details(request.actor, request.value)
    blocks = shareable_card(found.message, found.detections, found.actions)
    await request.reply.private_blocks(blocks, fallback_text(found.message))


async def on_share(request: Request) -> None:
    """Post the private card in the channel (a card like any other, following the message),
    and replace the private one, which cannot be redrawn, by a note that it was shared."""
    channel = request.reply.channel_id or ""
    await request.services.messages.lookup_card(request.actor, request.value, channel)
    await request.reply.replace(SHARED)


async def on_release_selected(request: Request) -> None:
    """One release of the ticked hits, or one approval request: the reason is asked first,
    as a card's Release does, when it needs approval."""
    ids = ticked(request)
    origin = _origin(request)
    result = await request.services.actions.release(request.actor, ids, origin, ask_reason=True)
    if result.needs_reason is not None and result.awaiting:
        ctx = _context(request, [m.id for m in result.awaiting])
        view = release_modal(ctx, result.awaiting, result.needs_reason)
        await request.client.views_open(trigger_id=request.body["trigger_id"], view=view)
    await tell(request.reply, result, picked=True)


async def on_move_selected(request: Request) -> None:
    """The move modal for the ticked hits (the folder and a reason); its submission moves
    them, or asks for approval (handlers/cards.py on_move_submit). A viewer is refused first."""
    ids = ticked(request)
    await request.services.actions.may_move(request.actor)
    view = move_modal(_context(request, ids), None, None)
    await request.client.views_open(trigger_id=request.body["trigger_id"], view=view)


def ticked(request: Request) -> list[str]:
    """The ids ticked on the page clicked, as Slack reports its state; refused when none."""
    values = (request.body.get("state") or {}).get("values") or {}
    found = [
        option.get("value")
        for block in values.values()
        if isinstance(block, dict)
        for option in (block.get(ActionId.HIT_PICK) or {}).get("selected_options") or []
    ]
    ids = list(dict.fromkeys(i for i in found if isinstance(i, str) and i))
    if not ids:
        raise InvalidInput(NOTHING_TICKED)
    return ids[:SEARCH_PAGE]  # a page has SEARCH_PAGE tick boxes: Slack reports no more


def _origin(request: Request) -> Origin:
    """A search page is no card: outcomes go on new cards in its channel, as a command's."""
    return Origin(channel=request.reply.channel_id)


def _context(request: Request, ids: list[str]) -> ModalContext:
    return ModalContext(message_ids=tuple(ids), channel_id=request.reply.channel_id or "")
