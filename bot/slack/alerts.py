"""The Slack side of alerts: posting what the poller hands over, paced per channel, and finding
a post again.

Slack allows about one message per second per channel; bursts are therefore spread out here
rather than answered with 429s (slack-sdk's retry handler still honours a Retry-After if one
comes). A post that fails raises, and the poller keeps the work for its next cycle.

Every alert post carries Slack message metadata: event type `email_security_alert`, and the
alert's id in its payload. When the poller is not sure a post went out (it died, or the answer
was lost, between Slack taking it and Redis recording it), `find_posted` reads the channel's
recent history (or the campaign's thread) with `include_all_metadata` and answers the post
carrying that id: it is then not posted again. That needs the `channels:history` and
`groups:history` scopes (docs/install.md); without them the post is made again, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from blocks.alerts import (
    THREAD_BATCH,
    campaign_root,
    digest_card,
    digest_text,
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
from bot.services.alerts.models import AlertNotPosted, AlertRejected, Campaign, Digest
from bot.slack.held import HeldAlerts
from bot.slack.history import PAGE, UNREADABLE, carries, find_message
from bot.slack.refusals import NOT_THERE
from bot.store.cards import CardStore
from bot.store.posts import PostStore

log = logging.getLogger("bot.slack.alerts")
POST_INTERVAL = 1.1  # seconds between posts to one channel: Slack allows about one a second
# Slack's answers that no retry can change: the alert is set aside (alerts:rejected) instead of
# holding up its channel. Others (ratelimited, network) are retried next cycle, and so are
# not_in_channel and channel_not_found: those alerts are held until the bot is invited (held.py).
PERMANENT = frozenset({"invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text"})
ALERT_EVENT = "email_security_alert"  # the metadata event type of every alert post
HISTORY_PAGES = 10  # pages read at most: a post is found within its first minutes


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

    async def _register(self, channel: str, ts: str, message_ids: Sequence[str]) -> None:
        """Remember the cards just posted, so they follow their messages' changes. Never
        raises, for the same reason as `_keep`."""
        if self.cards is None:
            return
        try:
            for message_id in message_ids:
                await self.cards.register(message_id, channel, ts)
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
        self,
        channel: str,
        text: str,
        blocks: Sequence[Block],
        alert_id: str,
        thread_ts: str | None = None,
    ) -> str:
        metadata = {"event_type": ALERT_EVENT, "event_payload": {"alert_id": alert_id}}
        try:
            async with self.pacer.slot(channel):
                answer = await self.client.chat_postMessage(
                    channel=channel, text=text, blocks=blocks, thread_ts=thread_ts,
                    unfurl_links=False, unfurl_media=False, metadata=metadata,
                )  # fmt: skip
        except SlackApiError as exc:
            code = str(exc.response.get("error", ""))
            if code in PERMANENT:
                self._count("rejected")
                raise AlertRejected(code) from None
            if code in NOT_THERE and self.held is not None:  # kept queued, and said (held.py)
                self._count("held")
                await self.held.hold(channel, code)
                raise AlertNotPosted(code) from None
            self._count("failed")
            raise AlertNotPosted(code or f"HTTP {exc.response.status_code}") from None
        except Exception:
            self._count("failed")
            raise
        self._count("posted")
        if self.held is not None:
            await self.held.posted(channel)
        ts = str(answer["ts"])
        await self._keep(channel, ts, blocks)
        return ts

    async def post_root(self, campaign: Campaign, first: MessageDetails, alert_id: str) -> str:
        blocks = campaign_root(campaign, first)
        ts = await self._post(campaign.channel, root_text(campaign, first), blocks, alert_id)
        await self._register(campaign.channel, ts, [first.id])
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

    async def post_in_thread(
        self, campaign: Campaign, messages: Sequence[MessageDetails], alert_id: str
    ) -> None:
        """One post (`alert_id` names it): the drain hands over at most THREAD_BATCH."""
        assert campaign.root_ts is not None and len(messages) <= THREAD_BATCH
        text = clamp(f"{len(messages)} more message(s) of this campaign", 200)
        ts = await self._post(
            campaign.channel, text, thread_cards(messages), alert_id, campaign.root_ts
        )
        await self._register(campaign.channel, ts, [m.id for m in messages])

    async def post_report(self, channel: str, report: PhishGuardReport, alert_id: str) -> None:
        await self._post(channel, report_text(report), list(report_card(report)), alert_id)

    async def post_digest(self, digest: Digest, alert_id: str) -> str:
        return await self._post(digest.channel, digest_text(digest), digest_card(digest), alert_id)

    async def update_digest(self, digest: Digest) -> None:
        """The digest's new counts (chat.update: Tier 3, once per drain that adds to it)."""
        assert digest.ts is not None
        await self.client.chat_update(
            channel=digest.channel, ts=digest.ts, text=digest_text(digest),
            blocks=digest_card(digest),
        )  # fmt: skip

    async def find_posted(
        self,
        channel: str,
        alert_id: str,
        thread_ts: str | None,
        since: datetime,
        message_ids: Sequence[str],
    ) -> str | None:
        """The post carrying `alert_id` in the channel (or in the thread of `thread_ts`) since
        `since`; a post found is kept and its cards registered, as if just posted."""
        try:
            found = await find_message(
                self.client, channel, thread_ts, since.timestamp(),
                lambda m: carries(m, ALERT_EVENT, alert_id=alert_id), HISTORY_PAGES,
            )  # fmt: skip
            if found is not None:
                ts = str(found["ts"])
                blocks = found.get("blocks") or []
                if blocks and self.posts is not None:
                    with contextlib.suppress(StoreUnavailable):
                        await self.posts.keep(channel, ts, blocks)
                await self._register(channel, ts, message_ids)
                return ts
        except SlackApiError as exc:
            code = str(exc.response.get("error", ""))
            if code == "thread_not_found":
                return None  # the root is gone: nothing was posted under it
            if code in UNREADABLE:
                log.error(
                    "alerts: cannot read %s to check whether %s was posted (%s): posting it "
                    "again; add the channels:history and groups:history scopes (docs/install.md)",
                    channel, alert_id, code,
                )  # fmt: skip
                return None
            raise
        # Not there (or past the pages read, which a post made in its first minutes is not).
        log.info("alerts: %s not found in %s (at most %d messages read); posting it",
                 alert_id, channel, HISTORY_PAGES * PAGE)  # fmt: skip
        return None
