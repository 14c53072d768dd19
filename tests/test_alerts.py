"""AlertPoller against the simulator (real HTTP) and a real Redis; Slack is a recording test
double here (the end-to-end alert tests drive the real Slack side). Exactly once across
overlaps, restarts, racing replicas, failover, crashes mid-drain, bursts and API outages."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.cloudflare import EmailSecurityClient, RetryPolicy
from bot.cloudflare.models import MessageDetails, PhishGuardReport
from bot.config import Settings
from bot.services.alerts import (
    LOCK_KEY,
    OUTBOXES_KEY,
    REJECTED_KEY,
    STATE_KEY,
    THREAD_BATCH,
    AlertNotPosted,
    AlertPoller,
    AlertRejected,
    Campaign,
    Digest,
    DigestRate,
    DigestService,
    Outbox,
    PollReport,
)
from bot.services.alerts.scripts import inflight_key, outbox_key
from bot.services.policy import Policy
from bot.services.routes import load_routes
from bot.store import StoreUnavailable
from tests.kit.http import LOCAL
from tests.kit.servers import (
    ACCOUNT_ID,
    API_TOKEN,
    SimulatorProcess,
    eventually,
    free_port,
    wait_until,
)
from tests.kit.store import NO_RETRY

CHANNEL = "CALERTS01"
DISPOSITIONS = ("MALICIOUS", "MALICIOUS-BEC", "SUSPICIOUS")
FAST_RETRY = RetryPolicy(backoff_base=0.01, backoff_cap=0.05)


# -- the Slack boundary: a recording AlertSender ----------------------------------------------


@dataclass
class Call:
    kind: str  # root, thread, update, report, digest, digest-update
    channel: str
    campaign: Campaign | None
    ids: list[str]  # message ids (report ids for reports)
    ts: str | None = None  # what a root post answered
    digest: Digest | None = None


@dataclass
class RecordingSender:
    """Records every call that succeeded; can be told to fail, refuse or hold a call, or to
    lose the answer of a post Slack took (the post lands, the call raises)."""

    calls: list[Call] = field(default_factory=list)
    failures: list[tuple[str, BaseException]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # message ids Slack "refuses for good"
    hold: str | None = None  # kind of call to hold until `release` is set
    held: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    lose_answer: set[str] = field(default_factory=set)  # kinds whose next answer is lost
    landed: dict[str, str] = field(default_factory=dict)  # alert id -> ts: what Slack holds
    looked: list[str] = field(default_factory=list)  # alert ids find_posted was asked about
    _ts: int = 0

    def fail_next(self, kind: str, error: BaseException | None = None) -> None:
        self.failures.append((kind, error or RuntimeError("Slack said no (test)")))

    async def _enter(self, kind: str, ids: Sequence[str]) -> None:
        if self.hold == kind:
            self.held.set()
            await self.release.wait()
        for n, (wanted, error) in enumerate(self.failures):
            if wanted == kind:
                del self.failures[n]
                raise error
        if self.refuse & set(ids):
            raise AlertRejected("invalid_blocks (test)")

    def _land(self, kind: str, alert_id: str, call: Call) -> str:
        self._ts += 1
        ts = f"1700000000.{self._ts:06d}"
        call.ts = ts
        self.calls.append(call)
        self.landed[alert_id] = ts
        if kind in self.lose_answer:
            self.lose_answer.discard(kind)
            raise TimeoutError("the answer never came (test)")
        return ts

    async def post_root(self, campaign: Campaign, first: MessageDetails, alert_id: str) -> str:
        await self._enter("root", [first.id])
        copy = campaign.model_copy(deep=True)
        return self._land("root", alert_id, Call("root", campaign.channel, copy, [first.id]))

    async def update_root(self, campaign: Campaign, latest: MessageDetails) -> None:
        await self._enter("update", [])
        self.calls.append(
            Call("update", campaign.channel, campaign.model_copy(deep=True), [latest.id])
        )

    async def post_in_thread(
        self, campaign: Campaign, messages: Sequence[MessageDetails], alert_id: str
    ) -> None:
        ids = [m.id for m in messages]
        await self._enter("thread", ids)
        assert campaign.root_ts is not None, "a thread post needs its root first"
        copy = campaign.model_copy(deep=True)
        self._land("thread", alert_id, Call("thread", campaign.channel, copy, ids))

    async def post_report(self, channel: str, report: PhishGuardReport, alert_id: str) -> None:
        await self._enter("report", [])
        self._land("report", alert_id, Call("report", channel, None, [str(report.id)]))

    async def post_digest(self, digest: Digest, alert_id: str) -> str:
        await self._enter("digest", [])
        call = Call("digest", digest.channel, None, [], digest=digest.model_copy(deep=True))
        return self._land("digest", alert_id, call)

    async def update_digest(self, digest: Digest) -> None:
        await self._enter("digest-update", [])
        copy = digest.model_copy(deep=True)
        self.calls.append(Call("digest-update", digest.channel, None, [], digest=copy))

    async def find_posted(
        self,
        channel: str,
        alert_id: str,
        thread_ts: str | None,
        since: datetime,
        message_ids: Sequence[str],
    ) -> str | None:
        self.looked.append(alert_id)
        return self.landed.get(alert_id)

    # -- views ----------------------------------------------------------------------------------

    def of(self, kind: str) -> list[Call]:
        return [c for c in self.calls if c.kind == kind]

    def posted(self) -> Counter[str]:
        """How often each message id reached Slack (as a root or in a thread)."""
        return Counter(i for c in self.calls if c.kind in ("root", "thread") for i in c.ids)


# -- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def past_sample_data(shared_simulator: SimulatorProcess) -> None:
    """The sample data ends at the simulator's start (second precision). A poller's first
    start (its floor) must fall in a later second, so that no sample message is "new". Reset
    first: an earlier module's test on this worker may have left a fault (an outage) set, and
    the per-test reset (`simulator`) comes after this module-wide fixture."""
    shared_simulator.reset()
    answer = LOCAL.get(
        f"{shared_simulator.base_url}/accounts/{ACCOUNT_ID}/email-security/investigate",
        params={"detections_only": "false", "per_page": "1"},
        headers={"Authorization": f"Bearer {API_TOKEN}"},
        timeout=10,
    ).json()
    newest = datetime.fromisoformat(answer["result"][0]["scanned_at"]).timestamp()
    # The floor is whole seconds: wait (at most a second, once) until the sample is behind it.
    wait_until(lambda: time.time() > newest + 1.05, 5, "the sample's newest second to pass")


@pytest.fixture
async def es(simulator: SimulatorProcess) -> AsyncIterator[EmailSecurityClient]:
    async with EmailSecurityClient(
        ACCOUNT_ID,
        api_token=API_TOKEN,
        base_url=simulator.base_url,
        timeout=10.0,
        retry=FAST_RETRY,
        rate_limit=(1_000_000, 1.0),
        search_poll_interval=0.01,
    ) as client:
        yield client


def poller(
    rdb: aioredis.Redis,
    es: EmailSecurityClient,
    sender: RecordingSender,
    owner: str = "replica-a",
    **kw: Any,
) -> AlertPoller:
    options: dict[str, Any] = {
        "routes": load_routes(None, CHANNEL),
        "dispositions": DISPOSITIONS,
        "owner": owner,
        "poll_seconds": 60,
        "lock_seconds": 5,
        "phishguard": False,
    }
    options.update(kw)
    return AlertPoller(rdb, es, sender, **options)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def detection(
    sender: str,
    subject: str,
    to: str,
    disposition: str = "MALICIOUS",
    at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "from": sender,
        "subject": subject,
        "to": [to],
        "final_disposition": disposition,
        "scanned_at": iso(at or datetime.now(UTC)),
    }


def campaign_messages(campaigns: int, each: int, tag: str = "c") -> Iterator[dict[str, Any]]:
    """`each` messages of each of `campaigns` campaigns, scanned in one second (so queued in
    id order)."""
    at = datetime.now(UTC)
    for n in range(each):
        for c in range(campaigns):
            yield detection(
                f"boss{c}@{tag}{c}.example",
                f"Urgent wire transfer {c}",
                f"user{n}@example.com",
                at=at,
            )


async def started(p: AlertPoller) -> PollReport:
    """The first cycle: fixes the poller's floor (nothing older is ever alerted)."""
    report = await p.poll_once()
    assert report is not None and report.posted == 0 and report.errors == []
    return report


def final_counts(sender: RecordingSender) -> dict[str, int]:
    """Each campaign's count as Slack last saw it (root, then thread posts and updates)."""
    counts: dict[str, int] = {}
    for call in sender.calls:
        if call.campaign is not None:
            counts[call.campaign.key] = call.campaign.count
    return counts


# -- the tests ---------------------------------------------------------------------------------


async def test_new_detections_posted_once_overlap_and_restart_repeat_nothing(
    rdb: aioredis.Redis, es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    sender = RecordingSender()
    p = poller(rdb, es, sender)
    await started(p)
    ids = simulator.add_messages(
        [
            detection("a@evil.example", "Invoice overdue", "u1@example.com"),
            detection("ceo@lookalike.example", "Quick favour", "u2@example.com", "MALICIOUS-BEC"),
            detection("x@odd.example", "Hello", "u3@example.com", "SUSPICIOUS"),
            detection("deals@spam.example", "Cheap pills", "u4@example.com", "SPAM"),
            detection("friend@ok.example", "Lunch?", "u5@example.com", "NONE"),
        ]
    )
    report = await p.poll_once()
    assert report is not None and report.errors == []
    assert (report.fetched, report.new, report.posted, report.campaigns_created) == (3, 3, 3, 3)
    assert report.watermark_moved and report.pending == 0
    assert sender.posted() == Counter(ids[:3])
    assert {c.campaign.channel for c in sender.of("root") if c.campaign} == {CHANNEL}

    again = await p.poll_once()  # the overlap searches the same messages again
    assert again is not None and again.fetched == 3
    assert (again.new, again.posted) == (0, 0)

    await p.release_lock()  # a restart: a new process, the same Redis
    restarted = poller(rdb, es, sender, owner="replica-a-restarted")
    after = await restarted.poll_once()
    assert after is not None and (after.new, after.posted) == (0, 0)
    assert sender.posted() == Counter(ids[:3])


async def test_two_replicas_racing_post_each_detection_once(
    rdb: aioredis.Redis,
    other_rdb: aioredis.Redis,
    es: EmailSecurityClient,
    simulator: SimulatorProcess,
) -> None:
    sender_a, sender_b = RecordingSender(), RecordingSender()
    a = poller(rdb, es, sender_a, owner="replica-a")
    b = poller(other_rdb, es, sender_b, owner="replica-b")
    await started(a)
    all_ids: list[str] = []
    for round_ in range(3):
        await a.release_lock()
        await b.release_lock()
        all_ids += simulator.add_messages(list(campaign_messages(3, 4, tag=f"r{round_}-")))
        results = await asyncio.gather(a.poll_once(), b.poll_once())
        assert sum(r is None for r in results) == 1, "exactly one replica works"
        worked = next(r for r in results if r is not None)
        assert worked.errors == [] and worked.posted == 12
    assert sender_a.posted() + sender_b.posted() == Counter(all_ids)
    assert all(n == 1 for n in (sender_a.posted() + sender_b.posted()).values())


async def test_failover_when_the_poller_dies_mid_drain(
    rdb: aioredis.Redis,
    other_rdb: aioredis.Redis,
    es: EmailSecurityClient,
    simulator: SimulatorProcess,
) -> None:
    sender_a, sender_b = RecordingSender(hold="thread"), RecordingSender()
    a = poller(rdb, es, sender_a, owner="replica-a", lock_seconds=1)
    b = poller(other_rdb, es, sender_b, owner="replica-b", lock_seconds=1)
    await started(a)
    ids = simulator.add_messages(list(campaign_messages(2, 3)))

    dying = asyncio.create_task(a.poll_once())
    await asyncio.wait_for(sender_a.held.wait(), 5)  # roots posted, a thread post under way
    dying.cancel()  # A dies: no more renewals, its thread post never completes
    with contextlib.suppress(asyncio.CancelledError):
        await dying
    assert len(sender_a.of("root")) == 2 and sender_a.of("thread") == []
    assert await b.poll_once() is None, "A's lease has not lapsed yet"
    assert await b.lock_holder() == "replica-a"

    taken = await eventually(b.poll_once, 5, "B to take over after A's lease")
    assert taken.errors == [] and taken.posted == 4 and taken.campaigns_created == 0
    assert sender_a.posted() + sender_b.posted() == Counter(ids)
    roots = {c.ts for c in sender_a.of("root")}
    assert {c.campaign.root_ts for c in sender_b.of("thread") if c.campaign} == roots
    assert sorted(final_counts(sender_b).values()) == [3, 3]
    assert await b.lock_holder() == "replica-b"


async def test_a_failed_post_is_retried_next_poll_exactly_once(
    rdb: aioredis.Redis, es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    sender = RecordingSender()
    p = poller(rdb, es, sender)
    await started(p)
    ids = simulator.add_messages(list(campaign_messages(2, 3)))
    before = await rdb.hget(STATE_KEY, "watermark")

    sender.fail_next("thread")  # Slack fails after both roots went out
    failed = await p.poll_once()
    assert failed is not None and failed.new == 6
    assert failed.posted == 2 and failed.pending == 4 and not failed.watermark_moved
    assert any("Slack said no" in e for e in failed.errors)
    assert await rdb.hget(STATE_KEY, "watermark") == before
    assert await rdb.smembers(OUTBOXES_KEY) == {CHANNEL.encode()}

    retried = await p.poll_once()
    assert retried is not None and retried.errors == []
    assert (retried.new, retried.posted, retried.campaigns_created) == (0, 4, 0)
    assert retried.watermark_moved and retried.pending == 0
    assert sender.posted() == Counter(ids)
    assert len(sender.of("root")) == 2 and len(sender.of("update")) == 2
    assert sorted(final_counts(sender).values()) == [3, 3]


async def test_a_root_update_that_failed_is_done_next_time(
    rdb: aioredis.Redis, es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    sender = RecordingSender()
    p = poller(rdb, es, sender)
    await started(p)
    ids = simulator.add_messages(list(campaign_messages(1, 3)))
    sender.fail_next("update")
    first = await p.poll_once()
    assert first is not None and first.posted == 3 and first.errors
    assert first.watermark_moved, "every alert is out: only the counter is behind"
    second = await p.poll_once()
    assert second is not None and second.errors == [] and second.posted == 0
    updates = sender.of("update")
    assert len(updates) == 1 and updates[0].campaign and updates[0].campaign.count == 3
    assert sender.posted() == Counter(ids)


async def test_burst_of_500_in_20_campaigns(
    rdb: aioredis.Redis, es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    sender = RecordingSender()
    p = poller(rdb, es, sender)
    await started(p)
    ids = simulator.add_messages(list(campaign_messages(20, 25)))
    assert len(ids) == 500

    report = await p.poll_once()
    assert report is not None and report.errors == []
    assert (report.new, report.posted, report.campaigns_created) == (500, 500, 20)
    roots = sender.of("root")
    assert len(roots) == 20 and len({c.campaign.key for c in roots if c.campaign}) == 20
    first_thread = sender.calls.index(sender.of("thread")[0])
    assert all(sender.calls.index(r) < first_thread for r in roots), "roots come first"
    assert all(1 <= len(c.ids) <= THREAD_BATCH for c in sender.of("thread"))
    assert sender.posted() == Counter(ids), "every message exactly once"
    counts = final_counts(sender)
    assert sorted(counts.values()) == [25] * 20 and sum(counts.values()) == 500
    updates = sender.of("update")
    assert len(updates) == 20
    assert all(c.campaign and len(c.campaign.recipients) == 25 for c in updates)


async def test_routing_rules_pick_the_channel(
    rdb: aioredis.Redis, es: EmailSecurityClient, simulator: SimulatorProcess, tmp_path: Path
) -> None:
    rules = tmp_path / "routes.yml"
    rules.write_text(
        "- channel: CFRAUD001\n"
        "  dispositions: [MALICIOUS-BEC]\n"
        "- channel: CINTEL001\n"
        "  sender_domains: [evil.example]\n"
        "- channel: CSUBSOC01\n"
        "  recipient_domains: [subsidiary.example]\n"
        "  dispositions: [suspicious]\n"
    )
    sender = RecordingSender()
    p = poller(rdb, es, sender, routes=load_routes(rules, CHANNEL))
    await started(p)
    bec, intel, sub, default = simulator.add_messages(
        [
            detection("ceo@lookalike.example", "Wire", "cfo@example.com", "MALICIOUS-BEC"),
            detection("a@mail.EVIL.example", "Invoice", "u1@example.com"),
            detection("b@odd.example", "Hi", "u2@hq.subsidiary.example", "SUSPICIOUS"),
            detection("c@odd.example", "Hi", "u2@hq.subsidiary.example"),
        ]
    )
    report = await p.poll_once()
    assert report is not None and report.errors == [] and report.posted == 4
    where = {c.ids[0]: c.channel for c in sender.of("root")}
    assert where == {bec: "CFRAUD001", intel: "CINTEL001", sub: "CSUBSOC01", default: CHANNEL}


async def test_api_outage_posts_nothing_and_keeps_the_watermark(
    rdb: aioredis.Redis, es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    sender = RecordingSender()
    p = poller(rdb, es, sender)
    await started(p)
    ids = simulator.add_messages(list(campaign_messages(2, 1)))
    before = await rdb.hget(STATE_KEY, "watermark")

    simulator.faults(fail_next=[{"status": 503, "count": 20, "method": "GET"}])
    down = await p.poll_once()
    assert down is not None and down.errors and "Email Security API" in down.errors[0]
    assert (down.fetched, down.new, down.posted) == (0, 0, 0) and not down.watermark_moved
    assert await rdb.hget(STATE_KEY, "watermark") == before
    assert sender.calls == []

    simulator.faults(fail_next=[])
    up = await p.poll_once()
    assert up is not None and up.errors == [] and up.posted == 2 and up.watermark_moved
    assert sender.posted() == Counter(ids)


async def test_backfill(
    rdb: aioredis.Redis, es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    half_hour_ago = datetime.now(UTC) - timedelta(minutes=30)
    (old,) = simulator.add_messages(
        [detection("old@evil.example", "Old news", "u@example.com", at=half_hour_ago)]
    )
    sender = RecordingSender()
    fresh = poller(rdb, es, sender)  # ALERT_BACKFILL_HOURS=0: nothing old
    for _ in range(2):
        report = await fresh.poll_once()
        assert report is not None and report.posted == 0 and report.errors == []
    assert sender.calls == []

    await rdb.flushdb()  # a new install, with a backfill of an hour
    since = datetime.now(UTC) - timedelta(hours=1, seconds=1)
    backfilled = poller(rdb, es, sender, owner="replica-b", backfill_hours=1)
    report = await backfilled.poll_once()
    assert report is not None and report.errors == [] and report.posted >= 1
    assert sender.posted()[old] == 1
    for call in sender.of("root"):
        assert call.campaign is not None and call.campaign.first_seen >= since


async def test_campaign_window_splits_a_long_campaign(
    rdb: aioredis.Redis, es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    now = datetime.now(UTC)
    times = [now - timedelta(minutes=m) for m in (150, 140, 20, 10)]
    ids = simulator.add_messages(
        [
            detection("x@slow.example", "Payroll", f"u{n}@example.com", at=t)
            for n, t in enumerate(times)
        ]
    )
    sender = RecordingSender()
    p = poller(rdb, es, sender, backfill_hours=3, campaign_window_seconds=3600)
    report = await p.poll_once()
    assert report is not None and report.errors == []
    roots = [c for c in sender.of("root") if c.campaign and c.campaign.sender == "x@slow.example"]
    assert [r.ids[0] for r in roots] == [ids[0], ids[2]]
    mine = {r.ts for r in roots}
    threads = [c for c in sender.of("thread") if c.campaign and c.campaign.root_ts in mine]
    assert sorted(i for c in threads for i in c.ids) == sorted([ids[1], ids[3]])


async def test_phishguard_reports_posted_once(
    rdb: aioredis.Redis, es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    sender = RecordingSender()
    p = poller(
        rdb, es, sender, phishguard=True, backfill_hours=24 * 30, dispositions=["MALICIOUS-BEC"]
    )
    now = datetime.now(UTC)
    expected = await es.list_phishguard_reports(now - timedelta(days=30), now + timedelta(days=1))
    assert expected
    report = await p.poll_once()
    assert report is not None and report.errors == []
    posted = Counter(i for c in sender.of("report") for i in c.ids)
    assert posted == Counter(str(r.id) for r in expected)
    assert {c.channel for c in sender.of("report")} == {CHANNEL}
    again = await p.poll_once()
    assert again is not None and again.new == 0 and again.posted == 0
    assert len(sender.of("report")) == len(expected)


async def test_a_post_slack_refuses_is_set_aside_not_retried_forever(
    rdb: aioredis.Redis, es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    sender = RecordingSender()
    p = poller(rdb, es, sender)
    await started(p)
    queued = sorted(simulator.add_messages(list(campaign_messages(1, 4))))  # queue order
    sender.refuse = {queued[0], queued[2]}  # the first root candidate and one follow-up
    report = await p.poll_once()
    assert report is not None and report.errors == []
    assert (report.posted, report.rejected, report.pending) == (2, 2, 0)
    assert report.watermark_moved
    assert sender.posted() == Counter([queued[1], queued[3]])
    assert sender.of("root")[0].ids == [queued[1]], "the next message leads the campaign"
    entries = await rdb.xrange(REJECTED_KEY)
    refused = sorted(e[b"item"].decode() for _, e in entries)
    assert refused == sorted(f"m:{i}" for i in queued[::2])


async def test_redis_down_raises_store_unavailable_and_posts_nothing(
    es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    sender = RecordingSender()
    dead = aioredis.Redis(port=free_port(), socket_connect_timeout=0.5, retry=NO_RETRY)
    try:
        p = poller(dead, es, sender)
        with pytest.raises(StoreUnavailable, match="REDIS_URL"):
            await p.poll_once()
    finally:
        await dead.aclose()
    assert sender.calls == []
    assert simulator.requests() == []


async def test_run_forever_survives_errors_and_releases_the_lock(
    rdb: aioredis.Redis, es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    sender = RecordingSender()
    p = poller(rdb, es, sender, poll_seconds=0.05)
    stop = asyncio.Event()
    running = asyncio.create_task(p.run_forever(stop))
    try:
        await eventually(lambda: rdb.hget(STATE_KEY, "floor"), 5, "the first cycle")
        sender.fail_next("root", ConnectionError("Slack unreachable"))
        ids = simulator.add_messages(list(campaign_messages(2, 2)))

        async def all_posted() -> bool:
            return sender.posted() == Counter(ids)

        await eventually(all_posted, 5, "every alert to be posted")
        assert await p.lock_holder() == "replica-a"
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)
    assert await rdb.get(LOCK_KEY) is None, "released on stop"
    assert sender.posted() == Counter(ids)


async def test_stop_ends_a_long_drain_before_the_next_post(
    rdb: aioredis.Redis, es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    sender = RecordingSender()
    p = poller(rdb, es, sender, poll_seconds=0.05)
    await started(p)
    await p.release_lock()
    ids = simulator.add_messages(list(campaign_messages(3, 1)))
    sender.hold = "root"
    stop = asyncio.Event()
    running = asyncio.create_task(p.run_forever(stop))
    await asyncio.wait_for(sender.held.wait(), 5)
    stop.set()
    sender.release.set()  # the post under way completes; no further post starts
    await asyncio.wait_for(running, 5)
    assert len(sender.of("root")) == 1
    assert await rdb.get(LOCK_KEY) is None
    assert await rdb.zcard(outbox_key(CHANNEL)) == 2

    sender.hold = None
    successor = poller(rdb, es, sender, owner="replica-b")
    report = await successor.poll_once()
    assert report is not None and report.posted == 2 and report.errors == []
    assert sender.posted() == Counter(ids)


# -- issue 14: the most severe first, digests, grouping beyond sender + subject, in flight --------

DIGEST = DigestRate(3, 300)


async def no_groups(group_id: str) -> frozenset[str]:
    return frozenset()


def lesser(n: int, tag: str = "flood") -> list[dict[str, Any]]:
    """`n` SUSPICIOUS detections no rule groups: each its own domain, subject and fingerprint."""
    words = ["parcel", "voicemail", "payroll", "mailbox", "invoice", "password", "meeting"]
    words += ["refund", "delivery", "benefits", "contract", "survey", "security", "storage"]
    return [
        detection(f"n@{tag}{i}.example", f"Your {words[i % len(words)]} notice {tag}{'x' * i}",
                  f"u{i}@example.com", "SUSPICIOUS")
        for i in range(n)
    ]  # fmt: skip


async def test_the_most_severe_alerts_go_first_whatever_is_queued(
    rdb: aioredis.Redis, es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    sender = RecordingSender()
    p = poller(rdb, es, sender)
    await started(p)
    queued = simulator.add_messages(lesser(6))
    sender.fail_next("root", AlertNotPosted("ratelimited (test)"))  # they stay queued
    stuck = await p.poll_once()
    assert stuck is not None and stuck.pending == 6 and sender.calls == []
    malicious, bec = simulator.add_messages(
        [
            detection("a@evil.example", "Invoice", "u1@example.com"),
            detection("ceo@lookalike.example", "Wire", "cfo@example.com", "MALICIOUS-BEC"),
        ]
    )
    report = await p.poll_once()
    assert report is not None and report.errors == [] and report.posted == 8
    roots = [c.ids[0] for c in sender.of("root")]
    assert roots[:2] == [bec, malicious] and set(roots[2:]) == set(queued)
    assert sender.looked == [], "a post Slack refused is not looked for"


async def test_past_the_rate_lesser_alerts_go_into_one_digest(
    rdb: aioredis.Redis, es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    sender = RecordingSender()
    p = poller(rdb, es, sender, digest_rate=DIGEST)
    await started(p)
    flood = simulator.add_messages(lesser(10))
    [malicious] = simulator.add_messages([detection("a@evil.example", "Hi", "u@example.com")])
    report = await p.poll_once()
    assert report is not None and report.errors == []
    assert (report.posted, report.digested, report.pending) == (11, 7, 0)
    roots = [c.ids[0] for c in sender.of("root")]
    assert roots[0] == malicious, "MALICIOUS is never counted or digested"
    assert len(roots) == 4 and set(roots[1:]) < set(flood)
    [card] = sender.of("digest")
    assert card.digest is not None and (card.digest.count, card.digest.senders) == (7, 7)
    assert card.digest.dispositions == {"SUSPICIOUS": 7}

    more = simulator.add_messages(lesser(4, tag="later"))
    again = await p.poll_once()
    assert again is not None and again.errors == [] and again.digested == 4
    [redrawn] = sender.of("digest-update")
    assert redrawn.digest is not None and redrawn.digest.count == 11
    assert len(sender.of("digest")) == 1 and len(sender.of("root")) == 4

    viewers = Policy(Settings.model_validate({"bot_viewers": "U0VIEWER"}), no_groups)
    listing = DigestService(Outbox(rdb), viewers)
    first = await listing.page("U0VIEWER", card.digest.id, 0)
    rest = await listing.page("U0VIEWER", card.digest.id, 10)
    assert first.kept == 11 and len(first.entries) == 10 and len(rest.entries) == 1
    listed = [e.id for e in first.entries + rest.entries]
    assert set(listed[:7]) == set(flood) - set(roots) and set(listed[7:]) == set(more)
    assert first.entries[0].disposition == "SUSPICIOUS" and first.entries[0].subject


async def test_messages_group_by_fingerprint_link_and_attachment(
    rdb: aioredis.Redis, es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    # What the simulator derives the messages' detections from: links and attachments.
    link = {"_links": [{"href": "https://login.evil-sso.example/a", "text": "Sign in"}]}
    payload = {"_attachments": [{"size": 10, "filename": "a.pdf", "sha256": "AB" * 32}]}
    batch = [
        {**detection("a@one.example", "Parcel", "u1@example.com"), "edf_hash": "f1"},
        {**detection("b@two.example", "Payroll", "u2@example.com"), "edf_hash": "F1"},
        {**detection("c@three.example", "Voicemail", "u3@example.com"), **link},
        {**detection("d@four.example", "Mailbox", "u4@example.com"), **link},
        {**detection("e@five.example", "Contract", "u5@example.com"), **payload},
        {**detection("f@six.example", "Survey", "u6@example.com"), **payload},
    ]
    sender = RecordingSender()
    p = poller(rdb, es, sender, evidence_lookups=10)
    await started(p)
    ids = simulator.add_messages(batch)
    report = await p.poll_once()
    assert report is not None and report.errors == []
    assert (report.posted, report.campaigns_created) == (6, 3)
    together = [{ids[0], ids[1]}, {ids[2], ids[3]}, {ids[4], ids[5]}]
    threads = {c.ids[0] for c in sender.of("thread")}
    assert all(len(pair & threads) == 1 for pair in together), "one of each pair threaded"
    assert sender.posted() == Counter(ids)


async def test_a_post_whose_answer_was_lost_is_found_not_posted_again(
    rdb: aioredis.Redis, es: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    sender = RecordingSender(lose_answer={"root"})
    p = poller(rdb, es, sender, digest_rate=DigestRate(1, 300))
    await started(p)
    ids = simulator.add_messages(list(campaign_messages(1, 4)) + lesser(3))
    lost = await p.poll_once()
    assert lost is not None and lost.errors and lost.pending == 7
    assert len(sender.calls) == 1, "Slack took the first root; the poller never heard"
    assert await rdb.exists(inflight_key(CHANNEL))

    sender.lose_answer = {"thread", "digest"}
    recovered = 0
    for _ in range(4):  # each poll finds what the last left in flight; two more answers lost
        made = await p.poll_once()
        assert made is not None
        recovered += made.recovered
        if made.pending == 0 and not made.errors:
            break
    assert made.pending == 0 and made.errors == [] and recovered == 3
    assert await rdb.exists(inflight_key(CHANNEL)) == 0
    assert len(sender.looked) == 3, "each post left in flight was looked for"
    [card] = sender.of("digest")
    assert card.digest is not None
    entries, kept = await Outbox(rdb).entries(card.digest.id, 0, 10)
    posted = sender.posted()
    assert kept == 2 and set(posted) | {e.id for e in entries} == set(ids)
    assert set(posted).isdisjoint(e.id for e in entries) and set(posted.values()) == {1}
