"""The App Home tab, and the "Investigate email" message shortcut."""

from __future__ import annotations

from blocks import fallback_text
from blocks.card import private_card
from blocks.outcomes import not_here
from bot.cloudflare.ids import find_message_ids
from bot.errors import InvalidInput
from bot.services.lookup import Investigation
from handlers.context import Body, Request, Slackside

MAX_SHORTCUT_IDS = 5


async def on_home_opened(event: Body, slack: Slackside) -> None:
    await slack.home.publish(str(event["user"]))


async def on_shortcut(request: Request) -> None:
    """Look up the ids found in a message: a card in the channel, or, where the bot cannot
    post (a DM between people, a channel it is not in), a card only the person sees, through
    the shortcut's own response_url (which works everywhere)."""
    text = str((request.body.get("message") or {}).get("text", ""))
    found = find_message_ids(text)
    if not found:
        raise InvalidInput("I found no message id (like `4Njp3P0STMz2c02Q`) in that message.")
    channel = request.reply.channel_id or ""
    for message_id in found[:MAX_SHORTCUT_IDS]:
        shown = await request.services.messages.lookup_here(request.actor, message_id, channel)
        if isinstance(shown, Investigation):
            note = f"Only you see this card. {not_here(channel)}"
            blocks = private_card(shown.message, shown.detections, shown.actions, note)
            await request.reply.private_blocks(blocks, fallback_text(shown.message))
    if len(found) > MAX_SHORTCUT_IDS:
        await request.reply.private(f"Looked up the first {MAX_SHORTCUT_IDS} of {len(found)} ids.")
