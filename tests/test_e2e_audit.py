"""End to end: the tamper-evident trail. An approval request's digest is keyed (a Redis writer
who rewrites a request and recomputes its digest without the key is refused), the audit stream
is a hash chain that `/email audit verify` checks, and `/email audit <request id>` takes every
request id the bot issues."""

from __future__ import annotations

import json

import redis

from bot.services.approvals.scripts import record_key
from tests.kit.approvals import attacker_digest
from tests.kit.factories import add
from tests.kit.flows import approval_card, released_ids, request_id_of, wait_card
from tests.kit.servers import RedisProcess, SimulatorProcess
from tests.kit.slack import APPROVER, OPERATOR, BotProcess, Slack, StandinProcess, text_of


def test_request_rewritten_with_a_recomputed_digest_is_refused(
    slack: Slack, simulator: SimulatorProcess, redis_server: RedisProcess
) -> None:
    """An attacker who can write Redis but holds no key swaps a message into a pending request
    and recomputes the digest as the bot used to (plain sha256): the approval is refused and
    nothing is released."""
    first, second = add(simulator, subject="k1"), add(simulator, subject="k2")
    evil = add(simulator, subject="Wire the money", final_disposition="MALICIOUS")
    slack.command(f"release {first} {second}")
    card = approval_card(slack)
    store = redis.Redis.from_url(redis_server.url)
    key = record_key(request_id_of(card))
    ids = sorted([first, evil])
    store.hset(
        key,
        mapping={
            "ids": json.dumps(ids, separators=(",", ":")),
            "digest": attacker_digest("release", {}, ids),
        },
    )
    slack.click(card, "approval_approve", user=APPROVER)
    slack.private(APPROVER, "no longer matches")
    slack.command(f"audit {request_id_of(card)}")
    trail = text_of(slack.private(OPERATOR, "Audit trail for"))
    assert "approve release" in trail and "tampered" in trail and f"<@{APPROVER}>" in trail
    assert released_ids(simulator) == []


def test_a_replica_with_another_key_refuses_and_the_trail_says_why(
    slack: Slack,
    simulator: SimulatorProcess,
    shared_simulator: SimulatorProcess,
    standin: StandinProcess,
    redis_server: RedisProcess,
) -> None:
    """The key comes from the bot's secrets: a replica whose BOT_INTEGRITY_KEY differs (a
    rotation) refuses pending requests as changed, the safe failure; its `audit verify` checks
    the older entries' order only and says so."""
    first, second = add(simulator, subject="r1"), add(simulator, subject="r2")
    slack.command(f"release {first} {second}")
    card = approval_card(slack)
    with BotProcess(
        shared_simulator, standin, redis_server.url, BOT_INTEGRITY_KEY="rotated-" * 5
    ) as rotated:
        other = Slack(rotated, standin)
        other.click(card, "approval_approve", user=APPROVER)
        slack.private(APPROVER, "no longer matches")
        assert released_ids(simulator) == []
        other.command("audit verify")
        check = text_of(slack.private(OPERATOR, "Audit trail intact"))
        assert "2 entries checked" in check and "1 of the oldest entries" in check
        assert "previous integrity key" in check
    slack.click(card, "approval_approve", user=APPROVER)  # this bot's key still verifies it
    wait_card(slack, card["ts"], "Done")
    assert sorted(released_ids(simulator)) == sorted([first, second])


def test_audit_takes_request_ids_with_dash_and_underscore(
    slack: Slack, simulator: SimulatorProcess, redis_server: RedisProcess
) -> None:
    """Request ids are `secrets.token_urlsafe(9)`: about a third hold `-` or `_`."""
    first, second = add(simulator, subject="d1"), add(simulator, subject="d2")
    request_id = ""
    for _ in range(40):  # P(no such id in 40 requests) is about 2e-7
        seen = _approval_ids(slack)
        slack.command(f"release {first} {second}")
        new = slack.wait(lambda: _approval_ids(slack) - seen, "a new approval card")  # noqa: B023
        [request_id] = new
        if "-" in request_id or "_" in request_id:
            break
    assert "-" in request_id or "_" in request_id
    slack.command(f"audit {request_id}")
    trail = text_of(slack.private(OPERATOR, "Audit trail for"))
    assert request_id in trail and "request release" in trail and f"<@{OPERATOR}>" in trail

    # The record goes after 30 days, its audit entries stay: still found by the request's id.
    redis.Redis.from_url(redis_server.url).delete(record_key(request_id))
    slack.command(f"audit {request_id}", user=APPROVER)
    trail = text_of(slack.private(APPROVER, "Audit trail for"))
    assert request_id in trail and "request release" in trail


def _approval_ids(slack: Slack) -> set[str]:
    return {
        request_id_of(m)
        for m in slack.standin.messages()
        if not m["ephemeral"]
        and any(
            e.get("action_id") == "approval_approve"
            for b in m["blocks"]
            for e in b.get("elements") or []
        )
    }


def _entries(store: redis.Redis) -> list[tuple[str, dict[str, str]]]:
    return [
        (i.decode(), {k.decode(): v.decode() for k, v in fields.items()})
        for i, fields in store.xrange("audit")
    ]


def test_audit_verify_checks_the_chain_and_names_the_first_broken_entry(
    slack: Slack, simulator: SimulatorProcess, redis_server: RedisProcess
) -> None:
    direct = add(simulator, subject="v0")
    slack.command(f"release {direct}")
    slack.card(lambda m: "Released" in text_of(m))
    first, second = add(simulator, subject="v1"), add(simulator, subject="v2")
    slack.command(f"release {first} {second}")
    card = approval_card(slack)
    slack.click(card, "approval_approve", user=APPROVER)
    wait_card(slack, card["ts"], "Done")
    store = redis.Redis.from_url(redis_server.url)
    slack.wait(lambda: len(_entries(store)) >= 5, "release, request, approve, execute, result")
    entries = _entries(store)

    slack.command("audit verify")
    intact = text_of(slack.private(OPERATOR, "Audit trail intact"))
    assert f"{len(entries)} entries checked" in intact
    entries = _entries(store)
    assert entries[-1][1]["action"] == "verify audit", "the check itself is audited"

    # The newest entry rewritten (someone else made to have run the check): streams cannot be
    # edited in place, so the forger deletes it and adds a changed copy at a new id.
    newest_id, newest = entries[-1]
    store.xdel("audit", newest_id)
    forged_id = store.xadd("audit", {**newest, "actor": "U0SOMEONE"}).decode()
    slack.command("audit verify")
    broken = text_of(slack.private(OPERATOR, forged_id))
    assert "changed" in broken and "intact" not in broken

    # An entry deleted in the middle: the entry after it no longer follows its predecessor,
    # and that is now the first break.
    deleted_id, after_id = entries[1][0], entries[2][0]
    store.xdel("audit", deleted_id)
    slack.command("audit verify")
    broken = text_of(slack.private(OPERATOR, after_id))
    assert "does not follow" in broken and entries[0][0] in broken and forged_id not in broken
