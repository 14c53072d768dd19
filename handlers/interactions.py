"""Buttons and menus on cards and search results, and the modals they open. Each click is
acknowledged at once; a click on a stale card gets a private explanation, never silence."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from blocks import actions as ids
from blocks.modals import ModalContext, block_modal, move_modal, reclassify_modal
from bot.app import Services
from bot.cloudflare.models import DESTINATIONS, RECLASSIFY_DISPOSITIONS
from bot.observability import set_outcome
from bot.services.policy import Role
from handlers import acts, commands, flows
from handlers.flows import Card
from handlers.replies import Reply, answering, field, rate_limit_notices

Body = dict[str, Any]
ClickHandler = Callable[[Reply, Body], Awaitable[None]]
SubmitHandler = Callable[[Reply, ModalContext, "Card | None", Body], Awaitable[None]]


def _card(body: Body) -> Card | None:
    """The card a click came from, when it is a channel message (not an ephemeral one)."""
    container = body.get("container") or {}
    if container.get("type") != "message" or container.get("is_ephemeral"):
        return None
    return Card(container["channel_id"], container["message_ts"])


def _value(body: Body) -> str:
    action = body["actions"][0]
    if "selected_option" in action:
        return str(action["selected_option"]["value"])
    return str(action.get("value", ""))


def register(app: AsyncApp, services: Services) -> None:
    def clicked(action_id: str, doing: str) -> Callable[[ClickHandler], ClickHandler]:
        """Decorator: ack, build the reply, and run the handler under `answering`."""

        def wrap(handler: ClickHandler) -> ClickHandler:
            @app.action(action_id)
            async def listener(ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
                await ack()
                reply = Reply.to(services, client, body)
                async with (
                    services.gate.slot() as admitted,
                    rate_limit_notices(reply),
                    answering(reply, doing),
                ):
                    if not admitted:
                        set_outcome("busy")
                        await reply.busy()
                        return
                    await handler(reply, body)

            return handler

        return wrap

    @clicked(ids.OPEN, "opening the message")
    async def on_open(reply: Reply, body: Body) -> None:
        if await flows.allowed(services, reply, Role.VIEWER, "look up messages"):
            await flows.lookup(services, reply, _value(body))

    @clicked(ids.SEARCH_MORE, "loading more results")
    async def on_more(reply: Reply, body: Body) -> None:
        if not await flows.allowed(services, reply, Role.VIEWER, "search"):
            return
        saved = await services.searches.load(_value(body))
        if saved is None:
            await reply.private(
                "These results have expired (searches are kept for an hour); run the search again."
            )
            return
        await commands.search(services, reply, saved)

    async def on_view(reply: Reply, body: Body, verb: str) -> None:
        role = commands.VIEW_ROLE[verb]
        if not await flows.allowed(services, reply, role, f"see a message's {verb}"):
            return
        message = await flows.one_message(services, reply, _value(body))
        card = _card(body)
        if message is None or card is None:
            return
        await flows.show(services, reply, verb, message, card)

    for action_id, verb in ((ids.PREVIEW, "preview"), (ids.RAW, "raw"), (ids.TRACE, "trace")):
        clicked(action_id, f"fetching the {verb}")(functools.partial(on_view, verb=verb))

    @clicked(ids.RELEASE, "releasing the message")
    async def on_release(reply: Reply, body: Body) -> None:
        await acts.release(services, reply, [_value(body)], _card(body))

    async def open_modal(client: AsyncWebClient, body: Body, view: Any) -> None:
        # trigger_id lives 3 s: open the modal before any slow call.
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    def context(body: Body, message_id: str) -> ModalContext:
        card = _card(body)
        return ModalContext(
            message_id=message_id,
            channel_id=card.channel_id if card else str((body.get("channel") or {}).get("id", "")),
            message_ts=card.ts if card else "",
        )

    def menu(action_id: str, choices: tuple[str, ...], modal: Callable[..., Any]) -> None:
        """A card menu whose choice opens `modal` with that choice preselected."""

        @app.action(action_id)
        async def on_choice(ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
            await ack()
            chosen = _value(body) if _value(body) in choices else None
            ctx = context(body, _card_message_id(body))
            await open_modal(client, body, modal(ctx, None, chosen))

    menu(ids.MOVE, DESTINATIONS, move_modal)
    menu(ids.RECLASSIFY, RECLASSIFY_DISPOSITIONS, reclassify_modal)

    @app.action(ids.BLOCK)
    async def on_block(ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        await ack()
        ctx = context(body, _value(body))
        opened = await client.views_open(trigger_id=body["trigger_id"], view=block_modal(ctx, ""))
        # Then show what exactly would be blocked, once the message is fetched.
        reply = dataclasses.replace(Reply.to(services, client, body), response_url=None)
        async with answering(reply, "preparing the block"):
            message = await flows.one_message(services, reply, ctx.message_id)
            sender = (message.from_ or message.envelope_from or "") if message else ""
            if sender:
                await client.views_update(
                    view_id=opened["view"]["id"], view=block_modal(ctx, sender)
                )

    register_modals(app, services)


def _card_message_id(body: Body) -> str:
    """The investigate id of the card a menu sits on: the card's buttons carry it."""
    for block in (body.get("message") or {}).get("blocks", []):
        for element in block.get("elements", []) or []:
            if element.get("action_id") in (ids.PREVIEW, ids.TRACE, ids.BLOCK) and element.get(
                "value"
            ):
                return str(element["value"])
    return ""


def register_modals(app: AsyncApp, services: Services) -> None:
    def submitted(callback_id: str, doing: str) -> Callable[[SubmitHandler], SubmitHandler]:
        def wrap(handler: SubmitHandler) -> SubmitHandler:
            @app.view(callback_id)
            async def listener(ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
                await ack()
                view = body["view"]
                ctx = ModalContext.load(view.get("private_metadata") or "{}")
                reply = Reply(
                    client,
                    body["user"]["id"],
                    ctx.channel_id or None,
                    None,
                    command=services.settings.bot_command,
                )
                card = Card(ctx.channel_id, ctx.message_ts) if ctx.message_ts else None
                async with answering(reply, doing):
                    await handler(reply, ctx, card, view["state"]["values"])

            return handler

        return wrap

    @submitted(ids.MOVE_MODAL, "moving the message")
    async def on_move(reply: Reply, ctx: ModalContext, card: Card | None, values: Body) -> None:
        folder = (field(values, ids.FOLDER_INPUT) or {}).get("selected_option", {}).get("value")
        if folder not in DESTINATIONS:
            await reply.private("Pick a folder to move the message to.")
            return
        await acts.move(services, reply, [ctx.message_id], folder, card)

    @submitted(ids.RECLASSIFY_MODAL, "reclassifying the message")
    async def on_reclassify(
        reply: Reply, ctx: ModalContext, card: Card | None, values: Body
    ) -> None:
        disposition = (
            (field(values, ids.DISPOSITION_INPUT) or {}).get("selected_option", {}).get("value")
        )
        reason = (field(values, ids.REASON_INPUT) or {}).get("value")
        if disposition not in RECLASSIFY_DISPOSITIONS:
            await reply.private("Pick the disposition the message should have.")
            return
        await acts.reclassify(services, reply, ctx.message_id, disposition, reason, card)

    @submitted(ids.BLOCK_MODAL, "blocking the sender")
    async def on_block(reply: Reply, ctx: ModalContext, card: Card | None, values: Body) -> None:
        kind = (field(values, ids.PATTERN_TYPE_INPUT) or {}).get("selected_option", {}).get("value")
        comment = (field(values, ids.COMMENT_INPUT) or {}).get("value")
        if kind not in ("EMAIL", "DOMAIN"):
            await reply.private("Choose whether to block the address or its whole domain.")
            return
        await acts.block_from_card(services, reply, ctx.message_id, kind, comment, card)
