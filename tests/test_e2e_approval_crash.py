"""End to end: the end of an approved run is announced even when the replica that ran it died
right after finishing it (bot/services/approvals/announcing.py). The request is done in Redis,
so nobody runs it again; another replica's sweep draws its finished card, says "finished" in
its thread exactly once and makes the cards of its messages follow, whether the bot died as
Slack took the finished card or the thread line, or after claiming the line but before Slack
took it. The run's "result" audit entry is part of that end: written once, whether the bot died
before writing it (right after finishing the run) or after."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
import redis

from bot.services.approvals.endings import UNANNOUNCED_KEY, audited_key, told_key
from bot.services.approvals.scripts import record_key
from tests.kit.factories import add
from tests.kit.flows import (
    approval_card,
    card_now,
    request_id_of,
    thread_reply,
    updated_card,
    wait_card,
)
from tests.kit.servers import AnyRedis, RedisClusterProcess, SimulatorProcess, wait_until
from tests.kit.slack import APPROVER, BotProcess, Slack, StandinProcess, has_action, text_of

FINISHED = "finished. 0 failed"
FOLLOWED = "✅ Released through approval request"
# Where the bot dies: the call Slack holds the answer of, and the text it carries (the finished
# card's title, or the thread line). "claimed": as Slack takes the finished card, the thread
# line claimed already (as by a replica that died just before Slack took the line), and the
# result entry written but not marked written (as by one that died between the two).
HELD = {
    "chat.update": ("chat.update", "Done"),
    "chat.postMessage": ("chat.postMessage", FINISHED),
    "claimed": ("chat.update", "Done"),
}


# Taken, the audit's turn key makes every append wait (bot/services/audit.py): the bot that
# finished the run is killed while its result entry waits to be written.
AUDIT_TURN = "{audit}:turn"
RESULT = {
    "acted": 2, "succeeded": 2, "skipped": 0, "not_found": 0, "failed": 0, "undelivered": 0,
    "failed_ids": [], "errors": [],
}  # fmt: skip


def trail(kept: Any, request_id: str, action: str) -> list[dict[bytes, bytes]]:
    """The audit entries of the request with that action, oldest first."""
    wanted = (request_id.encode(), action.encode())
    return [f for _, f in kept.xrange("audit") if (f[b"request_id"], f[b"action"]) == wanted]


def finished_lines(standin: StandinProcess, ts: str) -> list[dict[str, Any]]:
    return [m for m in standin.messages() if m.get("thread_ts") == ts and FINISHED in text_of(m)]


@pytest.mark.starts_first(6)
@pytest.mark.parametrize(
    ("died_in", "store"),
    [
        ("audit", "server"),
        ("chat.update", "server"),
        ("chat.postMessage", "server"),
        ("claimed", "server"),
        ("chat.postMessage", "cluster"),
    ],
    indirect=["store"],
)
def test_a_run_whose_replica_died_before_announcing_its_end_is_announced_once(
    died_in: str, store_slack: Slack, simulator: SimulatorProcess,
    shared_simulator: SimulatorProcess, standin: StandinProcess, store: AnyRedis,
) -> None:  # fmt: skip
    slack = store_slack  # the replica that survives
    first, second = add(simulator, subject="Crash k1"), add(simulator, subject="Crash k2")
    slack.command(f"lookup {first}")
    lookup = slack.card(lambda m: "Crash k1" in text_of(m))
    assert has_action(lookup, "msg_release")
    on_cluster = isinstance(store, RedisClusterProcess)
    with contextlib.closing(
        (redis.RedisCluster if on_cluster else redis.Redis).from_url(store.url)
    ) as kept:
        victim = BotProcess(shared_simulator, standin, store.url)
        try:
            Slack(victim, standin).command(f"release {first} {second}")
            card = approval_card(slack)
            request_id = request_id_of(card)
            if died_in == "claimed":
                kept.set(told_key(request_id), b"1")
            if died_in == "audit":
                # The re-check and the release take a second: time to take the audit's turn
                # once the run has started, so that the entries after it wait.
                simulator.faults(latency_ms=500)
                Slack(victim, standin).click(card, "approval_approve", user=APPROVER)
                wait_until(lambda: bool(trail(kept, request_id, "execute release")), 10,
                           "the run to start")  # fmt: skip
                kept.set(AUDIT_TURN, b"the test", px=15_000)
                wait_until(lambda: kept.hget(record_key(request_id), "state") == b"done", 10,
                           "the run to finish")  # fmt: skip
            else:
                method, containing = HELD[died_in]
                standin.hook("POST", "hold", {"method": method, "containing": containing})
                Slack(victim, standin).click(card, "approval_approve", user=APPROVER)
                slack.wait(lambda: standin.hook("GET", "hold")["held"], f"Slack to hold a {method}")
            victim.process.kill()  # SIGKILL: the run is done in Redis, its end not yet all told
            victim.process.wait()
            if died_in == "claimed":
                kept.delete(audited_key(request_id))
        finally:
            standin.hook("POST", "hold/release")
            kept.delete(AUDIT_TURN)
            simulator.faults(latency_ms=0)
            victim.stop()
        # The survivor's sweep takes the announcement over once the victim's lease (4 s) passed.
        wait_card(slack, card["ts"], "Done")
        thread_reply(slack, card["ts"], FINISHED)
        updated_card(slack, lookup["ts"], FOLLOWED)
        assert not has_action(card_now(slack, lookup["ts"]), "msg_release"), "no Release any more"
        slack.wait(lambda: kept.zcard(UNANNOUNCED_KEY) == 0, "nothing left to announce")
        results = trail(kept, request_id, "result release")
    assert len(results) == 1, f"one result entry in the audit trail, not {len(results)}"
    assert results[0][b"outcome"] == b"done" and json.loads(results[0][b"detail"]) == RESULT
    assert len(finished_lines(standin, card["ts"])) == 1, "the thread is told once"
    assert text_of(card_now(slack, lookup["ts"])).count(FOLLOWED) == 1, "one line on the card"
