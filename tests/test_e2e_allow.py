"""End to end: allow policies from Slack (issue 16, items 3 and 4). "Allow sender…" on a card and
`/email allow` open a modal (what, the kind, "verify sender" on by default, a comment); every
allow policy is an approval request, even for an approver, whose card shows the mail it would
have let through in 30 days by disposition; approved, the executor creates the policy once
(audited; the request's card, its thread and the message's card say so, with the policy id).
`/email allowed` lists the policies 10 a page with Remove (operators; confirm; audited; the page
redraws), `/email disallow` removes one by pattern or id."""

from __future__ import annotations

from typing import Any

from tests.kit.approvals import posts
from tests.kit.factories import add
from tests.kit.flows import (
    accessory_values,
    approval_card,
    calls_to,
    settings_api,
    settings_entries,
    thread_reply,
    updated_card,
    views,
    wait_card,
)
from tests.kit.servers import SimulatorProcess
from tests.kit.slack import (
    APPROVER,
    BOTH,
    OPERATOR,
    VIEWER,
    Slack,
    find_element,
    has_action,
    text_of,
)


def policies(simulator: SimulatorProcess) -> dict[str, dict[str, Any]]:
    return settings_entries(simulator, "allow_policies")


def options_of(view: dict[str, Any], block_id: str) -> dict[str, str]:
    block = next(b for b in view["blocks"] if b.get("block_id") == block_id)
    element = block["element"]
    return {o["value"]: (o.get("description") or o["text"])["text"] for o in element["options"]}


def test_allow_from_a_card_is_approved_then_created_once(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    for n, disposition in enumerate(("MALICIOUS", "NONE", "NONE")):
        add(simulator, subject=f"earlier {n}", final_disposition=disposition,
            envelope_from=f"billing{n}@vendor-mail.example")  # fmt: skip
    message_id = add(
        simulator, subject="Invoice 42", final_disposition="SPAM",
        envelope_from="billing@vendor-mail.example", **{"from": "ceo@partner.example"},
    )  # fmt: skip
    slack.command(f"lookup {message_id}")
    card = slack.card(lambda m: "Invoice 42" in text_of(m))
    slack.click(card, "msg_allow")
    view = slack.view("allow_modal", containing="This address")
    assert options_of(view, "pattern_type") == {
        "EMAIL": "billing@vendor-mail[.]example", "DOMAIN": "vendor-mail[.]example",
    }, "the envelope sender, never the header From"  # fmt: skip
    assert set(options_of(view, "allow_kind")) == {"trusted", "acceptable", "exempt"}
    verify = next(b for b in view["blocks"] if b.get("block_id") == "verify_sender")
    assert verify["element"]["initial_option"]["value"] == "yes", "verify sender on by default"
    assert "ceo@partner[.]example" in text_of(view) and "can be forged" in text_of(view)
    slack.submit(view, {"pattern_type": "DOMAIN", "allow_kind": "acceptable",
                        "verify_sender": "yes", "comment": "our billing provider"})  # fmt: skip
    request = approval_card(slack, "vendor-mail")
    text = text_of(request)
    assert "Allow domain vendor-mail[.]example as an acceptable sender" in text
    assert "skips spam and spoof detections only" in text and "verify sender on" in text
    assert "Mail from it in the last 30 days*: 4 messages" in text
    assert "MALICIOUS" in text and "SPAM" in text and "NONE" in text
    assert "our billing provider" in text and f"<@{OPERATOR}>" in text
    updated_card(slack, card["ts"], "Allow policy for vendor-mail[.]example: asked for approval")
    assert calls_to(simulator, "/settings/allow_policies") == [], "nothing before approval"

    slack.click(request, "approval_approve", user=APPROVER)
    done = wait_card(slack, request["ts"], "Done")
    made = policies(simulator)["vendor-mail.example"]
    assert made["is_acceptable_sender"] and not made["is_trusted_sender"]
    assert made["verify_sender"] is True and made["pattern_type"] == "DOMAIN"
    assert "our billing provider" in made["comments"] and APPROVER in made["comments"]
    assert f"allow policy {made['id']} created" in text_of(done)
    assert not has_action(done, "approval_approve")
    thread_reply(slack, request["ts"], f"allow policy {made['id']} created")
    updated_card(slack, card["ts"], "Allow policy created through approval request")
    assert len(posts(simulator, "/settings/allow_policies")) == 1, "created exactly once"
    slack.command(f"audit {message_id}")
    trail = text_of(slack.private(OPERATOR, "result allow"))
    assert "request allow" in trail and "approve allow" in trail


def test_an_allow_by_an_approver_is_still_a_request_they_cannot_approve(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    slack.command('allow newsletter@digest-house.example reason:"weekly digest"', user=BOTH)
    view = slack.view("allow_modal", containing="digest-house")
    comment = next(b for b in view["blocks"] if b.get("block_id") == "comment")
    assert comment["element"]["initial_value"] == "weekly digest", "the reason prefills it"
    slack.submit(view, {"pattern_type": "EMAIL", "allow_kind": "trusted", "verify_sender": "no",
                        "comment": "weekly digest"}, user=BOTH)  # fmt: skip
    request = approval_card(slack, "digest-house")
    text = text_of(request)
    assert "Allow address newsletter@digest-house[.]example as a trusted sender" in text
    assert "skips all detections" in text and "spoofed mail passes too" in text
    assert "0 messages" in text
    slack.private(BOTH, "Asked for approval")
    slack.click(request, "approval_approve", user=BOTH)
    slack.private(BOTH, "cannot approve your own request")
    assert "newsletter@digest-house.example" not in policies(simulator)


def test_a_viewer_may_not_ask_and_bad_input_says_how(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    message_id = add(simulator, subject="Viewer tries", envelope_from="x@viewer-tries.example")
    slack.command(f"lookup {message_id}")
    card = slack.card(lambda m: "Viewer tries" in text_of(m))
    slack.click(card, "msg_allow", user=VIEWER)
    refusal = text_of(slack.private(VIEWER, "ask for allow policies"))
    assert "operator" in refusal.lower()
    slack.command("allow someone@else.example", user=VIEWER)
    slack.wait(
        lambda: len(slack.privates(VIEWER, "ask for allow policies")) == 2,
        "the command's refusal too",
    )
    assert views(slack, "allow_modal") == [], "no modal for someone who may not ask"
    slack.command("allow someone@else.example")
    view = slack.view("allow_modal", containing="else[.]example")
    answer = slack.submit(view, {"pattern_type": "EMAIL", "verify_sender": "yes"}).json()
    assert answer == {"response_action": "errors",
                      "errors": {"allow_kind": "Choose the kind of allow policy."}}  # fmt: skip
    slack.command("allow not-a-sender")
    usage = text_of(slack.private(OPERATOR, "neither an email address nor a domain"))
    assert "Usage: `/email allow &lt;sender|domain&gt;" in usage


def test_a_failed_create_says_what_happened(slack: Slack, simulator: SimulatorProcess) -> None:
    slack.command("allow alerts@monitoring-saas.example")
    view = slack.view("allow_modal", containing="monitoring-saas")
    slack.submit(view, {"pattern_type": "EMAIL", "allow_kind": "trusted", "verify_sender": "yes",
                        "comment": "uptime alerts"})  # fmt: skip
    request = approval_card(slack, "monitoring-saas")
    rule = {"status": 400, "count": 1, "method": "POST", "path_contains": "allow_policies"}
    simulator.faults(fail_next=[rule])
    slack.click(request, "approval_approve", user=APPROVER)
    done = wait_card(slack, request["ts"], "Done with failures")
    assert "Errors" in text_of(done)
    thread_reply(slack, request["ts"], "failed")
    assert "alerts@monitoring-saas.example" not in policies(simulator)


def test_allowed_lists_pages_and_remove_redraws(slack: Slack, simulator: SimulatorProcess) -> None:
    with settings_api(simulator) as http:
        for n in range(9):
            made = {"pattern": f"ok{n}@fine.example", "pattern_type": "EMAIL", "is_regex": False,
                    "is_trusted_sender": True, "is_acceptable_sender": False,
                    "is_exempt_recipient": False, "verify_sender": True}  # fmt: skip
            http.post("/allow_policies", json=made).raise_for_status()
    slack.command("allowed", user=VIEWER)
    first = slack.private(VIEWER, "12 allow policies")
    assert "showing 1-10" in text_of(first)
    assert len(accessory_values(first, "allowlist_remove")) == 10
    _, button = find_element(first, "allowlist_remove")
    assert button["confirm"]["title"]["text"] == "Remove this allow policy?"
    slack.click(first, "allowlist_more", user=VIEWER)
    second = slack.private(VIEWER, "showing 11-12")
    assert len(accessory_values(second, "allowlist_remove")) == 2
    slack.click(second, "allowlist_remove", user=VIEWER)
    slack.private(VIEWER, "remove allow policies")
    assert len(policies(simulator)) == 12, "a viewer removes nothing"

    slack.command("allowed partner-firm")
    page = slack.private(OPERATOR, "matching partner-firm")
    text = text_of(page)
    assert "partner-firm[.]example* (domain) · acceptable sender · verify sender" in text
    entry = policies(simulator)["partner-firm.example"]
    slack.click(page, "allowlist_remove", value=accessory_values(page, "allowlist_remove")[0])
    redrawn = slack.private(OPERATOR, "Removed the allow policy partner-firm")  # the page redrawn
    assert "No allow policies matching" in text_of(redrawn), "the page shows it gone"
    assert entry["id"] in text_of(redrawn)
    assert "partner-firm.example" not in policies(simulator)
    slack.command("audit")
    trail = text_of(slack.private(OPERATOR, "disallow domain"))
    assert "disallow domain partner-firm[.]example" in trail and "removed" in trail


def test_disallow_by_pattern_and_by_id(slack: Slack, simulator: SimulatorProcess) -> None:
    slack.command("disallow Statements@Payroll-Provider.example")
    slack.private(OPERATOR, "Removed the allow policy statements@payroll-provider[.]example")
    entry = policies(simulator)["phishing-reports@example.com"]
    slack.command(f"disallow {entry['id']}")
    slack.private(OPERATOR, "Removed the allow policy phishing-reports@example[.]com")
    assert list(policies(simulator)) == ["partner-firm.example"]
    slack.command("disallow nobody@nowhere.example")
    slack.private(OPERATOR, "No allow policy has the pattern")
