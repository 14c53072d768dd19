"""The Slack side of alerts: posting what the poller hands over, paced per channel.

Slack allows about one message per second per channel; bursts are therefore spread out here
rather than answered with 429s (slack-sdk's retry handler still honours a Retry-After if one
comes). A post that fails raises, and the poller keeps the work for its next cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from blocks.alerts import (
    THREAD_BATCH,
    campaign_root,
    report_card,
    report_text,
    root_text,
    thread_cards,
    with_headline,
)
from blocks.safety import clamp
from bot.cloudflare.models import MessageDetails, PhishGuardReport
from bot.errors import StoreUnavailable
from bot.metrics import Metrics
from bot.services.alerts.models import AlertRejected, Campaign
from bot.slack.held import HeldAlerts
from bot.slack.refusals import NOT_THERE
from bot.store.cards import CardStore
from bot.store.posts import PostStore

log = logging.getLogger("bot.slack.alerts")
POST_INTERVAL = 1.1  # seconds between posts to one channel: Slack allows about one a second
# Slack's answers that no retry can change: the alert is set aside (alerts:rejected) instead of
# holding up its channel. Others (ratelimited, network) are retried next cycle, and so are
# not_in_channel and channel_not_found: those alerts are held until the bot is invited (held.py).
PERMANENT = frozenset({"invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text"})


class ChannelPacer:
    """Posts to one channel go one at a time, each at least `interval` after the previous one
    finished: measured from completion, so network jitter cannot squeeze two posts into
    Slack's one-second window."""

    def __init__(self, interval: float = POST_INTERVAL) -> None:
        self.interval = interval
        self._done: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def slot(self, channel: str) -> AsyncIterator[None]:
        async with self._locks.setdefault(channel, asyncio.Lock()):
            wait = self._done.get(channel, 0.0) + self.interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                yield
            finally:
                self._done[channel] = time.monotonic()


class SlackAlertSender:
    def __init__(
        self,
        client: AsyncWebClient,
        pacer: ChannelPacer | None = None,
        metrics: Metrics | None = None,
        posts: PostStore | None = None,
        cards: CardStore | None = None,
        held: HeldAlerts | None = None,
    ) -> None:
        self.client = client
        self.pacer = pacer or ChannelPacer()
        self.metrics = metrics
        self.posts = posts
        self.cards = cards
        self.held = held

    async def _register(self, channel: str, ts: str, messages: Sequence[MessageDetails]) -> None:
        """Remember the cards just posted, so they follow their messages' changes. Never
        raises, for the same reason as `_keep`."""
        if self.cards is None:
            return
        try:
            for message in messages:
                await self.cards.register(message.id, channel, ts)
        except StoreUnavailable:
            log.warning("alert cards of post %s not registered (Redis unavailable)", ts)

    async def _keep(self, channel: str, ts: str, blocks: Sequence[Block]) -> None:
        """Keep the post as drawn, so one of its cards can later be redrawn alone. Never
        raises: the post is already in Slack, and a raise would make the poller post it again."""
        if self.posts is None:
            return
        try:
            await self.posts.keep(channel, ts, [b.to_dict() for b in blocks])
        except StoreUnavailable:
            log.warning("alert post %s not kept (Redis unavailable)", ts)

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.alert_posts.labels(outcome).inc()

    async def _post(
        self, channel: str, text: str, blocks: Sequence[Block], thread_ts: str | None = None
    ) -> str:
        try:
            async with self.pacer.slot(channel):
                answer = await self.client.chat_postMessage(
                    channel=channel, text=text, blocks=blocks, thread_ts=thread_ts,
                    unfurl_links=False, unfurl_media=False,
                )  # fmt: skip
        except SlackApiError as exc:
            code = str(exc.response.get("error", ""))
            if code in PERMANENT:
                self._count("rejected")
                raise AlertRejected(code) from None
            if code in NOT_THERE and self.held is not None:  # kept queued, and said (held.py)
                self._count("held")
                await self.held.hold(channel, code)
                raise
            self._count("failed")
            raise
        except Exception:
            self._count("failed")
            raise
        self._count("posted")
        if self.held is not None:
            await self.held.posted(channel)
        ts = str(answer["ts"])
        await self._keep(channel, ts, blocks)
        return ts

    async def post_root(self, campaign: Campaign, first: MessageDetails) -> str:
        blocks = campaign_root(campaign, first)
        ts = await self._post(campaign.channel, root_text(campaign, first), blocks)
        await self._register(campaign.channel, ts, [first])
        return ts

    async def update_root(self, campaign: Campaign, latest: MessageDetails) -> None:
        """The root's new counter and recipients. Only its headline changes: the card below it
        stays the first message's, with every outcome people added to it."""
        if campaign.root_ts is None or self.posts is None:
            return
        try:
            kept = await self.posts.get(campaign.channel, campaign.root_ts)
        except StoreUnavailable:
            kept = None
        blocks = with_headline(kept, campaign) if kept else None
        if blocks is None:
            log.warning("campaign root %s not updated: its post is not kept", campaign.root_ts)
            return
        # chat.update has its own, looser limit (Tier 3); one per campaign per cycle.
        async with self.posts.editing(campaign.channel, campaign.root_ts):
            await self.client.chat_update(
                channel=campaign.channel, ts=campaign.root_ts, blocks=blocks
            )
            await self.posts.keep(campaign.channel, campaign.root_ts, blocks)

    async def post_in_thread(self, campaign: Campaign, messages: Sequence[MessageDetails]) -> None:
        assert campaign.root_ts is not None
        for start in range(0, len(messages), THREAD_BATCH):
            batch = messages[start : start + THREAD_BATCH]
            text = clamp(f"{len(batch)} more message(s) of this campaign", 200)
            ts = await self._post(campaign.channel, text, thread_cards(batch), campaign.root_ts)
            await self._register(campaign.channel, ts, batch)

    async def post_report(self, channel: str, report: PhishGuardReport) -> None:
        await self._post(channel, report_text(report), list(report_card(report)))
