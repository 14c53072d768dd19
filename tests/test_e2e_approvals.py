"""End to end: four-eyes approvals with two bot processes sharing one Redis."""

from __future__ import annotations

import concurrent.futures
import signal
import subprocess
from typing import Any

import pytest
import redis

from bot.services.approvals.scripts import record_key
from tests.kit.factories import add, quarantined_messages
from tests.kit.flows import (
    approval_card,
    card_now,
    release_all_card,
    released_ids,
    request_id_of,
    wait_card,
)
from tests.kit.servers import AnyRedis, RedisProcess, SimulatorProcess, free_port, wait_until
from tests.kit.slack import (
    APPROVER,
    APPROVER2,
    BOTH,
    OPERATOR,
    BotProcess,
    Slack,
    StandinProcess,
    has_action,
    text_of,
)


def test_guarded_release_is_approved_and_executed(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    message_id = add(simulator, subject="Real phish?", final_disposition="MALICIOUS")
    slack.command(f"release {message_id}")
    card = approval_card(slack)
    text = text_of(card)
    assert "Real phish?" in text and "MALICIOUS" in text and f"<@{OPERATOR}>" in text
    assert simulator.calls() == [], "nothing happens before approval"
    slack.click(card, "approval_approve", user=APPROVER)
    done = wait_card(slack, card["ts"], "Done")
    assert not has_action(done, "approval_approve")
    assert released_ids(simulator) == [message_id]
    slack.wait(
        lambda: any("finished" in text_of(m) for m in slack.standin.messages()),
        "the finished note in the card's thread",
    )
    updates = slack.standin.calls("chat.update")
    done_updates = [c for c in updates if c["args"].get("ts") == card["ts"] and "Done" in str(c)]
    assert len(done_updates) == 1, "the finished card is drawn once"


def test_self_approval_and_non_approvers_are_refused(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    first, second = add(simulator, subject="a"), add(simulator, subject="b")
    slack.command(f"release {first} {second}", user=BOTH)
    card = approval_card(slack)
    slack.click(card, "approval_approve", user=BOTH)
    slack.private(BOTH, "your own request")
    slack.click(card, "approval_approve", user=OPERATOR)
    slack.private(OPERATOR, "approver role")
    assert simulator.calls() == []
    assert "Approval needed" in text_of(card_now(slack, card["ts"]))


def test_reject_with_reason_and_cancel(slack: Slack, simulator: SimulatorProcess) -> None:
    first, second = add(simulator, subject="x"), add(simulator, subject="y")
    slack.command(f"move {first} {second} junk")
    card = approval_card(slack)
    slack.click(card, "approval_reject", user=APPROVER)
    view = slack.view("approval_reject_modal")
    slack.submit(view, {"reason": "Wrong folder, use DeletedItems"}, user=APPROVER)
    rejected = wait_card(slack, card["ts"], "Rejected")
    assert "Wrong folder" in text_of(rejected) and not has_action(rejected, "approval_approve")
    slack.click(card, "approval_approve", user=APPROVER2)  # the stale card
    slack.private(APPROVER2, "rejected already")

    slack.command(f"release {first} {second}")
    second_card = approval_card(slack)
    slack.click(second_card, "approval_cancel", user=APPROVER)
    slack.private(APPROVER, "Only the requester")
    slack.click(second_card, "approval_cancel", user=OPERATOR)
    wait_card(slack, second_card["ts"], "Cancelled")
    assert simulator.calls() == []


def test_tampered_request_is_refused(
    slack: Slack, simulator: SimulatorProcess, redis_server: RedisProcess
) -> None:
    first, second = add(simulator, subject="p"), add(simulator, subject="q")
    slack.command(f"release {first} {second}")
    card = approval_card(slack)
    store = redis.Redis.from_url(redis_server.url)
    key = record_key(request_id_of(card))
    stored = store.hget(key, "ids")
    assert stored is not None and first.encode() in stored
    store.hset(
        key, "ids", stored.replace(second.encode(), b"Evil00000000-2026-01-01T00:00:00-00000000")
    )
    slack.click(card, "approval_approve", user=APPROVER)
    slack.private(APPROVER, "no longer matches")
    assert simulator.calls() == []


def test_thirty_concurrent_approvals_across_two_processes_execute_once(
    store_slack: Slack, store_second_bot: BotProcess, simulator: SimulatorProcess
) -> None:
    """On a single Redis and on a Redis Cluster (`store`): one execution, every id once."""
    slack, second_bot = store_slack, store_second_bot
    ids = simulator.add_messages(quarantined_messages(40, "Race"))
    slack.command("release " + " ".join(ids))
    card = approval_card(slack)
    other = Slack(second_bot, slack.standin)
    drivers = [slack, other] * 16
    approvers = [APPROVER, APPROVER2, BOTH] * 11
    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(
            pool.map(
                lambda i: drivers[i].click(card, "approval_approve", user=approvers[i]), range(32)
            )
        )
    assert all(a.status_code == 200 for a in answers)
    wait_card(slack, card["ts"], "Done")
    released = released_ids(simulator)
    assert sorted(released) == sorted(ids), "every id released exactly once"
    # Every other click is refused privately; none of them draws an older state over Done.
    slack.wait(
        lambda: len([m for m in slack.standin.messages() if m["ephemeral"]]) >= 31,
        "the 31 refusals",
    )
    assert "Done" in text_of(card_now(slack, card["ts"]))


def test_expired_request_is_shown_expired_and_refuses(
    shared_simulator: SimulatorProcess,
    standin: StandinProcess,
    redis_server: RedisProcess,
    simulator: SimulatorProcess,
) -> None:
    quick = BotProcess(shared_simulator, standin, redis_server.url, BOT_APPROVAL_TTL="2")
    try:
        slack = Slack(quick, standin)
        standin.hook("POST", "reset")
        first, second = add(simulator, subject="m"), add(simulator, subject="n")
        slack.command(f"release {first} {second}")
        card = approval_card(slack)
        expired = wait_card(slack, card["ts"], "Expired")
        assert not has_action(expired, "approval_approve"), "the sweeper removed the buttons"
        slack.click(card, "approval_approve", user=APPROVER)
        slack.private(APPROVER, "expired")
        assert simulator.calls() == []
    finally:
        quick.stop()


def test_approvals_and_audit_commands(slack: Slack, simulator: SimulatorProcess) -> None:
    first, second = add(simulator, subject="s1"), add(simulator, subject="s2")
    slack.command(f"release {first} {second}")
    card = approval_card(slack)
    slack.command("approvals", user=APPROVER)
    listing = slack.private(APPROVER, "Waiting for your approval")
    assert has_action(listing, "approval_approve")
    slack.click(listing, "approval_approve", user=APPROVER)
    wait_card(slack, card["ts"], "Done")
    slack.command(f"audit {first}")
    trail = text_of(slack.private(OPERATOR, "request release"))
    assert "approve" in trail and f"<@{APPROVER}>" in trail


def test_redis_down_means_nothing_executes(
    shared_simulator: SimulatorProcess, standin: StandinProcess, simulator: SimulatorProcess
) -> None:
    broken = BotProcess(shared_simulator, standin, f"redis://127.0.0.1:{free_port()}/0")
    try:
        slack = Slack(broken, standin)
        standin.hook("POST", "reset")
        first, second = add(simulator, subject="r1"), add(simulator, subject="r2")
        slack.command(f"release {first} {second}")
        slack.private(OPERATOR, "Redis")
        assert simulator.calls() == []
    finally:
        broken.stop()


def test_pending_request_survives_a_redis_restart(
    shared_simulator: SimulatorProcess,
    standin: StandinProcess,
    simulator: SimulatorProcess,
    tmp_path: Any,
) -> None:
    port = free_port()

    def start_redis() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path),
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(lambda: _pong(port), 10, "redis-server")
        return process

    server = start_redis()
    bot = BotProcess(shared_simulator, standin, f"redis://127.0.0.1:{port}/0")
    try:
        slack = Slack(bot, standin)
        standin.hook("POST", "reset")
        first, second = add(simulator, subject="k1"), add(simulator, subject="k2")
        slack.command(f"release {first} {second}")
        card = approval_card(slack)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)
        server = start_redis()
        slack.click(card, "approval_approve", user=APPROVER)
        wait_card(slack, card["ts"], "Done")
        assert sorted(released_ids(simulator)) == sorted([first, second])
    finally:
        bot.stop()
        server.terminate()
        server.wait(timeout=10)


def _pong(port: int) -> bool:
    try:
        return bool(redis.Redis(port=port, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.mark.starts_first(16)
def test_killed_executor_resumes_without_repeating(
    store_slack: Slack, store_second_bot: BotProcess, simulator: SimulatorProcess,
    shared_simulator: SimulatorProcess, standin: StandinProcess, store: AnyRedis,
) -> None:  # fmt: skip
    """A bulk release from a search runs on the second process, which is SIGKILLed after its
    first chunk; the first process (and the restarted second) resume: every id once. On a
    single Redis and on a Redis Cluster (`store`)."""
    slack, second_bot = store_slack, store_second_bot
    victim = Slack(second_bot, standin)
    card, ids = release_all_card(victim, simulator, 2500, "Kill")
    # Slow enough to kill between chunks: re-checked by its search, a chunk is one POST.
    simulator.faults(latency_ms=1000)
    victim.click(card, "approval_approve", user=APPROVER)
    slack.wait(lambda: released_ids(simulator), "the first chunk to be released", timeout=60)
    second_bot.process.kill()
    second_bot.process.wait()
    restarted = BotProcess(shared_simulator, standin, store.url)
    try:
        wait_card(slack, card["ts"], "Done", timeout=90)
    finally:
        restarted.stop()
    released = released_ids(simulator)
    assert len(released) == len(set(released)), "no id released twice"
    assert sorted(released) == sorted(ids)
