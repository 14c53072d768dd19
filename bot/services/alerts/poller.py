"""The alert poller: the `{alerts}:lock` lease (bot.store.lease.Lease, taken or extended each
cycle and renewed while it runs), one cycle (`AlertPoller.poll_once`: search the window, queue
what is new, drain the outboxes through `drain.Drain`, move the watermark) and the loop that
runs it (`run_forever`). How a cycle goes and why it posts every alert exactly once is told in
the package's docstring (`bot.services.alerts`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import redis.asyncio as aioredis

from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.dispositions import severity_rank
from bot.cloudflare.errors import ApiError
from bot.cloudflare.models import MessageDetails, PhishGuardReport
from bot.services.alerts import evidence
from bot.services.alerts.campaigns import message_time
from bot.services.alerts.digests import DigestRate
from bot.services.alerts.drain import Drain
from bot.services.alerts.models import AlertSender, Halt, PollReport, Queued, item_payload
from bot.services.alerts.outbox import Outbox
from bot.services.alerts.scripts import LOCK_KEY, AlertScripts
from bot.services.alerts.sending import Guard
from bot.services.routes import Routes
from bot.store import Lease, StoreUnavailable

log = logging.getLogger("bot.alerts")

SEEN_RETENTION = 7 * 24 * 3600  # seconds an id stays in the seen sets (well past any overlap)
SKEW_MARGIN = 24 * 3600  # seen ids are never trimmed within this of the search window's start
PER_PAGE = 1000  # the API's largest search page


def now_utc() -> datetime:
    return datetime.now(UTC)


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _ceil_second(moment: datetime) -> datetime:
    """The next whole second (the API takes seconds; `end` must not cut off this second)."""
    return _at(math.ceil(moment.timestamp()))


class AlertPoller:
    """Polls detections and PhishGuard reports into the outbox and drains it through `sender`.
    Every replica may run one; the `{alerts}:lock` lease makes one of them work at a time."""

    def __init__(
        self,
        redis: aioredis.Redis,
        client: EmailSecurityClient,
        sender: AlertSender,
        *,
        routes: Routes,
        dispositions: Sequence[str],
        owner: str,
        poll_seconds: float,
        backfill_hours: float = 0,
        overlap_seconds: float = 600,
        campaign_window_seconds: float = 3600,
        lock_seconds: float = 30,
        phishguard: bool = True,
        digest_rate: DigestRate | None = None,
        evidence_lookups: int = 0,
        clock: Callable[[], datetime] = now_utc,
        after_cycle: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        if poll_seconds <= 0 or lock_seconds <= 0 or campaign_window_seconds <= 0:
            raise ValueError("poll_seconds, lock_seconds and campaign_window_seconds must be > 0")
        if backfill_hours < 0 or overlap_seconds < 0:
            raise ValueError("backfill_hours and overlap_seconds must be >= 0")
        if not owner:
            raise ValueError("owner must name this process")
        self.redis = redis
        self.client = client
        self.sender = sender
        self.routes = routes
        self.dispositions = frozenset(d.strip().upper() for d in dispositions)
        self.owner = owner
        self.poll_seconds = poll_seconds
        self.backfill_seconds = backfill_hours * 3600
        self.overlap_seconds = overlap_seconds
        self.window_seconds = campaign_window_seconds
        self.lock_seconds = lock_seconds
        self.phishguard = phishguard
        self.evidence_lookups = evidence_lookups  # detections looked up a cycle (evidence.py)
        # A drain starts posts for at most this long before the next search: something urgent
        # that came meanwhile is then queued ahead of what is left.
        self.drain_seconds = max(poll_seconds, 1.0)
        self.clock = clock
        # Other work that must run on one replica at a time, each cycle (following reclassify
        # submissions): under this lock, after the alerts, never failing the cycle.
        self.after_cycle = after_cycle
        self.lease = Lease(redis, LOCK_KEY)
        self.outbox = Outbox(redis)
        self.guard = Guard()
        self.scripts = AlertScripts(
            redis,
            owner,
            campaign_ttl=int(campaign_window_seconds + overlap_seconds) + 3600,
            rate_window=digest_rate.seconds if digest_rate is not None else 0.0,
            on_lost=self.guard.lock_lost,
            clock=clock,
        )
        self.drain = Drain(
            sender,
            self.outbox,
            self.scripts,
            self.guard,
            window_seconds=campaign_window_seconds,
            digest_rate=digest_rate,
            clock=clock,
        )
        self._cycle_lock = asyncio.Lock()

    # -- the lock ------------------------------------------------------------------------------

    async def lock_holder(self) -> str | None:
        """The owner polling now (None when nobody holds the lock)."""
        return await self.lease.holder()

    async def release_lock(self) -> bool:
        """Give the lock up if this poller holds it (another replica may then poll at once)."""
        return await self.lease.release(self.owner)

    async def _keep_lock(self, only_while_held: bool) -> None:
        """Renew the lease every third of it; stop when it turns out to be lost."""
        while True:
            await asyncio.sleep(self.lock_seconds / 3)
            try:
                if await self.lease.renew(self.owner, self.lock_seconds):
                    continue
                if not only_while_held:
                    self.guard.lost = True
                    log.warning("alerts: lost the lock (%s) to another replica", LOCK_KEY)
                    return
            except StoreUnavailable as exc:
                log.warning("alerts: could not renew the lock: %s", exc)

    # -- one cycle -----------------------------------------------------------------------------

    async def poll_once(self) -> PollReport | None:
        """One cycle while holding the lock (taken, or kept, here); None when another replica
        holds it. StoreUnavailable when Redis fails (nothing is posted without its record)."""
        async with self._cycle_lock:
            if not await self.lease.acquire(self.owner, self.lock_seconds, reentrant=True):
                return None
            self.guard.lost = False
            self.guard.interrupted = False
            renewer = asyncio.create_task(self._keep_lock(only_while_held=False))
            report = PollReport()
            try:
                await self._cycle(report)
            except Halt as halt:
                report.errors.append(str(halt))
                log.warning("alerts: cycle stopped: %s", halt)
            else:
                await self._after_cycle()
            finally:
                renewer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewer
            return report

    async def _after_cycle(self) -> None:
        if self.after_cycle is None or self.guard.lost:
            return
        try:
            await self.after_cycle()
        except Exception:  # logged; the next cycle tries again, and alerts never wait on it
            log.exception("alerts: the work after the cycle failed")

    async def _cycle(self, report: PollReport) -> None:
        now = self.clock()
        floor, watermark = await self.scripts.start(
            float(math.floor(now.timestamp() - self.backfill_seconds))
        )
        report.watermark = _at(watermark)
        start = max(floor, watermark - self.overlap_seconds)
        end = max(now.timestamp(), start)
        report.window_start, report.window_end = _at(start), _at(end)
        channels, seconds = self.routes.channels, self.drain_seconds
        try:  # (a), (b): searched before anything is drained, so what is new is ranked too
            messages = await self._fetch_messages(_at(start), _at(end), floor, now)
            reports = (
                await self._fetch_reports(_at(start), _at(end), floor) if self.phishguard else []
            )
        except ApiError as exc:
            report.errors.append(f"Email Security API: {exc}")
            log.warning("alerts: poll failed, retrying next interval: %s", exc)
            await self.drain.run(report, channels, skip=set(), seconds=seconds)  # leftovers
            report.pending = await self.outbox.depth()
            return
        report.fetched = len(messages) + len(reports)
        report.new = await self._enqueue(messages, reports, now, start)  # (c)
        if report.new:
            log.info("alerts: %d new of %d in the window", report.new, report.fetched)

        await self.drain.run(report, channels, skip=set(), seconds=seconds)  # (d)

        moved = await self.scripts.advance(end)  # (e)
        report.watermark_moved = moved and end > watermark
        if moved:
            report.watermark = _at(max(end, watermark))
        report.pending = await self.outbox.depth()

    # -- searching and queueing ----------------------------------------------------------------

    async def _fetch_messages(
        self, start: datetime, end: datetime, floor: float, now: datetime
    ) -> list[MessageDetails]:
        found: dict[str, MessageDetails] = {}
        async for message in self.client.search(
            detections_only=True, start=start, end=_ceil_second(end), per_page=PER_PAGE
        ):
            if (message.final_disposition or "").upper() not in self.dispositions:
                continue
            if message.scanned_at is not None and message.scanned_at.timestamp() < floor:
                continue  # before the first start (minus backfill): never alerted
            found.setdefault(message.id, message)
        return sorted(found.values(), key=lambda m: (message_time(m, now), m.id))

    async def _fetch_reports(
        self, start: datetime, end: datetime, floor: float
    ) -> list[PhishGuardReport]:
        found: dict[int, PhishGuardReport] = {}
        for item in await self.client.list_phishguard_reports(start, _ceil_second(end)):
            if item.created_at is not None and item.created_at.timestamp() < floor:
                continue
            found.setdefault(item.id, item)
        return sorted(found.values(), key=lambda r: (r.created_at or _at(0), r.id))

    async def _enqueue(
        self,
        messages: Sequence[MessageDetails],
        reports: Sequence[PhishGuardReport],
        now: datetime,
        window_start: float,
    ) -> int:
        """Queue every id not seen before, and mark it seen, in one step per batch; the new
        messages' detections are looked up first (at most `evidence_lookups`, the most severe
        first) so that they group by link and attachment too."""
        seen = await self.outbox.seen([m.id for m in messages])
        new = sorted(
            (m for m in messages if m.id not in seen),
            key=lambda m: severity_rank(m.final_disposition),
        )
        found = await evidence.gather(self.client, new, self.evidence_lookups)
        routed = [
            Queued(
                "m", m.id, self.routes.channel_for(m), item_payload(m, found.get(m.id)),
                severity_rank(m.final_disposition),
            )
            for m in messages
        ]  # fmt: skip
        routed += [
            Queued(
                "r", str(r.id), self.routes.channel_for_report(r), item_payload(r),
                severity_rank(r.disposition),
            )
            for r in reports
        ]  # fmt: skip
        cutoff = min(now.timestamp() - SEEN_RETENTION, window_start - SKEW_MARGIN)
        return await self.scripts.enqueue(routed, now.timestamp(), cutoff)

    # -- running -------------------------------------------------------------------------------

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Every `poll_seconds`, take (or keep) the lock and poll; never dies on an error (it
        is logged and the next interval tries again). On `stop`, the cycle under way ends
        before its next Slack call, and the lock is released (if no call may be in flight)."""
        self.guard.stopping = stop
        keeper = asyncio.create_task(self._keep_lock(only_while_held=True))
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                started = loop.time()
                try:
                    made = await self.poll_once()
                    if made is not None:
                        self._log(made)
                except StoreUnavailable as exc:
                    log.warning("alerts: %s; retrying in %ss", exc, self.poll_seconds)
                except Exception:
                    log.exception("alerts: poll failed; retrying in %ss", self.poll_seconds)
                wait = max(self.poll_seconds - (loop.time() - started), 0.0)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)
        finally:
            self.guard.stopping = None
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            if not self.guard.interrupted:  # else let the lease lapse: the call may still land
                with contextlib.suppress(StoreUnavailable):
                    await self.release_lock()

    @staticmethod
    def _log(made: PollReport) -> None:
        if made.errors:
            log.warning(
                "alerts: cycle posted %d, %d still queued; errors: %s",
                made.posted, made.pending, "; ".join(made.errors),
            )  # fmt: skip
        elif made.posted or made.new:
            log.info(
                "alerts: %d new, %d posted (%d in digests), %d new campaigns, %d still queued",
                made.new, made.posted, made.digested, made.campaigns_created, made.pending,
            )  # fmt: skip
