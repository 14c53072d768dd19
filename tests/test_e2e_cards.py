"""End to end: every element acts on its own target, and every surface gets an answer.

- A post that holds several cards (an alert campaign's thread post): Move ▾ on the second card
  opens a modal naming *that* message, moves that message only, and redraws that card only.
- A click refused in the App Home (no channel, no response_url) is answered by a DM.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.local import payloads
from tests.kit.factories import add, detection
from tests.kit.flows import approval_card, calls_to, card_ids, settle, wait_roots
from tests.kit.servers import RedisProcess, SimulatorProcess
from tests.kit.slack import (
    APPROVER,
    BOTH,
    OPERATOR,
    BotProcess,
    Slack,
    StandinProcess,
    clean_slate,
    has_action,
    text_of,
)

ALERTS = "C0CARDALERTS"


@pytest.fixture
def alerting(
    shared_simulator: SimulatorProcess,
    simulator: SimulatorProcess,
    standin: StandinProcess,
    redis_server: RedisProcess,
) -> Iterator[Slack]:
    clean_slate(standin, redis_server.url)
    env = {"ALERT_CHANNEL": ALERTS, "ALERT_POLL_SECONDS": "1"}
    with BotProcess(shared_simulator, standin, redis_server.url, **env) as bot:
        yield Slack(bot, standin)


def card_blocks(message: dict[str, Any], message_id: str) -> list[dict[str, Any]]:
    """The blocks of `message_id`'s card in a post (its blocks' ids name the message)."""
    return [b for b in message["blocks"] if str(b.get("block_id", "")).endswith("|" + message_id)]


def click_in_card(
    slack: Slack, message: dict[str, Any], message_id: str, action_id: str, option: str
) -> None:
    """Choose `option` in the `action_id` menu of `message_id`'s card, as Slack sends it."""
    block = next(
        b
        for b in message["blocks"]
        if any(e.get("value") == message_id for e in b.get("elements") or [])
    )  # fmt: skip  (the actions block whose buttons carry that message's id)
    element = next(e for e in block["elements"] if e["action_id"] == action_id)
    chosen = next(o for o in element["options"] if o["value"] == option)
    entry = {
        "type": element["type"], "action_id": action_id, "block_id": block["block_id"],
        "selected_option": chosen, "action_ts": f"{time.time():.6f}",
    }  # fmt: skip
    issued = slack.standin.hook(
        "POST", "response_urls",
        {"channel": message["channel"], "user": OPERATOR, "message_ts": message["ts"]},
    )  # fmt: skip
    payload = payloads.block_actions(
        OPERATOR, [entry], issued["trigger_id"], message=message, response_url=issued["url"]
    )
    assert slack.send(payloads.interaction(payload)).status_code == 200


def test_move_on_the_second_card_of_a_thread_post_moves_that_message_only(
    alerting: Slack, simulator: SimulatorProcess
) -> None:
    slack = alerting
    settle(slack, simulator, 1)
    ids = simulator.add_messages(
        [detection(i, subject="Payroll update", to=f"staff{i}@example.com") for i in range(3)]
    )
    [root] = wait_roots(slack, 1, ALERTS)

    def thread_post() -> dict[str, Any] | None:
        posts = [m for m in slack.standin.messages(ALERTS) if m.get("thread_ts") == root["ts"]]
        return next((p for p in posts if len(card_ids([p])) == 2), None)

    post = slack.wait(thread_post, "one thread post holding two cards", 30)
    first, second = card_ids([post])
    assert {first, second} < set(ids)
    first_before = card_blocks(post, first)

    def root_counts_three() -> dict[str, Any] | None:
        now = next(m for m in slack.standin.messages(ALERTS) if m["ts"] == root["ts"])
        return now if "Campaign: 3 messages" in text_of(now) else None

    # The headline is redrawn after the thread post; the move must leave it as it is then.
    root_before = slack.wait(root_counts_three, "the campaign headline to count 3")

    click_in_card(slack, post, second, "msg_move", "JunkEmail")
    # The modal opens "Looking up <id>…" and is then updated with the message: wait for that.
    view = slack.view("move_modal", containing="Payroll update")
    shown = text_of(view)
    assert second in shown
    recipient = f"staff{ids.index(second)}@example.com"
    assert "Payroll update" in shown and recipient in shown.replace("[.]", ".")
    assert "(no subject)" not in shown and first not in shown
    slack.submit(view, {"folder": "JunkEmail"})

    def moved() -> list[dict[str, Any]] | None:
        return calls_to(simulator, "/move") or None

    [call] = slack.wait(moved, "the move call")
    assert call["path"].endswith(f"/investigate/{second}/move"), "the chosen card's message"
    assert call["body"] == {"destination": "JunkEmail"}

    def redrawn() -> dict[str, Any] | None:
        now = next(m for m in slack.standin.messages(ALERTS) if m["ts"] == post["ts"])
        return (
            now if "Moved to JunkEmail" in text_of({"blocks": card_blocks(now, second)}) else None
        )

    after = slack.wait(redrawn, "the second card to show the move")
    assert card_ids([after]) == [first, second], "both cards stay in the post, in order"
    assert card_blocks(after, first) == first_before, "the first card is untouched"
    root_after = next(m for m in slack.standin.messages(ALERTS) if m["ts"] == root["ts"])
    assert root_after["blocks"] == root_before["blocks"]


def test_a_click_refused_in_the_app_home_is_answered_by_dm(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    ids = [add(simulator, subject=f"Home {i}") for i in range(2)]
    slack.command("release " + " ".join(ids), user=BOTH)  # two messages: needs approval

    def home_with_request() -> dict[str, Any] | None:
        events = [
            e for e in slack.standin.hook("GET", "views")
            if e["kind"] == "publish" and e["user"] == BOTH
        ]  # fmt: skip
        if events and "approval_approve" in str(events[-1]["view"]):
            return dict(events[-1]["view"])
        return None

    home = slack.wait(home_with_request, "the requester's Home tab listing the request")
    block = next(b for b in home["blocks"] if b["type"] == "actions")
    approve = next(e for e in block["elements"] if e["action_id"] == "approval_approve")
    entry = {
        "type": "button", "action_id": "approval_approve", "block_id": block["block_id"],
        "value": approve["value"], "action_ts": f"{time.time():.6f}",
    }  # fmt: skip
    payload = payloads.block_actions(BOTH, [entry], "", view=home)
    assert "response_url" not in payload and "channel" not in payload
    answer = slack.send(payloads.interaction(payload))
    assert answer.status_code == 200, slack.bot.log()[-3000:]

    def answered() -> dict[str, Any] | None:
        dm = "D" + BOTH[1:]
        return next(
            (m for m in slack.standin.messages(dm) if "approve your own request" in text_of(m)),
            None,
        )

    slack.wait(answered, "a DM saying why the click was refused")


def test_a_campaign_root_keeps_its_first_message_and_its_outcomes(
    alerting: Slack, simulator: SimulatorProcess
) -> None:
    slack = alerting
    settle(slack, simulator, 1)
    simulator.add_messages(
        [detection(i, subject="Gift cards", to=f"buyer{i}@example.com") for i in range(3)]
    )
    [root] = wait_roots(slack, 1, ALERTS)
    [first] = card_ids([root])
    click_in_card(slack, root, first, "msg_move", "JunkEmail")
    slack.submit(slack.view("move_modal", containing=first), {"folder": "JunkEmail"})

    def now() -> dict[str, Any]:
        return next(m for m in slack.standin.messages(ALERTS) if m["ts"] == root["ts"])

    slack.wait(lambda: "Moved to JunkEmail" in text_of(now()), "the outcome on the root")
    later = simulator.add_messages(
        [detection(10 + i, subject="Gift cards", to=f"late{i}@example.com") for i in range(2)]
    )
    slack.wait(lambda: "5 messages" in text_of(now()), "the root's counter to reach 5", 30)
    assert card_ids([now()]) == [first], "the root keeps its first message and its buttons"
    assert "Moved to JunkEmail" in text_of(now()), "the outcome survives the campaign's update"
    thread = [m for m in slack.standin.messages(ALERTS) if m.get("thread_ts") == root["ts"]]
    members = card_ids([now()]) + card_ids(thread)
    assert sorted(members) == sorted(set(members)) and len(members) == 5, "each exactly once"
    assert set(later) <= set(members)


def test_every_card_of_a_message_follows_its_changes(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    first, second = add(simulator, subject="Follow me"), add(simulator, subject="Follow me too")
    slack.command(f"lookup {first}")
    older = slack.card(lambda m: first in str(m))
    slack.command(f"lookup {first}")
    newer = slack.card(lambda m: first in str(m) and m["ts"] != older["ts"])
    slack.click(newer, "msg_release")

    def card(ts: str) -> dict[str, Any]:
        return next(m for m in slack.standin.messages() if m["ts"] == ts)

    slack.wait(lambda: "Released" in text_of(card(older["ts"])), "the older card to follow")
    assert not has_action(card(older["ts"]), "msg_release"), "no Release on a released message"
    # Through an approval too: every card of each message of the request follows.
    slack.command(f"lookup {second}")
    lookup = slack.card(lambda m: second in str(m))
    slack.command(f"move {first} {second} junk")
    request = approval_card(slack)
    slack.click(request, "approval_approve", user=APPROVER)
    slack.wait(lambda: "JunkEmail" in text_of(card(lookup["ts"])), "the lookup card to follow")
    assert "approval" in text_of(card(lookup["ts"])).lower()
