"""Posting the outboxes: each channel's queued alerts go out through the `AlertSender` (new
campaigns' roots, then PhishGuard reports, then thread follow-ups and one root update per
campaign), every post followed by the script that commits it.

Kept apart from the poller's cycle (searching, queueing, the watermark, the lock) because this
is where exactly-once is decided post by post; `Guard` is what the two share: whether the cycle
must stop before its next Slack call, and whether a call was cut off mid-way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import TypeVar

import bot.services.alerts.campaigns as campaigns
from bot.cloudflare.models import MessageDetails
from bot.services.alerts.models import (
    AlertRejected,
    AlertSender,
    Campaign,
    Halt,
    Item,
    Plan,
    PollReport,
)
from bot.services.alerts.outbox import Outbox
from bot.services.alerts.scripts import REJECTED_KEY, AlertScripts, campaign_record_key
from bot.store import StoreUnavailable

log = logging.getLogger("bot.alerts")

T = TypeVar("T")

THREAD_BATCH = 8  # messages per post_in_thread call
DRAIN_BATCH = 500  # outbox items read at a time


class SenderError(Exception):
    """A sender call failed (Slack down, rate limited past the sender's patience, ...)."""


class Guard:
    """The state a cycle's sender calls obey: no call starts once the lock is known to be lost
    or the poller is stopping; a call cancelled mid-way is remembered (it may still land in
    Slack, so the lock must lapse rather than be released)."""

    def __init__(self) -> None:
        self.lost = False  # the lock was found held by another owner during this cycle
        self.stopping: asyncio.Event | None = None
        self.interrupted = False  # a sender call was cancelled: it may still land in Slack

    def lock_lost(self) -> None:
        self.lost = True

    async def send(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """One sender call, unless the cycle must stop first (Halt); failures other than
        AlertRejected, StoreUnavailable and Halt become SenderError."""
        if self.lost:
            raise Halt("lost the alerts lock to another replica, which carries on")
        if self.stopping is not None and self.stopping.is_set():
            raise Halt("stopping: what is still queued is posted by the next poller")
        try:
            return await call()
        except (AlertRejected, StoreUnavailable, Halt):
            raise
        except Exception as exc:
            raise SenderError(f"{what}: {type(exc).__name__}: {exc}") from exc
        except BaseException:  # cancelled mid-call: Slack may still have taken the post
            self.interrupted = True
            raise


class Drain:
    """Drains the outboxes through `sender`, for the poller that owns `scripts` and `guard`."""

    def __init__(
        self,
        sender: AlertSender,
        outbox: Outbox,
        scripts: AlertScripts,
        guard: Guard,
        *,
        window_seconds: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.sender = sender
        self.outbox = outbox
        self.scripts = scripts
        self.guard = guard
        self.window_seconds = window_seconds
        self.clock = clock

    async def run(self, report: PollReport, routed: Iterable[str], skip: set[str]) -> set[str]:
        """Drain every queued channel's outbox and those of `routed` but not `skip` (channels
        concurrently, each in order); returns `skip` and the channels whose sender failed.
        Raises StoreUnavailable (first) or Halt when a channel's drain did."""
        queued = await self.outbox.channels()
        channels = sorted((queued | set(routed)) - skip)
        results = await asyncio.gather(
            *(self._channel(channel, report) for channel in channels),
            return_exceptions=True,
        )
        failed = set(skip)
        raised: BaseException | None = None
        for channel, result in zip(channels, results, strict=True):
            if isinstance(result, SenderError):
                failed.add(channel)
                report.errors.append(f"posting to {channel}: {result}")
                log.warning(
                    "alerts: posting to %s failed, retrying next cycle: %s", channel, result
                )
            elif isinstance(result, BaseException) and (
                raised is None or isinstance(result, StoreUnavailable)
            ):
                raised = result  # Redis failures first: they are what the caller must hear
        if raised is not None:
            raise raised
        return failed

    async def _channel(self, channel: str, report: PollReport) -> None:
        previous: list[str] = []
        while True:
            batch = await self.outbox.batch(channel, DRAIN_BATCH)
            if not batch.ids or batch.ids == previous:
                break
            previous = batch.ids
            if batch.unreadable:
                await self._set_aside(channel, batch.unreadable, "unreadable outbox item", report)
            await self._post_items(channel, batch.items, report)
            if len(batch.ids) < DRAIN_BATCH:
                break
        await self._update_dirty(channel)

    async def _post_items(self, channel: str, items: list[Item], report: PollReport) -> None:
        known = await self.outbox.campaigns(campaigns.campaign_keys(channel, items))
        plans = campaigns.plan(
            channel, items, known, window_seconds=self.window_seconds, now=self.clock()
        )
        for plan in plans:  # every new campaign's root first: the overview comes first
            await self._post_root(channel, plan, report)
        for item in items:
            if item.report is not None:
                await self._post_report(channel, item, report)
        for plan in plans:
            await self._post_follow_ups(channel, plan, report)

    async def _set_aside(
        self, channel: str, ids: Sequence[str], error: str, report: PollReport
    ) -> None:
        await self.scripts.set_aside(channel, ids, error, self.clock())
        report.rejected += len(ids)
        log.error(
            "alerts: %d alert(s) for %s refused by Slack, set aside in %s: %s (%s)",
            len(ids), channel, REJECTED_KEY, ", ".join(ids[:10]), error[:200],
        )  # fmt: skip

    async def _post_root(self, channel: str, plan: Plan, report: PollReport) -> None:
        while plan.root is not None and plan.root.message is not None:
            item, first = plan.root, plan.root.message
            campaign = campaigns.as_root(plan.campaign, first, self.clock())
            post = partial(self.sender.post_root, campaign, first)
            try:
                ts = await self.guard.send("post_root", post)
            except AlertRejected as exc:
                await self._set_aside(channel, [item.id], str(exc), report)
                plan.root = plan.follow.pop(0) if plan.follow else None  # next one leads
                continue
            campaign.root_ts = ts
            await self.scripts.root_posted(channel, [item.id], campaign, first)
            plan.campaign, plan.root, plan.latest = campaign, None, first
            report.posted += 1
            report.campaigns_created += 1

    async def _post_report(self, channel: str, item: Item, report: PollReport) -> None:
        found = item.report
        assert found is not None
        try:
            await self.guard.send("post_report", partial(self.sender.post_report, channel, found))
        except AlertRejected as exc:
            await self._set_aside(channel, [item.id], str(exc), report)
            return
        await self.scripts.posted(channel, [item.id])
        report.posted += 1

    async def _post_follow_ups(self, channel: str, plan: Plan, report: PollReport) -> None:
        if plan.campaign.root_ts is None or not plan.follow:
            return  # no root (every candidate was refused), or nothing to add
        updated = False
        for at in range(0, len(plan.follow), THREAD_BATCH):
            batch = plan.follow[at : at + THREAD_BATCH]
            updated = await self._thread(channel, plan, batch, report) or updated
        if updated:
            await self._update_root(channel, plan.campaign, plan.latest)

    async def _thread(
        self, channel: str, plan: Plan, batch: list[Item], report: PollReport
    ) -> bool:
        """Post `batch` in the campaign's thread; True when at least one message went out."""
        messages = [i.message for i in batch if i.message is not None]
        campaign = campaigns.grown(plan.campaign, messages, self.clock())
        post = partial(self.sender.post_in_thread, campaign, messages)
        try:
            await self.guard.send("post_in_thread", post)
        except AlertRejected as exc:
            if len(batch) == 1:
                await self._set_aside(channel, [batch[0].id], str(exc), report)
                return False
            posted = False  # find the message Slack refuses: the others still go out
            for single in batch:
                posted = await self._thread(channel, plan, [single], report) or posted
            return posted
        await self.scripts.thread_posted(channel, [i.id for i in batch], campaign, messages[-1])
        plan.campaign, plan.latest = campaign, messages[-1]
        report.posted += len(batch)
        return True

    async def _update_root(
        self, channel: str, campaign: Campaign, latest: MessageDetails | None
    ) -> None:
        if latest is None:
            return
        try:
            await self.guard.send("update_root", partial(self.sender.update_root, campaign, latest))
        except AlertRejected as exc:
            log.error("alerts: Slack refused to update campaign root %s: %s", campaign.key, exc)
        await self.scripts.root_updated(channel, campaign_record_key(campaign.key))

    async def _update_dirty(self, channel: str) -> None:
        """Roots whose update a stopped poller did not get to (their threads were posted)."""
        for record_key in await self.outbox.dirty(channel):
            record = await self.outbox.record(record_key)
            if record is None or not record.campaign.root_ts:
                await self.scripts.root_updated(channel, record_key)
                continue
            await self._update_root(channel, record.campaign, record.latest)
