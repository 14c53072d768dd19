"""What a command, a button and a modal have in common: look up and post a card, run an action
and record its outcome on the card. Each flow: check policy, call a service, render, reply."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from blocks import chooser, clamp, fallback_text, message_card, safe, trace_blocks
from bot.app import Services
from bot.cloudflare import NotFoundError
from bot.cloudflare.models import MessageDetails
from bot.observability import set_outcome
from bot.services.lookup import Ambiguous, Investigation
from bot.services.policy import Role
from bot.store import StoreUnavailable
from handlers.replies import NOTICE_LIMIT, Reply, not_found

log = logging.getLogger("bot.handlers")
T = TypeVar("T")
DETECTIONS = frozenset({"MALICIOUS", "MALICIOUS-BEC", "SUSPICIOUS", "SPOOF", "SPAM", "BULK"})


@dataclass(frozen=True)
class Card:
    """A posted lookup card: where it is, so it can be updated and replied to."""

    channel_id: str
    ts: str


def stamp(user_id: str, what: str, now: datetime | None = None) -> str:
    """An outcome line in our own words: who, what, when (user ids come from Slack)."""
    at = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return f"{what} by <@{user_id}> at {at}"


async def allowed(services: Services, reply: Reply, role: Role, action: str) -> bool:
    refusal = await services.policy.check(reply.user_id, role, action)
    if refusal is not None:
        set_outcome("denied")
        await reply.private(refusal.text)
    return refusal is None


async def investigate(services: Services, reply: Reply, text: str) -> Investigation | None:
    """The investigation of `text`, or None after telling the user why not (not found, or a
    chooser when a postfix id has several recipients)."""
    return await _resolved(reply, text, services.lookup.investigate(text))


async def one_message(services: Services, reply: Reply, text: str) -> MessageDetails | None:
    """Like `investigate`, for just the message."""
    return await _resolved(reply, text, services.lookup.message(text))


async def _resolved(reply: Reply, text: str, lookup: Awaitable[T | Ambiguous]) -> T | None:
    try:
        found = await lookup
    except NotFoundError:
        set_outcome("not_found")
        await reply.private(not_found(text))
        return None
    if isinstance(found, Ambiguous):
        await show_chooser(reply, found)
        return None
    return found


async def show_chooser(reply: Reply, found: Ambiguous) -> None:
    text = f"{len(found.matches)} messages share postfix id {found.postfix_id}: pick one"
    await reply.private_blocks(chooser(found.matches, found.postfix_id), safe(text, 300))


async def post_card(
    services: Services, reply: Reply, found: Investigation, outcomes: Sequence[str] = ()
) -> Card:
    blocks = message_card(found.message, found.detections, found.actions, outcomes=outcomes)
    ts = await reply.post(blocks, fallback_text(found.message))
    assert reply.channel_id is not None
    card = Card(reply.channel_id, ts)
    for line in outcomes:
        await _remember(services, card, line)
    return card


async def lookup(services: Services, reply: Reply, text: str) -> tuple[Card, Investigation] | None:
    """Post the card of `text`; None when it was not found or needs a choice (already said)."""
    found = await investigate(services, reply, text)
    return None if found is None else (await post_card(services, reply, found), found)


async def record_outcome(
    services: Services, reply: Reply, card: Card, message_id: str, line: str
) -> None:
    """Add `line` to the card's history, re-render the card from the message's current state
    (so buttons that no longer apply go away) and say it in the card's thread too."""
    lines = await _remember(services, card, line)
    found = await services.lookup.investigate(message_id)
    if isinstance(found, Investigation):
        blocks = message_card(found.message, found.detections, found.actions, outcomes=lines)
        await reply.client.chat_update(
            channel=card.channel_id, ts=card.ts, blocks=blocks, text=fallback_text(found.message)
        )
    await reply.client.chat_postMessage(
        channel=card.channel_id, thread_ts=card.ts, text=clamp(line, NOTICE_LIMIT),
        unfurl_links=False, unfurl_media=False,
    )  # fmt: skip


async def _remember(services: Services, card: Card, line: str) -> list[str]:
    try:
        return await services.cards.add(card.channel_id, card.ts, "-", line)
    except StoreUnavailable:
        log.warning("card history not stored (Redis unavailable); showing the newest outcome only")
        return [line]


async def upload_preview(
    services: Services, reply: Reply, message: MessageDetails, card: Card
) -> None:
    png = await services.email.get_preview(
        message.id, is_detection=(message.final_disposition or "") in DETECTIONS
    )
    await reply.client.files_upload_v2(
        channel=card.channel_id, thread_ts=card.ts, file=png,
        filename=f"preview-{message.postfix_id}.png", title=f"Preview of {message.postfix_id}",
        initial_comment=stamp(reply.user_id, "Preview requested"),
    )  # fmt: skip


async def upload_raw(services: Services, reply: Reply, message: MessageDetails, card: Card) -> None:
    raw = await services.email.get_raw(message.id)
    # A file, never inline: the EML is attacker-written from the first byte to the last.
    await reply.client.files_upload_v2(
        channel=card.channel_id, thread_ts=card.ts, file=raw.encode("utf-8", "replace"),
        filename=f"{message.postfix_id}.eml", title=f"Raw message {message.postfix_id}",
        initial_comment=stamp(reply.user_id, "Raw EML requested"),
    )  # fmt: skip


async def post_trace(services: Services, reply: Reply, message: MessageDetails, card: Card) -> None:
    trace = await services.email.get_trace(message.id)
    await reply.client.chat_postMessage(
        channel=card.channel_id, thread_ts=card.ts, blocks=trace_blocks(message.id, trace),
        text=f"Trace of {message.postfix_id}", unfurl_links=False, unfurl_media=False,
    )  # fmt: skip


async def show(
    services: Services, reply: Reply, verb: str, message: MessageDetails, card: Card
) -> None:
    """preview / raw / trace of `message`, into the card's thread."""
    handler = {"preview": upload_preview, "raw": upload_raw, "trace": post_trace}[verb]
    await handler(services, reply, message, card)
