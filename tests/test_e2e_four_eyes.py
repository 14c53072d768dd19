"""End to end: an approver sees everything they approve, and a request exists only with its card.

- Blind approvals: a request of 11 messages, one of them MALICIOUS, showed ten BULK lines and
  "…and 1 more"; MALICIOUS appeared nowhere, yet it was approved and released.
- Ghost requests: when the card could not be posted, the request stayed pending and could be
  approved from `/email approvals` or the App Home without any card.
- The requester's reason is asked for wherever a request is made.
"""

from __future__ import annotations

import base64
from typing import Any

import redis

from bot.services.approvals.scripts import PENDING_KEY
from tests.kit.factories import add
from tests.kit.flows import approval_card, card_now, request_id_of
from tests.kit.servers import RedisProcess, SimulatorProcess
from tests.kit.slack import APPROVER, OPERATOR, Slack, text_of


def thread_files(slack: Slack, ts: str) -> list[dict[str, Any]]:
    return [f for f in slack.standin.hook("GET", "files") if f["thread_ts"] == ts]


def test_the_approver_sees_every_message_guarded_first_with_recipients(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    bulk = [
        add(simulator, subject="Weekly digest", final_disposition="BULK",
            to=[f"reader{i}@example.com"], client_recipients=[f"reader{i}@example.com"])
        for i in range(10)
    ]  # fmt: skip
    phish = add(
        simulator, subject="Weekly digest", final_disposition="MALICIOUS",
        to=["ceo@example.com"], client_recipients=["ceo@example.com"],
    )  # fmt: skip
    slack.command(f'release {" ".join(bulk)} {phish} reason:"user asked for their digest"')
    card = approval_card(slack)
    text = text_of(card)
    assert "includes 1 MALICIOUS" in text, "the guarded message is counted and named"
    assert "BOT_BULK_THRESHOLD" in text and "BOT_GUARDED_DISPOSITIONS" in text, "every rule"
    assert "user asked for their digest" in text and "(none given)" not in text
    lines = [line for line in text.splitlines() if "Weekly digest" in line]
    assert "MALICIOUS" in lines[0] and phish in lines[0], "guarded first, with its id"
    assert "ceo@example.com" in lines[0].replace("[.]", "."), "this copy's recipient"
    # Eleven messages do not all fit on the card: every one of them is in the card's thread.
    [listing] = slack.wait(lambda: thread_files(slack, card["ts"]), "every message in the thread")
    content = base64.b64decode(listing["content_base64"]).decode().replace("[.]", ".")
    for message_id in [*bulk, phish]:
        assert message_id in content
    assert "ceo@example.com" in content and "reader9@example.com" in content
    assert content.index(phish) < min(content.index(i) for i in bulk), "guarded first"


def test_a_request_whose_card_cannot_be_posted_never_exists(
    slack: Slack, simulator: SimulatorProcess, redis_server: RedisProcess
) -> None:
    ids = [add(simulator, subject=f"Ghost {i}") for i in range(2)]
    slack.standin.hook(
        "POST", "faults",
        {"fail_next": [{"method": "chat.postMessage", "error": "not_in_channel", "count": 1}]},
    )  # fmt: skip
    slack.command("release " + " ".join(ids))
    slack.private(OPERATOR, "Invite me")
    store = redis.Redis.from_url(redis_server.url)
    assert store.zcard(PENDING_KEY) == 0, "no request is left pending without a card"
    slack.command("approvals", user=APPROVER)
    answer = slack.private(APPROVER, "Waiting for your approval")
    assert "Ghost" not in text_of(answer) and "approval_approve" not in str(answer)
    assert simulator.calls() == []


def test_a_guarded_release_from_a_card_asks_for_a_reason(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    phish = add(simulator, subject="Reason please", final_disposition="MALICIOUS")
    slack.command(f"lookup {phish}")
    card = slack.card(lambda m: "Reason please" in text_of(m))
    slack.click(card, "msg_release")
    view = slack.view("release_modal", containing="Reason please")
    assert "BOT_GUARDED_DISPOSITIONS" in text_of(view), "the modal says why it needs approval"
    slack.submit(view, {"reason": "false positive, checked headers"})
    request = approval_card(slack, "Reason please")
    assert "false positive, checked headers" in text_of(request)
    assert request_id_of(request)
    assert "Approval needed" in text_of(card_now(slack, request["ts"]))
