"""Message cards in Slack: the `CardBoard` the services draw through.

A card is posted with the post's blocks kept (`bot.store.posts`); redrawing one card replaces
only that card's blocks in the post as last drawn, so the other cards of a post that holds
several (an alert thread post) stay as they were. Evidence (preview, raw EML, trace) goes into
the card's thread; a raw EML is uploaded from its temporary file with `files_upload_v2`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks import fallback_text, message_card, trace_blocks
from blocks.outcomes import outcome_line, outcome_lines, stamp
from blocks.posts import is_compact, replace_card
from blocks.safety import Kind, clamp, safe
from bot.errors import StoreUnavailable
from bot.services.lookup import Investigation
from bot.services.outcomes import CardOutcome
from bot.services.ports import CardRef, Evidence
from bot.slack.refusals import not_there
from bot.store.posts import PostStore

log = logging.getLogger("bot.slack.cards")
THREAD_LINE_CHARS = 2900


class SlackCards:
    def __init__(self, client: AsyncWebClient, posts: PostStore) -> None:
        self.client = client
        self.posts = posts

    async def post(
        self, channel: str, found: Investigation, history: Sequence[CardOutcome]
    ) -> CardRef:
        blocks = message_card(
            found.message, found.detections, found.actions, outcomes=outcome_lines(history),
            blocked=found.blocked,
        )  # fmt: skip
        try:
            answer = await self.client.chat_postMessage(
                channel=channel, blocks=blocks, text=fallback_text(found.message),
                unfurl_links=False, unfurl_media=False,
            )  # fmt: skip
        except SlackApiError as exc:
            raise not_there(exc, channel) or exc from None
        ts = str(answer["ts"])
        await self._keep(channel, ts, [b.to_dict() for b in blocks])
        return CardRef(channel, ts, found.message.id)

    async def update(
        self,
        card: CardRef,
        found: Investigation | None,
        history: Sequence[CardOutcome],
        new: CardOutcome | None,
    ) -> None:
        if found is not None:
            await self._redraw(card, found, history)
        if new is not None:
            await self.client.chat_postMessage(
                channel=card.channel, thread_ts=card.thread_ts or card.ts,
                text=clamp(outcome_line(new), THREAD_LINE_CHARS),
                unfurl_links=False, unfurl_media=False,
            )  # fmt: skip

    async def _redraw(
        self, card: CardRef, found: Investigation, history: Sequence[CardOutcome]
    ) -> None:
        async with self.posts.editing(card.channel, card.ts):
            post = await self._kept(card)
            if post is None:
                log.warning("card %s not redrawn: its post is no longer kept", card.message_id)
                return
            compact = is_compact(post, card.message_id)
            drawn = message_card(
                found.message,
                None if compact else found.detections,
                [] if compact else found.actions,
                outcomes=outcome_lines(history),
                compact=compact,
            )
            blocks = replace_card(post, card.message_id, drawn)
            if blocks is None:
                log.warning("card %s not redrawn: not in its post", card.message_id)
                return
            # A post of several cards keeps its own text; a lone card's says its state.
            text = fallback_text(found.message) if len(blocks) == len(drawn) else None
            try:
                await self.client.chat_update(
                    channel=card.channel, ts=card.ts, blocks=blocks, text=text
                )
            except SlackApiError as exc:
                log.warning("card %s not redrawn: %s", card.message_id, exc.response.get("error"))
                return
            await self._keep(card.channel, card.ts, blocks)

    async def _kept(self, card: CardRef) -> list[dict[str, object]] | None:
        try:
            return await self.posts.get(card.channel, card.ts)
        except StoreUnavailable:
            return None

    async def _keep(self, channel: str, ts: str, blocks: list[dict[str, object]]) -> None:
        try:
            await self.posts.keep(channel, ts, blocks)
        except StoreUnavailable:
            log.warning("post %s not kept (Redis unavailable): its cards can't be redrawn", ts)

    async def attach(self, card: CardRef, evidence: Evidence, actor: str) -> None:
        message, thread = evidence.message, card.thread_ts or card.ts
        if evidence.what == "trace" and evidence.trace is not None:
            await self.client.chat_postMessage(
                channel=card.channel, thread_ts=thread,
                blocks=trace_blocks(message.id, evidence.trace),
                text=f"Trace of {safe(message.postfix_id, 82, kind=Kind.LITERAL)}",
                unfurl_links=False, unfurl_media=False,
            )  # fmt: skip
            return
        pid = message.postfix_id
        if evidence.what == "preview":
            await self.client.files_upload_v2(
                channel=card.channel, thread_ts=thread, file=evidence.png,
                filename=f"preview-{pid}.png", title=f"Preview of {pid}",
                initial_comment=stamp(actor, "Preview requested"),
            )  # fmt: skip
            return
        # A file, never inline: the EML is attacker-written from the first byte to the last.
        # It arrives spooled to disk (never whole in memory while downloading); files_upload_v2
        # reads it whole once to send it, which keeps 4 concurrent 25 MB raws near 175 MB RSS.
        assert evidence.eml is not None
        await self.client.files_upload_v2(
            channel=card.channel, thread_ts=thread, file=evidence.eml,
            filename=f"{pid}.eml", title=f"Raw message {pid}",
            initial_comment=stamp(actor, "Raw EML requested"),
        )  # fmt: skip
