"""The App Home tab, and the "Investigate email" message shortcut."""

from __future__ import annotations

from bot.cloudflare.ids import find_message_ids
from bot.errors import InvalidInput
from handlers.context import Body, Request, Slackside

MAX_SHORTCUT_IDS = 5


async def on_home_opened(event: Body, slack: Slackside) -> None:
    await slack.home.publish(str(event["user"]))


async def on_shortcut(request: Request) -> None:
    """Look up the ids found in a message; answers through the shortcut's own response_url
    (it works in DMs and channels the bot is not in, where nothing else can reach the user)."""
    text = str((request.body.get("message") or {}).get("text", ""))
    found = find_message_ids(text)
    if not found:
        raise InvalidInput("I found no message id (like `4Njp3P0STMz2c02Q`) in that message.")
    for message_id in found[:MAX_SHORTCUT_IDS]:
        await request.services.messages.lookup_card(
            request.actor, message_id, request.reply.channel_id or ""
        )
    if len(found) > MAX_SHORTCUT_IDS:
        await request.reply.private(f"Looked up the first {MAX_SHORTCUT_IDS} of {len(found)} ids.")
