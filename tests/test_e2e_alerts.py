"""End to end: detection alerts through bot processes, a Slack stand-in that enforces one
message per second per channel, the simulator and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.kit.factories import detection
from tests.kit.flows import ALERTS, card_ids, roots, settle, wait_roots
from tests.kit.servers import RedisProcess, SimulatorProcess
from tests.kit.slack import BOT_TOKEN, BotProcess, Slack, StandinProcess, has_action, text_of

BEC = "C0BECALERTS"


@pytest.fixture(scope="module")
def strict_standin() -> Iterator[StandinProcess]:
    process = StandinProcess("--bot-token", BOT_TOKEN, "--channel-rate", "1/1")
    yield process
    process.stop()


@pytest.fixture
def clean(
    strict_standin: StandinProcess, simulator: SimulatorProcess, redis_server: RedisProcess
) -> StandinProcess:
    strict_standin.hook("POST", "reset")
    redis.Redis.from_url(redis_server.url).flushdb()
    return strict_standin


def alert_bot(
    simulator: SimulatorProcess, standin: StandinProcess, redis_server: RedisProcess, **env: str
) -> BotProcess:
    return BotProcess(
        simulator, standin, redis_server.url, ALERT_CHANNEL=ALERTS, ALERT_POLL_SECONDS="1", **env
    )


@pytest.fixture
def bot(
    clean: StandinProcess, shared_simulator: SimulatorProcess, redis_server: RedisProcess
) -> Iterator[BotProcess]:
    process = alert_bot(shared_simulator, clean, redis_server)
    yield process
    process.stop()


def test_new_detections_are_posted_once(
    bot: BotProcess, clean: StandinProcess, simulator: SimulatorProcess
) -> None:
    slack = Slack(bot, clean)
    settle(slack, simulator, 1)  # the poller has started; the sample data is older: not posted
    simulator.add_messages(
        [detection(1), detection(2, sender="ceo@spoof.example"), detection(3, disposition="SPAM")]
    )
    posted = wait_roots(slack, 2)
    settle(slack, simulator, 3)
    assert len(roots(clean)) == 2, "posted once, and SPAM is not an alert disposition"
    texts = [text_of(m) for m in posted]
    assert any("Detection 1" in t for t in texts) and any("Detection 2" in t for t in texts)
    assert all(has_action(m, "msg_trace") for m in posted), "alerts carry the card's buttons"
    assert all(m["unfurl_links"] is False for m in posted)


def test_campaign_goes_into_one_thread_with_a_counter(
    bot: BotProcess, clean: StandinProcess, simulator: SimulatorProcess
) -> None:
    slack = Slack(bot, clean)
    settle(slack, simulator, 1)
    ids = simulator.add_messages(
        [detection(i, subject="Invoice overdue", to=f"user{i}@example.com") for i in range(5)]
    )
    [root] = wait_roots(slack, 1)
    slack.wait(
        lambda: (
            "5 messages"
            in text_of(next(m for m in clean.messages(ALERTS) if m["ts"] == root["ts"]))
        ),
        "the root's counter to reach 5",
        30,
    )
    replies = [m for m in clean.messages(ALERTS) if m.get("thread_ts") == root["ts"]]
    threaded = card_ids(replies)
    assert len(threaded) == 4 and len(set(threaded)) == 4
    assert set(threaded) < set(ids)
    settle(slack, simulator, 2)
    assert len(roots(clean)) == 1


def test_two_processes_one_poller_and_failover(
    clean: StandinProcess,
    shared_simulator: SimulatorProcess,
    simulator: SimulatorProcess,
    redis_server: RedisProcess,
) -> None:
    first = alert_bot(shared_simulator, clean, redis_server)
    second = alert_bot(shared_simulator, clean, redis_server)
    try:
        slack = Slack(first, clean)
        settle(slack, simulator, 1)
        simulator.add_messages([detection(10 + i, sender=f"s{i}@phish.example") for i in range(4)])
        wait_roots(slack, 4)
        settle(slack, simulator, 2)
        assert len(roots(clean)) == 4, "two replicas, one poller, no duplicates"
        lock = redis.Redis.from_url(redis_server.url).get("alerts:lock")
        assert lock is not None
        holder = first if f":{first.process.pid}:" in lock.decode() else second
        survivor = second if holder is first else first
        holder.process.kill()
        holder.process.wait()
        simulator.add_messages(
            [detection(20 + i, sender=f"late{i}@phish.example") for i in range(3)]
        )
        wait_roots(Slack(survivor, clean), 7, timeout=45)
        settle(Slack(survivor, clean), simulator, 2)
        assert len(roots(clean)) == 7, "nothing lost or repeated across the failover"
    finally:
        first.stop()
        second.stop()


def test_restart_does_not_repost(
    clean: StandinProcess,
    shared_simulator: SimulatorProcess,
    simulator: SimulatorProcess,
    redis_server: RedisProcess,
) -> None:
    process = alert_bot(shared_simulator, clean, redis_server)
    try:
        slack = Slack(process, clean)
        settle(slack, simulator, 1)
        simulator.add_messages([detection(30), detection(31, sender="x@phish.example")])
        wait_roots(slack, 2)
    finally:
        process.stop()
    again = alert_bot(shared_simulator, clean, redis_server)
    try:
        settle(Slack(again, clean), simulator, 3)
        assert len(roots(clean)) == 2
    finally:
        again.stop()


@pytest.mark.timeout(400)  # ~80 posts paced at one per second per channel
def test_burst_of_500_in_20_campaigns(
    bot: BotProcess, clean: StandinProcess, simulator: SimulatorProcess
) -> None:
    slack = Slack(bot, clean)
    settle(slack, simulator, 1)
    burst = [
        detection(
            i,
            sender=f"wave{i % 20}@phish.example",
            subject=f"Wave {i % 20}",
            to=f"u{i}@example.com",
        )
        for i in range(500)
    ]
    ids = simulator.add_messages(burst)
    posted = wait_roots(slack, 20, timeout=60)

    def counters_done() -> bool:
        latest = {m["ts"]: m for m in clean.messages(ALERTS)}
        return all("25 messages" in text_of(latest[r["ts"]]) for r in posted)

    slack.wait(counters_done, "every campaign root to count 25", timeout=240)
    assert len(roots(clean)) == 20
    threaded = card_ids([m for m in clean.messages(ALERTS) if m.get("thread_ts")])
    assert len(threaded) == 480 and len(set(threaded)) == 480, "each follow-up once"
    assert set(threaded) < set(ids)
    rejected = [c for c in clean.calls("chat.postMessage") if c["status"] == 429]
    assert len(rejected) <= 2, "paced to Slack's limit: no 429 loop"


def test_routing_rule_sends_a_disposition_to_its_channel(
    clean: StandinProcess,
    shared_simulator: SimulatorProcess,
    simulator: SimulatorProcess,
    redis_server: RedisProcess,
    tmp_path: Path,
) -> None:
    rules = tmp_path / "routes.yml"
    rules.write_text(f"- channel: {BEC}\n  dispositions: [MALICIOUS-BEC]\n")
    process = alert_bot(shared_simulator, clean, redis_server, ALERT_ROUTES=str(rules))
    try:
        slack = Slack(process, clean)
        settle(slack, simulator, 1)
        simulator.add_messages(
            [
                detection(40, disposition="MALICIOUS-BEC", sender="ceo@lookalike.example"),
                detection(41),
            ]
        )
        wait_roots(slack, 1, channel=BEC)
        wait_roots(slack, 1, channel=ALERTS)
        assert "lookalike" in text_of(roots(clean, BEC)[0])
    finally:
        process.stop()


def test_api_outage_is_retried_and_loses_nothing(
    bot: BotProcess, clean: StandinProcess, simulator: SimulatorProcess, redis_server: RedisProcess
) -> None:
    slack = Slack(bot, clean)
    settle(slack, simulator, 1)
    store = redis.Redis.from_url(redis_server.url)

    def watermark() -> float:
        return float(store.hget("alerts:state", "watermark") or 0)

    assert watermark() > 0
    simulator.faults(fail_next=[{"status": 503, "count": 40, "method": "GET"}])
    simulator.add_messages([detection(50)])
    # A cycle whose search got through before the outage may still commit its watermark; the
    # first refused poll belongs to the next cycle, so from then on the watermark must wait.
    slack.wait(lambda: any(r["status"] == 503 for r in simulator.requests()), "the outage", 30)
    before = watermark()
    slack.wait(
        lambda: sum(r["status"] == 503 for r in simulator.requests()) >= 12,
        "polls during the outage",
        60,
    )
    assert watermark() == before, "the watermark waits while the API is down"
    assert roots(clean) == []
    wait_roots(slack, 1, timeout=60)
    # The cycle commits the watermark right after its last post: wait for that moment.
    slack.wait(lambda: watermark() > before, "the watermark to move after the outage", 30)
