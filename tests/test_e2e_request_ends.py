"""End to end: a message card that says an action on it was asked for approval ("⏳ Allow policy …:
asked for approval (request …)") does not keep saying so once the request ends without running.
A rejection, a cancel or an expiry adds a line to every card of the message (the one it was
asked from and any other lookup of it), as an approved run does."""

from __future__ import annotations

from typing import Any

from tests.kit.factories import add
from tests.kit.flows import (
    approval_card,
    calls_to,
    false_positive_modal,
    request_id_of,
    updated_card,
    wait_card,
)
from tests.kit.servers import RedisProcess, SimulatorProcess
from tests.kit.slack import APPROVER, OPERATOR, BotProcess, Slack, StandinProcess, text_of


def two_cards(slack: Slack, message_id: str, subject: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two lookups of one message: two cards that both follow it."""
    slack.command(f"lookup {message_id}")
    first = slack.card(lambda m: subject in text_of(m))
    slack.command(f"lookup {message_id}")
    second = slack.card(lambda m: subject in text_of(m) and m["ts"] != first["ts"])
    return first, second


def ask_allow(slack: Slack, card: dict[str, Any], pattern: str) -> dict[str, Any]:
    """ "Allow sender…" on `card` for its domain: the request's card (the card says it asked)."""
    slack.click(card, "msg_allow")
    view = slack.view("allow_modal", containing=pattern)
    slack.submit(view, {"pattern_type": "DOMAIN", "allow_kind": "acceptable",
                        "verify_sender": "yes", "comment": "our vendor"})  # fmt: skip
    request = approval_card(slack, pattern)
    updated_card(slack, card["ts"], "asked for approval")
    return request


def test_a_rejected_allow_request_is_said_on_every_card_of_the_message(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    message_id = add(simulator, subject="Rejected allow", envelope_from="a@reject-me.example")
    first, second = two_cards(slack, message_id, "Rejected allow")
    request = ask_allow(slack, first, "reject-me")
    request_id = request_id_of(request)
    updated_card(slack, second["ts"], "asked for approval")
    slack.click(request, "approval_reject", user=APPROVER)
    view = slack.view("approval_reject_modal")
    slack.submit(view, {"reason": "not a vendor of ours"}, user=APPROVER)
    wait_card(slack, request["ts"], "Rejected")
    for card in (first, second):
        shown = text_of(updated_card(slack, card["ts"], "rejected"))
        assert (
            f"Allow policy for reject-me[.]example: not done, approval request `{request_id}` "
            "rejected (reason: not a vendor of ours)"
        ) in shown
        assert f"by <@{APPROVER}>" in shown
        assert shown.index("asked for approval") < shown.index("rejected")
    assert calls_to(simulator, "/settings/allow_policies") == []


def test_a_cancelled_release_request_is_said_on_the_card(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    message_id = add(
        simulator, subject="Cancelled release", final_disposition="MALICIOUS",
        is_quarantined=True, envelope_from="x@cancel-me.example",
    )  # fmt: skip
    card, view = false_positive_modal(slack, message_id, "Cancelled release")
    slack.submit(view, {"reason": "ours", "ask_allow": "no"})
    updated_card(slack, card["ts"], "Release: asked for approval")
    request = approval_card(slack, "Cancelled release")
    slack.click(request, "approval_cancel", user=OPERATOR)
    wait_card(slack, request["ts"], "Cancelled")
    shown = text_of(updated_card(slack, card["ts"], "cancelled"))
    assert "Release: not done, approval request" in shown and f"by <@{OPERATOR}>" in shown
    assert calls_to(simulator, "/release") == []


def test_an_expired_allow_request_is_said_on_the_card(
    shared_simulator: SimulatorProcess,
    standin: StandinProcess,
    redis_server: RedisProcess,
    simulator: SimulatorProcess,
) -> None:
    quick = BotProcess(shared_simulator, standin, redis_server.url, BOT_APPROVAL_TTL="2")
    try:
        slack = Slack(quick, standin)
        standin.hook("POST", "reset")
        message_id = add(simulator, subject="Expired allow", envelope_from="a@expire-me.example")
        slack.command(f"lookup {message_id}")
        card = slack.card(lambda m: "Expired allow" in text_of(m))
        request = ask_allow(slack, card, "expire-me")
        wait_card(slack, request["ts"], "Expired")
        shown = text_of(updated_card(slack, card["ts"], "expired"))
        assert "Allow policy for expire-me[.]example: not done, approval request" in shown
        assert "expired unapproved" in shown and "by the bot" in shown
        assert calls_to(simulator, "/settings/allow_policies") == []
    finally:
        quick.stop()
