"""Buttons and menus on message cards and search results, and the modals they open.

Each element carries its target (`blocks.ids`): a button's value is the message id, a menu's
actions block names the message, a modal carries a `ModalContext`. A click on one card of a post
that holds several acts on that card's message only.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, Literal

from blocks.ids import InputId
from blocks.modals import (
    ModalContext,
    block_modal,
    move_modal,
    reclassify_modal,
    release_modal,
)
from bot.cloudflare.models import DESTINATIONS, RECLASSIFY_DISPOSITIONS, PatternType
from bot.errors import InvalidInput, StoreUnavailable
from bot.services.ports import CardRef, Origin
from handlers.commands import announce, tell
from handlers.context import Request
from handlers.replies import chosen, field

PATTERN_TYPES: dict[str, PatternType] = {"EMAIL": "EMAIL", "DOMAIN": "DOMAIN"}


async def keep_post(request: Request) -> None:
    """Keep the post a card click came from (as Slack shows it now) unless the bot keeps it
    already, so that its modal's submission can redraw that one card of it."""
    card, message = request.card, request.body.get("message") or {}
    if card is None or not message.get("blocks"):
        return
    with contextlib.suppress(StoreUnavailable):  # the redraw logs it if it needs the post
        await request.slack.posts.keep(card.channel, card.ts, message["blocks"], only_new=True)


# -- buttons -----------------------------------------------------------------------------------


async def on_open(request: Request) -> None:
    """A chooser's entry: the card of that copy, posted as `lookup` posts it."""
    channel = request.reply.channel_id or ""
    await request.services.messages.lookup_card(request.actor, request.value, channel)


def evidence(what: Literal["preview", "raw", "trace"]) -> Any:
    async def on_evidence(request: Request) -> None:
        await keep_post(request)
        await request.services.messages.evidence(
            request.actor, what, request.value, request.card, request.reply.channel_id or ""
        )

    on_evidence.__name__ = f"on_{what}"
    return on_evidence


async def on_release(request: Request) -> None:
    """Release at once, or, when that needs approval, ask the person's reason first."""
    await keep_post(request)
    actions = request.services.actions
    result = await actions.release(request.actor, [request.value], request.origin, ask_reason=True)
    if result.needs_reason is not None and result.awaiting:
        view = release_modal(context_of(request), result.awaiting, result.needs_reason)
        await request.client.views_open(trigger_id=request.body["trigger_id"], view=view)
    await tell(request.reply, result)


# -- menus and buttons that open a modal -------------------------------------------------------


def context_of(request: Request) -> ModalContext:
    card = request.card
    return ModalContext(
        message_id=card.message_id if card else request.target,
        channel_id=card.channel if card else (request.reply.channel_id or ""),
        message_ts=card.ts if card else "",
        thread_ts=card.thread_ts if card else None,
    )


async def on_move_menu(request: Request) -> None:
    choice = request.value if request.value in DESTINATIONS else None
    await _named_modal(request, lambda ctx, message: move_modal(ctx, message, choice))


async def on_reclassify_menu(request: Request) -> None:
    choice = request.value if request.value in RECLASSIFY_DISPOSITIONS else None
    await _named_modal(request, lambda ctx, message: reclassify_modal(ctx, message, choice))


async def _named_modal(request: Request, build: Any) -> None:
    """Open the modal at once (a trigger id lives 3 s), then name the message in it."""
    ctx = context_of(request)
    opened = await request.client.views_open(
        trigger_id=request.body["trigger_id"], view=build(ctx, None)
    )
    await keep_post(request)
    message = await request.services.messages.peek(request.actor, ctx.message_id)
    await request.client.views_update(view_id=opened["view"]["id"], view=build(ctx, message))


async def on_block_button(request: Request) -> None:
    """Role first (a viewer is refused before any modal), then the confirm modal at once (a
    trigger id lives 3 s), then what it would block and how much it would have matched."""
    await request.services.actions.may_block(request.actor)
    ctx = context_of(request)
    opened = await request.client.views_open(
        trigger_id=request.body["trigger_id"], view=block_modal(ctx, "")
    )
    await keep_post(request)
    preview = await request.services.actions.block_preview(request.actor, message_id=ctx.message_id)
    view = block_modal(ctx, "", preview)
    await request.client.views_update(view_id=opened["view"]["id"], view=view)


# -- modal submissions -------------------------------------------------------------------------


def submitted(request: Request) -> tuple[ModalContext, Origin, Request, dict[str, Any]]:
    """A modal's context, the origin it names (its card), the request answering in the card's
    channel, and the submitted values."""
    view = request.body["view"]
    ctx = ModalContext.load(view.get("private_metadata") or "{}")
    card = None
    if ctx.message_ts and ctx.message_id:
        card = CardRef(ctx.channel_id, ctx.message_ts, ctx.message_id, ctx.thread_ts)
    reply = dataclasses.replace(request.reply, channel_id=ctx.channel_id or None)
    answering = dataclasses.replace(request, reply=reply)
    origin = Origin(channel=ctx.channel_id or None, card=card)
    return ctx, origin, answering, view["state"]["values"]


async def on_move_submit(request: Request) -> None:
    ctx, origin, request, values = submitted(request)
    folder = chosen(values, InputId.FOLDER)
    if folder not in DESTINATIONS:
        raise InvalidInput("Pick a folder to move the message to.")
    reason = field(values, InputId.REASON).get("value") or ""
    result = await request.services.actions.move(
        request.actor, list(ctx.targets), folder, origin, reason
    )
    await tell(request.reply, result, picked=bool(ctx.message_ids))


async def on_release_submit(request: Request) -> None:
    ctx, origin, request, values = submitted(request)
    reason = (field(values, InputId.REASON).get("value") or "").strip()
    if not reason:
        raise InvalidInput("Say why the message should be released: the approver reads it.")
    actions = request.services.actions
    result = await actions.release(request.actor, list(ctx.targets), origin, reason)
    await tell(request.reply, result, picked=bool(ctx.message_ids))


async def on_reclassify_submit(request: Request) -> None:
    ctx, origin, request, values = submitted(request)
    disposition = chosen(values, InputId.DISPOSITION)
    if disposition not in RECLASSIFY_DISPOSITIONS:
        raise InvalidInput("Pick the disposition the message should have.")
    reason = field(values, InputId.REASON).get("value")
    result = await request.services.actions.reclassify(
        request.actor, ctx.message_id, disposition, origin, reason
    )
    await tell(request.reply, result)


async def on_block_submit(request: Request) -> None:
    """A card's block acts on its message's envelope sender; a command's on the pattern its
    modal carries, and is announced in the channel (it has no card to show it)."""
    ctx, origin, request, values = submitted(request)
    kind = PATTERN_TYPES.get(chosen(values, InputId.PATTERN_TYPE) or "")
    if kind is None:
        raise InvalidInput("Choose whether to block the address or its whole domain.")
    comment = field(values, InputId.COMMENT).get("value")
    actions = request.services.actions
    if ctx.pattern:
        if kind != ctx.pattern_type:
            raise InvalidInput("That choice is not the pattern the command asked to block.")
        result = await actions.block(request.actor, ctx.pattern, kind, origin, comment)
        await announce(request, result)
        return
    result = await actions.block_sender(request.actor, ctx.message_id, kind, origin, comment)
    await tell(request.reply, result)
