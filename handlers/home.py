"""App Home and the "Investigate email" message shortcut."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks import actions as ids
from blocks.home import home_view
from bot.app import Services
from bot.cloudflare.ids import find_message_ids
from bot.services.policy import Role
from bot.store import StoreUnavailable
from handlers import flows
from handlers.replies import Reply, answering

MAX_SHORTCUT_IDS = 5


async def publish(services: Services, client: AsyncWebClient, user: str) -> None:
    """(Re)draw `user`'s Home tab; called when they open it and when an approval changes."""
    roles = [r.value for r in Role if await services.policy.check(user, r, "") is None]
    try:
        pending = await services.approvals.pending()
        recent = await services.approvals.recent(limit=10)
    except StoreUnavailable:
        pending, recent = [], []
    seen = {r.id for r in pending}
    waiting = [
        r for r in pending
        if r.requester != user and user not in {a.user for a in r.approvals}
    ]  # fmt: skip
    mine = [r for r in pending if r.requester == user]
    view = home_view(
        roles=roles, waiting=waiting, mine=mine,
        recent=[r for r in recent if r.id not in seen], command=services.settings.bot_command,
    )  # fmt: skip
    try:
        await client.views_publish(user_id=user, view=view)
    except SlackApiError as exc:
        # A Home tab is best effort: the user may never have opened it.
        flows.log.info("home not published for %s: %s", user, exc.response.get("error"))


def register(app: AsyncApp, services: Services) -> None:
    @app.event("app_home_opened")
    async def on_home(event: dict[str, Any], client: AsyncWebClient) -> None:
        await publish(services, client, event["user"])

    @app.shortcut(ids.INVESTIGATE_SHORTCUT)
    async def on_shortcut(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        channel = body["channel"]["id"]
        reply = Reply(
            client, body["user"]["id"], channel, None, command=services.settings.bot_command
        )
        async with answering(reply, "investigating the message"):
            found = find_message_ids(str((body.get("message") or {}).get("text", "")))
            if not found:
                await reply.private(
                    "I found no message id (like `4Njp3P0STMz2c02Q`) in that message."
                )
                return
            if not await flows.allowed(services, reply, Role.VIEWER, "look up messages"):
                return
            for message_id in found[:MAX_SHORTCUT_IDS]:
                await flows.lookup(services, reply, message_id)
            if len(found) > MAX_SHORTCUT_IDS:
                await reply.private(f"Looked up the first {MAX_SHORTCUT_IDS} of {len(found)} ids.")
