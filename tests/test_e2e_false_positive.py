"""End to end: "False positive…" on a card (issue 16, item 4). One modal, one submission: the
message is released when quarantined (under the usual rules: a guarded verdict becomes an
approval request), reclassified as NONE, and, when asked, an allow policy for its envelope
sender is asked for (an approval request); the card shows one line per step."""

from __future__ import annotations

from tests.kit.factories import add
from tests.kit.flows import approval_card, calls_to, false_positive_modal, updated_card, views
from tests.kit.servers import SimulatorProcess
from tests.kit.slack import APPROVER, OPERATOR, VIEWER, Slack, text_of


def test_a_spam_verdict_is_released_reclassified_and_its_sender_asked_for(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    message_id = add(
        simulator, subject="Quarterly report", final_disposition="SPAM", is_quarantined=True,
        envelope_from="reports@auditors-llp.example",
    )  # fmt: skip
    card, view = false_positive_modal(slack, message_id, "Quarterly report")
    assert "Release it from quarantine" in text_of(view)
    assert "reports@auditors-llp[.]example" in text_of(view)
    slack.submit(view, {"reason": "our auditors", "ask_allow": "DOMAIN",
                        "allow_kind": "acceptable", "verify_sender": "yes"})  # fmt: skip
    shown = updated_card(slack, card["ts"], "Allow policy for auditors-llp[.]example")
    text = text_of(shown)
    assert "Released: delivered" in text, "released at once: SPAM is not guarded"
    assert "Reclassification as NONE requested" in text and "our auditors" in text
    assert text.index("Released") < text.index("Reclassification") < text.index("Allow policy")
    [release] = calls_to(simulator, "/release")
    assert release["body"] == [message_id]
    [reclassified] = calls_to(simulator, "/reclassify")
    assert reclassified["body"]["expected_disposition"] == "NONE"
    request = approval_card(slack, "auditors-llp")
    assert "Allow domain auditors-llp[.]example as an acceptable sender" in text_of(request)
    assert calls_to(simulator, "/settings/allow_policies") == [], "the allow waits for approval"


def test_a_guarded_release_becomes_a_request_and_the_rest_still_runs(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    message_id = add(
        simulator, subject="Board minutes", final_disposition="MALICIOUS", is_quarantined=True,
        envelope_from="secretary@board-co.example",
    )  # fmt: skip
    card, view = false_positive_modal(slack, message_id, "Board minutes")
    slack.submit(view, {"reason": "the board's own mail", "ask_allow": "no"})
    shown = updated_card(slack, card["ts"], "Reclassification as NONE requested")
    assert "Release: asked for approval" in text_of(shown)
    assert "Allow policy" not in text_of(shown), "no allow asked for"
    request = approval_card(slack, "Board minutes")
    assert "Release 1 message from quarantine" in text_of(request)
    assert calls_to(simulator, "/release") == [], "a guarded release waits for an approver"
    slack.click(request, "approval_approve", user=APPROVER)
    updated_card(slack, card["ts"], "Released through approval request")


def test_a_viewer_is_refused_before_any_modal(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(simulator, subject="Not mine", final_disposition="SPAM", is_quarantined=False)
    slack.command(f"lookup {message_id}")
    card = slack.card(lambda m: "Not mine" in text_of(m))
    slack.click(card, "msg_false_positive", user=VIEWER)
    assert "operator" in text_of(slack.private(VIEWER, "report false positives")).lower()
    assert views(slack, "false_positive_modal") == []
    assert calls_to(simulator, "/reclassify") == []
    slack.click(card, "msg_false_positive", user=OPERATOR)
    view = slack.view("false_positive_modal", containing="Not in quarantine")
    answer = slack.submit(view, {"reason": " ", "ask_allow": "DOMAIN"}).json()
    assert answer["response_action"] == "errors", "the modal stays open and says what is missing"
    assert answer["errors"] == {
        "reason": "Say why it is a false positive: each step keeps it.",
        "allow_kind": "Choose the kind of allow policy.",
    }
    assert calls_to(simulator, "/reclassify") == [], "nothing without a reason"
