"""Copy and paste works both ways: whatever the bot shows defanged can be pasted into a command
and is read as what it stands for."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from hypothesis.provisional import domains, urls

from blocks.safety import defang
from bot.commands import BlockCommand, SearchCommand, parse
from bot.refang import refang
from tests.kit.factories import add
from tests.kit.servers import SimulatorProcess
from tests.kit.slack import OPERATOR, Slack, text_of


@given(st.one_of(urls(), domains(), st.emails()))
def test_what_the_bot_defangs_refangs_to_itself(text: str) -> None:
    assert refang(defang(text)) == text


def test_the_common_notations_are_read() -> None:
    assert refang("evil[dot]example") == "evil.example"
    assert refang("a(.)b{.}c") == "a.b.c"
    assert refang("x[at]y[.]z") == "x@y.z"
    assert refang("hxxp[:]//a[.]b/c") == "http://a.b/c"
    assert refang("fxps://f[.]g") == "ftps://f.g"
    assert refang("Box [x] (draft)") == "Box [x] (draft)", "ordinary brackets stay"


def test_pasted_addresses_and_domains_are_accepted_by_the_commands() -> None:
    assert parse("block share@sharepoint-files[.]test") == BlockCommand(
        "share@sharepoint-files.test", "EMAIL"
    )
    assert parse("block evil[dot]example") == BlockCommand("evil.example", "DOMAIN")
    search = parse("search from:billing@invoices-billing[.]example")
    assert isinstance(search, SearchCommand)
    assert search.sender == "billing@invoices-billing.example"


def test_a_sender_copied_from_a_card_finds_its_messages(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    add(simulator, subject="Copied sender", **{"from": "billing@invoices-billing.example"})
    slack.command("search from:billing@invoices-billing.example")
    shown = text_of(slack.private(OPERATOR, "Copied sender"))
    assert "billing@invoices-billing[.]example" in shown, "the card shows it defanged"
    slack.standin.hook("POST", "reset")
    slack.command("search from:billing@invoices-billing[.]example")  # pasted as shown
    assert "Copied sender" in text_of(slack.private(OPERATOR, "Copied sender"))
