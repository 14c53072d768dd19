"""End to end: the approval rule covers every way out and every verdict (a move to Inbox is a
release by another name; a verdict known only from the detections counts; an unknown one is
guarded), and the rules are checked again, with groups fresh from Slack, at each approval and
just before executing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.kit.factories import add
from tests.kit.flows import (
    approval_card,
    calls_to,
    card_now,
    release_all_card,
    released_ids,
    thread_reply,
    wait_card,
)
from tests.kit.servers import RedisProcess, SimulatorProcess
from tests.kit.slack import (
    APPROVER,
    APPROVER2,
    OPERATOR,
    BotProcess,
    Slack,
    StandinProcess,
    has_action,
    text_of,
)

OPS_GROUP = "S0STRICTOPS"  # operators of the strict bot, besides OPERATOR
GROUP_OPERATOR = "U0GRPOPERATOR"
APPROVERS_GROUP = "S0APPROVERS"  # approvers of the strict bot, besides APPROVER, APPROVER2
GROUP_APPROVER = "U0GRPAPPROVER"


def detections(**fields: Any) -> dict[str, Any]:
    """A detections answer (`_detections` of a simulator message) with `fields`."""
    return {
        "action": "QUARANTINE", "attachments": [], "findings": [], "headers": [], "links": [],
        "sender_info": {}, "threat_categories": [], "validation": {}, **fields,
    }  # fmt: skip


# -- guards: every way out, every verdict ------------------------------------------------------


def test_move_to_inbox_of_a_malicious_message_needs_approval(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    message_id = add(simulator, subject="Phish to inbox", final_disposition="MALICIOUS")
    slack.command(f"move {message_id} Inbox")
    notice = text_of(slack.private(OPERATOR, "Asked for approval"))
    assert "MALICIOUS" in notice and "Inbox" in notice and "BOT_GUARDED_DISPOSITIONS" in notice
    card = approval_card(slack)
    assert "Move 1 message to Inbox" in text_of(card)
    assert calls_to(simulator, "/move") == [], "nothing moves before approval"


def test_moving_a_guarded_message_elsewhere_or_a_clean_one_to_inbox_runs_at_once(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    phish = add(simulator, subject="Phish to junk", final_disposition="MALICIOUS")
    slack.command(f"move {phish} junk")
    slack.card(lambda m: "Moved to JunkEmail" in text_of(m))
    clean = add(simulator, subject="Newsletter to inbox", final_disposition="BULK")
    slack.command(f"move {clean} Inbox")
    slack.card(lambda m: "Moved to Inbox" in text_of(m))
    assert len(calls_to(simulator, "/move")) == 2


def test_a_verdict_known_only_from_the_detections_guards_the_release(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    message_id = add(
        simulator, subject="No final verdict", final_disposition=None,
        _detections=detections(final_disposition="MALICIOUS"),
    )  # fmt: skip
    slack.command(f"release {message_id}")
    notice = text_of(slack.private(OPERATOR, "Asked for approval"))
    assert "1 MALICIOUS message" in notice
    assert released_ids(simulator) == [], "one person does not release it"
    card = text_of(approval_card(slack, "No final verdict"))
    assert "includes 1 MALICIOUS" in card, "the approver sees the verdict the guard used"


def test_the_most_severe_finding_counts_when_the_detections_have_no_verdict(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    findings = [{"detection": "SPAM", "name": "Bulk"}, {"detection": "MALICIOUS-BEC"}]
    message_id = add(
        simulator, subject="Findings only", final_disposition=None,
        _detections=detections(findings=findings),
    )  # fmt: skip
    slack.command(f"move {message_id} Inbox")
    assert "1 MALICIOUS-BEC message" in text_of(slack.private(OPERATOR, "Asked for approval"))
    assert calls_to(simulator, "/move") == []


def test_a_message_whose_verdict_cannot_be_determined_needs_approval(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    message_id = add(
        simulator, subject="Who knows", final_disposition=None, _detections=detections()
    )
    slack.command(f"release {message_id}")
    notice = text_of(slack.private(OPERATOR, "Asked for approval"))
    assert "could not be determined" in notice
    assert released_ids(simulator) == []
    assert "includes 1 UNDETERMINED" in text_of(approval_card(slack, "Who knows"))


def test_the_rule_names_every_rule_that_applies(slack: Slack, simulator: SimulatorProcess) -> None:
    ids = [add(simulator, subject=f"Bulk {n}", final_disposition="BULK") for n in range(2)]
    ids.append(add(simulator, subject="The phish among them", final_disposition="MALICIOUS"))
    slack.command("release " + " ".join(ids))
    card = text_of(approval_card(slack))
    assert "it touches 3 messages (BOT_BULK_THRESHOLD is 2)" in card
    assert "it releases 1 MALICIOUS message (BOT_GUARDED_DISPOSITIONS)" in card
    assert simulator.calls() == []


# -- rules re-checked at each approval and before executing ------------------------------------


def strict_env(redis_server: RedisProcess) -> tuple[str, dict[str, str]]:
    """Two approvals, a group of operators and a group of approvers, on a Redis database of
    its own (the session's bot sweeps database 0 with other settings)."""
    url = redis_server.url.rsplit("/", 1)[0] + "/3"
    env = {
        "BOT_REQUIRED_APPROVALS": "2",
        "BOT_OPERATORS": f"{OPERATOR},{OPS_GROUP}",
        "BOT_APPROVERS": f"{APPROVER},{APPROVER2},{APPROVERS_GROUP}",
    }
    return url, env


@pytest.fixture
def strict(
    shared_simulator: SimulatorProcess,
    simulator: SimulatorProcess,
    standin: StandinProcess,
    redis_server: RedisProcess,
) -> Iterator[Slack]:
    """A bot of its own (group membership is cached per process: a removal must not leak
    into other tests), the groups filled, Slack and its Redis database clean."""
    standin.hook("POST", "reset")
    members(standin, ops=[GROUP_OPERATOR], approvers=[GROUP_APPROVER])
    url, env = strict_env(redis_server)
    redis.Redis.from_url(url).flushdb()
    with BotProcess(shared_simulator, standin, url, **env) as bot:
        yield Slack(bot, standin)


def members(standin: StandinProcess, *, ops: list[str], approvers: list[str]) -> None:
    standin.hook("POST", "usergroups", {OPS_GROUP: ops, APPROVERS_GROUP: approvers})


def approvals_line(card: dict[str, Any]) -> str:
    return next(line for line in text_of(card).splitlines() if "of 2" in line)


def test_an_approver_removed_after_approving_no_longer_counts(
    strict: Slack, simulator: SimulatorProcess
) -> None:
    first, second = add(simulator, subject="c1"), add(simulator, subject="c2")
    strict.command(f"release {first} {second}")
    card = approval_card(strict)
    strict.click(card, "approval_approve", user=GROUP_APPROVER)
    wait_card(strict, card["ts"], f"1 of 2: <@{GROUP_APPROVER}>")
    members(strict.standin, ops=[GROUP_OPERATOR], approvers=[])  # removed from the group
    strict.click(card, "approval_approve", user=APPROVER)
    thread_reply(strict, card["ts"], "no longer an approver")
    after = wait_card(strict, card["ts"], f"1 of 2: <@{APPROVER}>")
    assert GROUP_APPROVER not in approvals_line(after)
    assert has_action(after, "approval_approve"), "it waits for another approver"
    assert released_ids(simulator) == [], "not executed with the removed approver counted"
    # Another approver completes it: two approvers who hold the role now.
    strict.click(after, "approval_approve", user=APPROVER2)
    wait_card(strict, card["ts"], "Done")
    assert sorted(released_ids(simulator)) == sorted([first, second])
    strict.command(f"audit {first}")
    trail = text_of(strict.private(OPERATOR, "Audit trail"))
    assert "withdraw" in trail and "no longer an approver" in trail


def test_a_requester_who_lost_the_operator_role_is_refused_at_approval(
    strict: Slack, simulator: SimulatorProcess
) -> None:
    first, second = add(simulator, subject="r1"), add(simulator, subject="r2")
    strict.command(f"release {first} {second}", user=GROUP_OPERATOR)
    card = approval_card(strict)
    members(strict.standin, ops=[], approvers=[GROUP_APPROVER])  # the requester is removed
    strict.click(card, "approval_approve", user=APPROVER)
    strict.private(APPROVER, "no longer an operator")
    strict.click(card, "approval_approve", user=APPROVER2)
    refused = wait_card(strict, card["ts"], "Refused")
    text = text_of(refused)
    assert f"<@{GROUP_OPERATOR}> is no longer an operator (BOT_OPERATORS)" in text
    assert not has_action(refused, "approval_approve")
    thread_reply(strict, card["ts"], "no longer an operator")
    assert released_ids(simulator) == [], "nothing is released"
    strict.command(f"audit {first}")
    assert "refused" in text_of(strict.private(OPERATOR, "Audit trail"))


@pytest.mark.starts_first(13)
def test_a_resumed_execution_is_refused_when_an_approver_lost_the_role(
    shared_simulator: SimulatorProcess,
    simulator: SimulatorProcess,
    standin: StandinProcess,
    redis_server: RedisProcess,
) -> None:
    """The sweeper resumes a stalled execution only after checking the roles again: an
    approver removed while it was stalled ends it, the rest unsent, the card saying why."""
    standin.hook("POST", "reset")
    members(standin, ops=[GROUP_OPERATOR], approvers=[GROUP_APPROVER])
    url, env = strict_env(redis_server)
    redis.Redis.from_url(url).flushdb()
    with BotProcess(shared_simulator, standin, url, **env) as victim:
        slack = Slack(victim, standin)
        card, ids = release_all_card(slack, simulator, 2500, "Stall")
        slack.click(card, "approval_approve", user=GROUP_APPROVER)
        wait_card(slack, card["ts"], f"1 of 2: <@{GROUP_APPROVER}>")
        # Slow enough to stop between chunks: re-checked by its search, a chunk is one POST.
        simulator.faults(latency_ms=1000)
        slack.click(card, "approval_approve", user=APPROVER)
        slack.wait(lambda: released_ids(simulator), "the first chunk to be released", timeout=60)
        victim.process.kill()
        victim.process.wait()
    members(standin, ops=[GROUP_OPERATOR], approvers=[])
    with BotProcess(shared_simulator, standin, url, **env) as resumer:
        slack = Slack(resumer, standin)
        refused = wait_card(slack, card["ts"], "Refused", timeout=60)
    why = f"Refused at execution: <@{GROUP_APPROVER}> is no longer an approver (BOT_APPROVERS)"
    assert why in text_of(refused) and "Stopped" in text_of(refused)
    assert "Nothing was done" not in text_of(refused), "a run had begun: it says so"
    released = released_ids(simulator)
    assert 0 < len(released) < len(ids), "what was sent before stays; the rest is not sent"
    assert "Approval needed" not in text_of(card_now(slack, card["ts"]))
