"""End to end: detection alerts through bot processes, a Slack stand-in that enforces one
message per second per channel, the simulator and Redis."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from bot.services.alerts.scripts import LOCK_KEY, STATE_KEY
from tests.kit.factories import detection
from tests.kit.flows import ALERTS, card_ids, roots, settle, wait_roots
from tests.kit.servers import AnyRedis, RedisProcess, SimulatorProcess, flush_redis
from tests.kit.slack import (
    BOT_TOKEN,
    OPERATOR,
    BotProcess,
    Slack,
    StandinProcess,
    has_action,
    text_of,
)

BEC = "C0BECALERTS"
ALERT_EVENT = "email_security_alert"  # the metadata event type of every alert post


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
    simulator: SimulatorProcess, standin: StandinProcess, redis_server: AnyRedis, **env: str
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


@pytest.mark.starts_first(20)
def test_two_processes_one_poller_and_failover(
    clean: StandinProcess,
    shared_simulator: SimulatorProcess,
    simulator: SimulatorProcess,
    redis_server: RedisProcess,
) -> None:
    # A 3 s poller lease (ALERT_LOCK_SECONDS, 10 by default): the failover comes that soon.
    first = alert_bot(shared_simulator, clean, redis_server, ALERT_LOCK_SECONDS="3")
    second = alert_bot(shared_simulator, clean, redis_server, ALERT_LOCK_SECONDS="3")
    try:
        slack = Slack(first, clean)
        settle(slack, simulator, 1)
        simulator.add_messages(  # four senders' domains: four campaigns
            [detection(10 + i, sender=f"s{i}@phish{i}.example") for i in range(4)]
        )
        wait_roots(slack, 4)
        settle(slack, simulator, 2)
        assert len(roots(clean)) == 4, "two replicas, one poller, no duplicates"
        lock = redis.Redis.from_url(redis_server.url).get(LOCK_KEY)
        assert lock is not None
        holder = first if f":{first.process.pid}:" in lock.decode() else second
        survivor = second if holder is first else first
        holder.process.kill()
        holder.process.wait()
        simulator.add_messages(
            [detection(20 + i, sender=f"late{i}@late{i}.example") for i in range(3)]
        )
        wait_roots(Slack(survivor, clean), 7, timeout=45)
        settle(Slack(survivor, clean), simulator, 2)
        assert len(roots(clean)) == 7, "nothing lost or repeated across the failover"
    finally:
        first.stop()
        second.stop()


@pytest.mark.starts_first(12)
def test_restart_does_not_repost(
    clean: StandinProcess,
    shared_simulator: SimulatorProcess,
    simulator: SimulatorProcess,
    store: AnyRedis,
) -> None:
    """On a single Redis and on a Redis Cluster (`store`)."""
    flush_redis(store.url)
    process = alert_bot(shared_simulator, clean, store)
    try:
        slack = Slack(process, clean)
        settle(slack, simulator, 1)
        simulator.add_messages([detection(30), detection(31, sender="x@other.example")])
        wait_roots(slack, 2)
    finally:
        process.stop()
    again = alert_bot(shared_simulator, clean, store)
    try:
        settle(Slack(again, clean), simulator, 3)
        assert len(roots(clean)) == 2
    finally:
        again.stop()


@pytest.mark.timeout(400)  # ~80 posts paced at one per second per channel
@pytest.mark.starts_first(96)
def test_burst_of_500_in_20_campaigns(
    bot: BotProcess, clean: StandinProcess, simulator: SimulatorProcess
) -> None:
    slack = Slack(bot, clean)
    settle(slack, simulator, 1)
    burst = [
        detection(  # a campaign per sender domain ("Wave 3" and "Wave 4" are one subject)
            i,
            sender=f"wave@phish{i % 20}.example",
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


@pytest.mark.starts_first(15)
def test_api_outage_is_retried_and_loses_nothing(
    bot: BotProcess, clean: StandinProcess, simulator: SimulatorProcess, redis_server: RedisProcess
) -> None:
    slack = Slack(bot, clean)
    settle(slack, simulator, 1)
    store = redis.Redis.from_url(redis_server.url)

    def watermark() -> float:
        return float(store.hget(STATE_KEY, "watermark") or 0)

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


# -- issue 14: alerts that cannot be drowned, routed on the envelope, posted exactly once ------

SUBSIDIARY = "C0SUBSOC1"
DIGEST_LIST = "alerts_digest_list"
WORDS = (
    "parcel", "voicemail", "payroll", "mailbox", "invoice", "password", "meeting", "refund",
    "delivery", "benefits", "contract", "survey", "security", "storage",
)  # fmt: skip


COUNTED = "12 SUSPICIOUS from 12 senders"


def digest_cards(standin: StandinProcess) -> list[dict[str, Any]]:
    return [m for m in roots(standin) if has_action(m, DIGEST_LIST)]


def test_a_flood_of_suspicious_mail_becomes_one_digest_and_a_bec_goes_first(
    clean: StandinProcess,
    shared_simulator: SimulatorProcess,
    simulator: SimulatorProcess,
    redis_server: RedisProcess,
) -> None:
    process = alert_bot(shared_simulator, clean, redis_server, ALERT_DIGEST_RATE="2/300")
    try:
        slack = Slack(process, clean)
        settle(slack, simulator, 1)
        flood = [  # each its own sender, domain and subject: no campaign groups them
            detection(
                100 + i, sender=f"n{i}@flood{i}.example", subject=f"Your {word} notice",
                disposition="SUSPICIOUS", to=f"u{i}@example.com",
            )
            for i, word in enumerate(WORDS)
        ]  # fmt: skip
        flood_ids = simulator.add_messages(flood)
        wait_roots(slack, 1)  # the flood is queued and being posted
        [bec] = simulator.add_messages(
            [detection(199, sender="ceo@lookalike.example", disposition="MALICIOUS-BEC")]
        )
        [digest] = slack.wait(
            lambda: [
                m for m in digest_cards(clean) if "12 SUSPICIOUS from 12 senders" in text_of(m)
            ],
            "one digest card counting the 12 SUSPICIOUS alerts over the rate",
        )
        posted = slack.wait(
            lambda: (lambda r: r if bec in card_ids(r) else None)(roots(clean)),
            "the BEC alert",
        )
        before_bec = posted[: [card_ids([m]) for m in posted].index([bec])]
        assert len(before_bec) <= 3, "at most 2 SUSPICIOUS and the digest go before the BEC"
        singles = [i for i in card_ids(roots(clean)) if i in flood_ids]
        assert len(singles) == 2, "the rate lets 2 through one by one"

        slack.click(digest, DIGEST_LIST)
        first = slack.private(OPERATOR, "12 SUSPICIOUS")
        listed = open_buttons(first)
        assert len(listed) == 10, "one page: 10 alerts, each with Open"
        slack.click(first, DIGEST_LIST, value=next_page_value(first))
        second = slack.private(OPERATOR, "11-12 of 12")
        assert len(open_buttons(second)) == 2
        assert set(listed + open_buttons(second)) == set(flood_ids) - set(singles)

        slack.click(second, "search_open", value=open_buttons(second)[0])
        slack.wait(
            lambda: [
                m for m in clean.messages(None) if m["ephemeral"] and has_action(m, "msg_share")
            ],
            "the alert's card, privately",
        )
    finally:
        process.stop()


def open_buttons(message: dict[str, Any]) -> list[str]:
    return [
        e["value"]
        for b in message["blocks"]
        for e in [b.get("accessory") or {}, *(b.get("elements") or [])]
        if e.get("action_id") == "search_open"
    ]


def next_page_value(message: dict[str, Any]) -> str:
    values = [
        e["value"]
        for b in message["blocks"]
        for e in [b.get("accessory") or {}, *(b.get("elements") or [])]
        if e.get("action_id") == DIGEST_LIST
    ]
    assert len(values) == 1, "one Next page button"
    return values[0]


def test_a_forged_header_to_does_not_move_an_alert_off_its_route(
    clean: StandinProcess,
    shared_simulator: SimulatorProcess,
    simulator: SimulatorProcess,
    redis_server: RedisProcess,
    tmp_path: Path,
) -> None:
    rules = tmp_path / "routes.yml"
    rules.write_text(f"- channel: {SUBSIDIARY}\n  recipient_domains: [subsidiary.example]\n")
    process = alert_bot(shared_simulator, clean, redis_server, ALERT_ROUTES=str(rules))
    try:
        slack = Slack(process, clean)
        settle(slack, simulator, 1)
        forged = {  # delivered to alice@example.com; its header To names the subsidiary
            **detection(80, sender="x@phish.example", to="cfo@subsidiary.example"),
            "envelope_to": ["alice@example.com"],
            "client_recipients": ["alice@example.com"],
        }
        genuine = {
            **detection(81, sender="y@other-phish.example", to="bob@subsidiary.example"),
            "envelope_to": ["bob@subsidiary.example"],
            "client_recipients": ["bob@subsidiary.example"],
        }
        forged_id, genuine_id = simulator.add_messages([forged, genuine])
        wait_roots(slack, 1, channel=SUBSIDIARY)
        wait_roots(slack, 1)
        assert card_ids(roots(clean)) == [forged_id], "the SOC channel keeps the forged one"
        assert card_ids(roots(clean, SUBSIDIARY)) == [genuine_id]
    finally:
        process.stop()


def test_a_post_slack_took_as_the_bot_died_is_not_posted_again(
    clean: StandinProcess,
    shared_simulator: SimulatorProcess,
    simulator: SimulatorProcess,
    redis_server: RedisProcess,
) -> None:
    process = alert_bot(shared_simulator, clean, redis_server, ALERT_LOCK_SECONDS="2")
    slack = Slack(process, clean)
    try:
        settle(slack, simulator, 1)
        clean.hook("POST", "hold", {"method": "chat.postMessage"})
        ids = simulator.add_messages(
            [
                detection(90, sender="ceo@lookalike.example"),
                detection(91, sender="z@x-phish.example"),
            ]
        )
        slack.wait(lambda: clean.hook("GET", "hold")["held"], "Slack to hold its answer to a post")
        process.process.kill()  # SIGKILL: Slack has the post, the bot never heard so
        process.process.wait()
    finally:
        clean.hook("POST", "hold/release")
        process.stop()
    [taken] = card_ids(roots(clean))
    again = alert_bot(shared_simulator, clean, redis_server, ALERT_LOCK_SECONDS="2")
    try:
        slack = Slack(again, clean)
        wait_roots(slack, 2)
        settle(slack, simulator, 2)
        posted = Counter(card_ids(roots(clean)))
        assert posted == Counter(ids), f"each alert once, none lost ({taken} was in flight)"
        looked = clean.calls("conversations.history")
        assert looked and all(c["args"].get("include_all_metadata") for c in looked)
        accepted = [c for c in clean.calls("chat.postMessage") if c["status"] == 200]
        assert all(c["args"]["metadata"]["event_type"] == ALERT_EVENT for c in accepted)
        assert {c["args"]["metadata"]["event_payload"]["alert_id"] for c in accepted} == {
            f"root:m:{i}" for i in ids
        }
    finally:
        again.stop()
