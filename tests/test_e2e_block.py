"""End to end: blocking a sender with a safety net (issue 12, item 7). The Block sender button
is role-checked before any modal; the pattern comes from the envelope sender (the header From
can be forged) and the modal shows both; every block confirms in a modal that counts the recent
messages it would have matched; a block by command is announced in the channel; blocking a
public provider, a public suffix, a trusted domain or one of the tenant's own protected domains
(or a subdomain of one) needs an approver."""

from __future__ import annotations

from typing import Any

from tests.kit.factories import add
from tests.kit.flows import approval_card, calls_to, updated_card, views, wait_card
from tests.kit.servers import SimulatorProcess
from tests.kit.slack import APPROVER, OPERATOR, VIEWER, Slack, has_action, text_of


def options_of(view: dict[str, Any]) -> dict[str, str]:
    """The radio choices of the block modal: value -> the pattern it would block."""
    block = next(b for b in view["blocks"] if b.get("block_id") == "pattern_type")
    return {o["value"]: o["description"]["text"] for o in block["element"]["options"]}


def test_a_viewer_is_refused_before_any_modal_opens(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    message_id = add(simulator, subject="Viewer tries", **{"from": "x@spammy.example"})
    slack.command(f"lookup {message_id}")
    card = slack.card()
    slack.click(card, "msg_block", user=VIEWER)
    slack.private(VIEWER, "block senders")
    assert views(slack, "block_modal") == [], "no modal is opened for someone who may not block"


def test_the_pattern_comes_from_the_envelope_sender(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    message_id = add(
        simulator,
        subject="Spoofed CEO",
        envelope_from="bounce@evil.example",
        **{"from": "ceo@partner.example"},
    )
    slack.command(f"lookup {message_id}")
    card = slack.card()
    slack.click(card, "msg_block")
    view = slack.view("block_modal", containing="in the last 30 days")
    text = text_of(view)
    assert options_of(view) == {"EMAIL": "bounce@evil[.]example", "DOMAIN": "evil[.]example"}
    assert "Header From (can be forged)" in text and "ceo@partner[.]example" in text
    assert "1 message in the last 30 days" in text, "the message itself matches its sender"
    slack.submit(view, {"pattern_type": "DOMAIN", "comment": "spoofing the CEO"})
    updated_card(slack, card["ts"], "Blocked domain")
    [call] = calls_to(simulator, "/settings/block_senders")
    assert call["body"]["pattern"] == "evil.example"
    assert call["body"]["pattern_type"] == "DOMAIN"


def test_a_block_by_command_confirms_with_a_count_and_is_announced(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    add(simulator, subject="one", **{"from": "a@spam-house.example"})
    add(simulator, subject="two", **{"from": "b@spam-house.example"})
    slack.command("block spam-house.example")
    view = slack.view("block_modal", containing="2 messages in the last 30 days")
    assert options_of(view) == {"DOMAIN": "spam-house[.]example"}
    assert calls_to(simulator, "/settings/block_senders") == [], "nothing before the confirm"
    slack.submit(view, {"pattern_type": "DOMAIN", "comment": "weekly spam run"})
    slack.wait(lambda: calls_to(simulator, "/settings/block_senders"), "the block call")
    [call] = calls_to(simulator, "/settings/block_senders")
    assert call["body"]["pattern"] == "spam-house.example"

    def announced() -> dict[str, Any] | None:
        return next(
            (
                m
                for m in slack.standin.messages()
                if not m["ephemeral"] and "Blocked domain spam-house[.]example" in text_of(m)
            ),
            None,
        )

    post = text_of(slack.wait(announced, "the block announced in the channel"))
    assert f"<@{OPERATOR}>" in post and "weekly spam run" in post


def test_blocking_a_public_provider_needs_approval(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    slack.command("block gmail.com")
    view = slack.view("block_modal", containing="approval")
    assert "public email provider" in text_of(view)
    slack.submit(view, {"pattern_type": "DOMAIN", "comment": "one sender abused it"})
    card = approval_card(slack)
    text = text_of(card)
    assert "Block domain gmail[.]com" in text and "public email provider" in text
    assert calls_to(simulator, "/settings/block_senders") == [], "nothing before approval"
    slack.click(card, "approval_approve", user=APPROVER)
    done = wait_card(slack, card["ts"], "Done")
    assert not has_action(done, "approval_approve")
    [call] = calls_to(simulator, "/settings/block_senders")
    assert call["body"]["pattern"] == "gmail.com" and call["body"]["pattern_type"] == "DOMAIN"


def test_a_public_suffix_and_a_trusted_domain_need_approval(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    slack.command("block co.uk")
    assert "public suffix" in text_of(slack.view("block_modal", containing="approval"))
    slack.command("block lawfirm.test")  # on the simulator's trusted domains list
    assert "trusted" in text_of(slack.view("block_modal", containing="lawfirm"))


def test_blocking_one_of_the_tenants_own_protected_domains_needs_approval(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    slack.command("block example.org")  # protected by the simulator's account: its own mail
    view = slack.view("block_modal", containing="approval")
    assert "the tenant's own protected domains" in text_of(view)
    slack.submit(view, {"pattern_type": "DOMAIN", "comment": "a spoofer used it"})
    card = approval_card(slack)
    text = text_of(card)
    assert "Block domain example[.]org" in text
    assert "it blocks one of the tenant's own protected domains" in text
    assert calls_to(simulator, "/settings/block_senders") == [], "nothing before approval"
    slack.command("block mail.example.com")  # a subdomain of a protected domain
    view = slack.view("block_modal", containing="mail[.]example[.]com")
    assert "the tenant's own protected domains" in text_of(view)


def test_a_domain_block_needs_approval_when_the_protected_domains_cannot_be_read(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    # The token may lack the permission (403): the modal and the submit each ask, and each
    # time an unchecked block is treated as one of the tenant's own domains (fail closed).
    simulator.faults(fail_next=[{"status": 403, "count": 2, "path_contains": "/settings/domains"}])
    slack.command("block spam-house.example")
    view = slack.view("block_modal", containing="could not be checked")
    slack.submit(view, {"pattern_type": "DOMAIN", "comment": "weekly spam run"})
    card = approval_card(slack)
    text = text_of(card)
    assert "Block domain spam-house[.]example" in text and "could not be checked" in text
    assert calls_to(simulator, "/settings/block_senders") == [], "nothing before approval"


def test_a_domain_block_needs_approval_when_the_trusted_list_cannot_be_read(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    # As for the protected domains: an unchecked trusted list counts as naming the domain.
    simulator.faults(
        fail_next=[{"status": 403, "count": 2, "path_contains": "/settings/trusted_domains"}]
    )
    slack.command("block spam-outlet.example")
    view = slack.view("block_modal", containing="trusted list could not be checked")
    slack.submit(view, {"pattern_type": "DOMAIN", "comment": "spam"})
    text = text_of(approval_card(slack))
    assert "Block domain spam-outlet[.]example" in text and "could not be checked" in text
    assert calls_to(simulator, "/settings/block_senders") == [], "nothing before approval"


def test_the_count_includes_clean_mail_from_the_sender(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    """The modal says how much mail the block would have stopped: the clean mail (which the
    search leaves out by default, as the API does) as well as the detections."""
    add(simulator, subject="detected", **{"from": "x@mixed-mail.example"})
    add(
        simulator,
        subject="clean",
        final_disposition="NONE",
        is_quarantined=False,
        **{"from": "y@mixed-mail.example"},
    )
    slack.command("block mixed-mail.example")
    view = slack.view("block_modal", containing="mixed-mail")
    assert "2 messages in the last 30 days" in text_of(view), text_of(view)
