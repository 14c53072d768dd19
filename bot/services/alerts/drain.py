"""Posting the outboxes: each channel's queued alerts go out through the `AlertSender`, the most
severe first, every post followed by the script that commits it.

A channel's outbox is read in order (severity, then arrival) and posted one severity at a time:
all the MALICIOUS-BEC alerts queued, then the MALICIOUS ones, then the rest, each severity as
new campaigns' roots, then PhishGuard reports, then thread follow-ups; when the channel's drain
ends, each campaign root whose thread grew is redrawn once with its counter. Lower-severity
roots past the channel's digest rate go into a digest (digests.py). A drain stops starting
posts when its time is up (`Guard.deadline`): the poller then searches again, so something
more urgent that came meanwhile is queued ahead of what is left.

Before anything else, a channel's post left in flight by a poller that died (sending.py) is
looked for in the channel and committed if it is there, so it is never posted twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import partial

import bot.services.alerts.campaigns as campaigns
from bot.cloudflare.dispositions import URGENT
from bot.cloudflare.models import MessageDetails
from bot.services.alerts.digests import DigestRate, Digests
from bot.services.alerts.models import (
    AlertRejected,
    AlertSender,
    Campaign,
    InFlight,
    Item,
    Plan,
    PollReport,
)
from bot.services.alerts.outbox import Outbox
from bot.services.alerts.scripts import REJECTED_KEY, AlertScripts, campaign_record_key
from bot.services.alerts.sending import Guard, OutOfTime, SenderError, Sending
from bot.store import StoreUnavailable

log = logging.getLogger("bot.alerts")

THREAD_BATCH = 8  # messages per post_in_thread call
DRAIN_BATCH = 500  # outbox items read at a time
# While a backlog is drained a few posts at a time, a campaign root's counter is redrawn at most
# this often (chat.update is Tier 3, about 50 a minute); once a drain ends, at once.
ROOT_UPDATE_SECONDS = 10.0
URGENT_VALUES = frozenset(d.value for d in URGENT)


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
        digest_rate: DigestRate | None,
        clock: Callable[[], datetime],
    ) -> None:
        self.sender = sender
        self.outbox = outbox
        self.scripts = scripts
        self.guard = guard
        self.sending = Sending(scripts, guard)
        self.digests = Digests(digest_rate, sender, outbox, scripts, self.sending, clock)
        self.window_seconds = window_seconds
        self.clock = clock
        self._redrawn: dict[str, float] = {}  # campaign record -> loop time of its last update

    async def run(
        self, report: PollReport, routed: Iterable[str], skip: set[str], seconds: float
    ) -> set[str]:
        """Drain every queued channel's outbox and those of `routed` but not `skip` (channels
        concurrently, each in order) for at most `seconds` of starting posts; returns `skip`
        and the channels whose sender failed. Raises StoreUnavailable (first) or Halt when a
        channel's drain did."""
        queued = await self.outbox.channels()
        channels = sorted((queued | set(routed)) - skip)
        self.guard.deadline = asyncio.get_running_loop().time() + seconds
        try:
            results = await asyncio.gather(
                *(self._channel(channel, report) for channel in channels),
                return_exceptions=True,
            )
        finally:
            self.guard.deadline = None
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
        await self._recover(channel, report)
        previous: list[str] = []
        complete = True
        try:
            while True:
                batch = await self.outbox.batch(channel, DRAIN_BATCH)
                if not batch.ids or batch.ids == previous:
                    break
                previous = batch.ids
                if batch.unreadable:
                    await self._set_aside(
                        channel, batch.unreadable, "unreadable outbox item", report
                    )
                if batch.items:  # the most severe alerts queued; the others after a new look
                    rank = batch.items[0].rank
                    await self._post_items(
                        channel, [i for i in batch.items if i.rank == rank], report
                    )
        except OutOfTime:
            complete = False  # the rest waits for the next drain, after the next search
        await self._update_dirty(channel, complete)

    async def _post_items(self, channel: str, items: list[Item], report: PollReport) -> None:
        known = await self.outbox.campaigns(campaigns.campaign_keys(channel, items))
        plans = campaigns.plan(
            channel, items, known, window_seconds=self.window_seconds, now=self.clock()
        )
        roots = [p for p in plans if p.root is not None]
        lesser = [p for p in roots if (p.campaign.disposition or "").upper() not in URGENT_VALUES]
        left = await self.digests.singles_left(channel) if lesser else None
        digested = lesser[left:] if left is not None else []
        gathered_ids = {id(p) for p in digested}
        counted = {id(p) for p in lesser}
        for plan in roots:  # every new campaign's root first: the overview comes first
            if id(plan) not in gathered_ids:
                await self._post_root(channel, plan, report, counted=id(plan) in counted)
        for item in items:
            if item.report is not None:
                await self._post_report(channel, item, report)
        if digested:
            gathered = [i for p in digested for i in (p.root, *p.follow) if i is not None]
            await self.digests.add(channel, gathered, report)
        for plan in plans:
            if id(plan) not in gathered_ids:
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

    async def _post_root(
        self, channel: str, plan: Plan, report: PollReport, *, counted: bool
    ) -> None:
        while plan.root is not None and plan.root.message is not None:
            item, first = plan.root, plan.root.message
            campaign = campaigns.as_root(plan.campaign, first, self.clock())
            mark = InFlight(
                key=f"root:{item.id}", kind="root", ids=[item.id], at=self.clock(),
                campaign=campaign, counted=counted,
            )  # fmt: skip
            try:
                ts = await self.sending.post(
                    channel, mark, partial(self.sender.post_root, campaign, first, mark.key)
                )
            except AlertRejected as exc:
                await self._set_aside(channel, [item.id], str(exc), report)
                plan.root = plan.follow.pop(0) if plan.follow else None  # next one leads
                continue
            campaign.root_ts = ts
            await self.scripts.root_posted(
                channel, [item.id], campaign, first, flight=mark.key, counted=counted
            )
            plan.campaign, plan.root, plan.latest = campaign, None, first
            report.posted += 1
            report.campaigns_created += 1

    async def _post_report(self, channel: str, item: Item, report: PollReport) -> None:
        found = item.report
        assert found is not None
        mark = InFlight(key=f"report:{item.id}", kind="report", ids=[item.id], at=self.clock())
        try:
            await self.sending.post(
                channel, mark, partial(self.sender.post_report, channel, found, mark.key)
            )
        except AlertRejected as exc:
            await self._set_aside(channel, [item.id], str(exc), report)
            return
        await self.scripts.posted(channel, [item.id], flight=mark.key)
        report.posted += 1

    async def _post_follow_ups(self, channel: str, plan: Plan, report: PollReport) -> None:
        """The campaign's new messages in its thread; each post marks the root for its update
        (`_update_dirty`, once the channel's drain ends)."""
        if plan.campaign.root_ts is None or not plan.follow:
            return  # no root (every candidate was refused), or nothing to add
        for at in range(0, len(plan.follow), THREAD_BATCH):
            await self._thread(channel, plan, plan.follow[at : at + THREAD_BATCH], report)

    async def _thread(
        self, channel: str, plan: Plan, batch: list[Item], report: PollReport
    ) -> bool:
        """Post `batch` in the campaign's thread; True when at least one message went out."""
        messages = [i.message for i in batch if i.message is not None]
        keys = campaigns.campaign_keys(channel, batch)
        campaign = campaigns.grown(plan.campaign, messages, self.clock(), keys)
        mark = InFlight(
            key=f"thread:{batch[0].id}", kind="thread", ids=[i.id for i in batch],
            thread_ts=campaign.root_ts, at=self.clock(), campaign=campaign,
        )  # fmt: skip
        post = partial(self.sender.post_in_thread, campaign, messages, mark.key)
        try:
            await self.sending.post(channel, mark, post)
        except AlertRejected as exc:
            if len(batch) == 1:
                await self._set_aside(channel, [batch[0].id], str(exc), report)
                return False
            posted = False  # find the message Slack refuses: the others still go out
            for single in batch:
                posted = await self._thread(channel, plan, [single], report) or posted
            return posted
        await self.scripts.thread_posted(
            channel, [i.id for i in batch], campaign, messages[-1], flight=mark.key
        )
        plan.campaign, plan.latest = campaign, messages[-1]
        report.posted += len(batch)
        return True

    async def _update_root(
        self, channel: str, campaign: Campaign, latest: MessageDetails | None
    ) -> None:
        if latest is None:
            return
        update = partial(self.sender.update_root, campaign, latest)
        try:  # an update is no new post: it is done even when the drain's time is up
            await self.guard.send("update_root", update, timed=False)
        except AlertRejected as exc:
            log.error("alerts: Slack refused to update campaign root %s: %s", campaign.key, exc)
        await self.scripts.root_updated(channel, campaign_record_key(campaign.key))

    async def _update_dirty(self, channel: str, complete: bool) -> None:
        """The roots whose threads grew (this drain's, or a stopped poller's): each redrawn
        once with its counter; while a backlog remains (not `complete`), a root redrawn in the
        last ROOT_UPDATE_SECONDS waits (it stays marked)."""
        now = asyncio.get_running_loop().time()
        self._redrawn = {k: t for k, t in self._redrawn.items() if t > now - ROOT_UPDATE_SECONDS}
        for record_key in await self.outbox.dirty(channel):
            if not complete and record_key in self._redrawn:
                continue
            record = await self.outbox.record(record_key)
            if record is None or not record.campaign.root_ts:
                await self.scripts.root_updated(channel, record_key)
                continue
            await self._update_root(channel, record.campaign, record.latest)
            self._redrawn[record_key] = now

    # -- a post left in flight -----------------------------------------------------------------

    async def _recover(self, channel: str, report: PollReport) -> None:
        """Find the post a stopped poller left in flight in `channel`, and commit it if Slack
        has it; forget it otherwise (its items are posted as usual)."""
        mark = await self.outbox.in_flight(channel)
        if mark is None:
            return
        messages = [i.removeprefix("m:") for i in mark.ids if i.startswith("m:")]
        look = partial(
            self.sender.find_posted, channel, mark.key, mark.thread_ts, mark.at, messages
        )
        ts = await self.guard.send("find_posted", look, timed=False)
        if ts is None:
            await self.scripts.clear_in_flight(channel, mark.key)
            return
        log.info("alerts: %s was already posted in %s (%s): not posting it again",
                 mark.key, channel, ts)  # fmt: skip
        if mark.kind == "digest":
            await self.digests.recover(channel, mark, ts, report)
            return
        queued = await self.outbox.items(channel, mark.ids)
        carried = [queued[i] for i in mark.ids if i in queued]
        found = [i.message for i in carried if i.message is not None]
        if mark.kind == "report" or mark.campaign is None or not found:
            await self.scripts.posted(channel, [i.id for i in carried], flight=mark.key)
        elif mark.kind == "root":
            campaign = mark.campaign.model_copy(update={"root_ts": ts})
            await self.scripts.root_posted(
                channel, [carried[0].id], campaign, found[0], flight=mark.key,
                counted=mark.counted,
            )  # fmt: skip
            report.campaigns_created += 1
        else:
            ids = [i.id for i in carried]
            await self.scripts.thread_posted(
                channel, ids, mark.campaign, found[-1], flight=mark.key
            )
        report.posted += len(carried)
        report.recovered += 1
