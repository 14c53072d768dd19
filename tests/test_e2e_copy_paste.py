"""End to end: copy and paste works both ways (issue 13, item 5, the display side). A card shows
the tenant's own values (its recipient, the Message-ID, a file name, a score) as they are, in
code spans that Slack neither links nor splits; what an attacker controls (the sender, domains
in the detection reasons) is defanged in one notation, `[.]`; and whatever the card shows,
copied as a person copies it, pasted into `/email search` and `/email block` finds the same
message or reaches the block confirm."""

from __future__ import annotations

import re

from bot.local.render import decode
from bot.simulator.derive import make_attachment
from tests.kit.factories import add
from tests.kit.servers import SimulatorProcess
from tests.kit.slack import OPERATOR, Slack, text_of

SENDER = "accounts@paste-back.example"
RECIPIENT = "noah.fischer@eu.example.com"
MESSAGE_ID = "<022e6a14d373.68020@paste-back.example>"
REASONS = [
    "Spam content score 8.4",
    "SPF fail for example[dot]com from 203[dot]0[dot]113[dot]9",
    "Link to recently registered domain pbx(.)notify{.}test",
]


def add_message(simulator: SimulatorProcess, subject: str) -> str:
    return add(
        simulator,
        subject=subject,
        to=[RECIPIENT],
        to_name=["Noah Fischer"],
        message_id=MESSAGE_ID,
        detection_reasons=REASONS,
        _attachments=[make_attachment("Q3 results.v2.xlsx", "application/pdf", None)],
        **{"from": SENDER},
    )


def code_spans(text: str) -> list[str]:
    """What a person copies from each code span of mrkdwn: the text between the backticks, as
    Slack displays it (entities decoded)."""
    return [decode(span) for span in re.findall(r"`([^`\n]+)`", text)]


def test_a_card_shows_the_tenants_values_as_they_are_and_defangs_only_the_attackers(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    add_message(simulator, "Copy and paste card")
    slack.command(f"search from:{SENDER}")
    results = slack.private(OPERATOR, "Copy and paste card")
    slack.click(results, "search_open")
    slack.click(slack.private(OPERATOR, "Only you can see this card"), "msg_share")
    text = text_of(slack.card())
    spans = code_spans(text)
    assert RECIPIENT in spans, "the recipient as it is, in a code span"
    assert "noah[.]fischer" not in text and "eu[.]example" not in text
    assert MESSAGE_ID in spans, "the Message-ID as it is"
    assert "Q3 results.v2.xlsx" in spans, "the file name as it is"
    assert "Spam content score 8.4" in text, "a number is never defanged"
    assert "example[.]com from 203[.]0[.]113[.]9" in text, "one notation; an IP is a host"
    assert "pbx[.]notify[.]test" in text
    for other in ("[dot]", "(.)", "{.}"):
        assert other not in text, other
    assert "accounts@paste-back[.]example" in text, "the sender stays defanged"


def test_what_a_card_shows_pasted_into_search_and_block_finds_the_message(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    message_id = add_message(simulator, "Pasted back")
    slack.command(f"lookup {message_id}")
    text = text_of(slack.card())
    spans = code_spans(text)
    [sender] = re.findall(r"[\w.-]+@paste-back\[\.\]example", text)[:1]
    [recipient] = [span for span in spans if "noah" in span]
    assert message_id in spans, "the investigate id is whole in a code span"

    for query in (f"from:{sender}", f"to:{recipient}", f"from:{sender} to:{recipient}"):
        slack.standin.hook("POST", "reset")
        slack.command(f"search {query}")
        found = text_of(slack.private(OPERATOR, "Pasted back"))
        assert message_id in code_spans(found), query

    slack.command(f"block {sender}")
    view = slack.view("block_modal", containing="1 message in the last 30 days")
    assert "accounts@paste-back[.]example" in text_of(view)
    slack.command(f"block {recipient}")
    view = slack.view("block_modal", containing="noah")
    assert "in the last 30 days" in text_of(view), "the block confirm, counted"
