"""End to end: the block list and the protected domains from Slack (issue 16, item 3).
`/email blocked` lists the blocked senders 10 a page with More, each with Unblock; Unblock and
`/email unblock <pattern|id>` remove one (operators only, audited, the answer names it); a card
whose sender is blocked says so (and, unblocked from there, shows it); `/email domains` lists
the protected domains, read-only."""

from __future__ import annotations

from typing import Any

from tests.kit.factories import add
from tests.kit.flows import accessory_values, settings_api, settings_entries, updated_card
from tests.kit.servers import SimulatorProcess
from tests.kit.slack import OPERATOR, VIEWER, Slack, find_element, text_of


def blocked(simulator: SimulatorProcess) -> dict[str, dict[str, Any]]:
    return settings_entries(simulator, "block_senders")


def test_the_list_pages_ten_at_a_time_each_with_unblock(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    with settings_api(simulator) as http:
        for n in range(9):
            made = {"pattern": f"spam{n}@junk.example", "pattern_type": "EMAIL"}
            http.post("/block_senders", json={**made, "is_regex": False}).raise_for_status()
    every = blocked(simulator)
    assert len(every) == 13, "the sample's 4 and 9 more"
    slack.command("blocked")
    first = slack.private(OPERATOR, "13 blocked senders")
    assert "showing 1-10" in text_of(first)
    assert len(accessory_values(first, "blocklist_unblock")) == 10
    _, button = find_element(first, "blocklist_unblock")
    assert button["confirm"]["title"]["text"] == "Unblock this sender?", "a confirm dialog first"
    slack.click(first, "blocklist_more")
    second = slack.private(OPERATOR, "showing 11-13")
    assert len(accessory_values(second, "blocklist_unblock")) == 3
    shown = {*accessory_values(first, "blocklist_unblock")}
    shown |= {*accessory_values(second, "blocklist_unblock")}
    assert shown == {entry["id"] for entry in every.values()}, "every entry once, by its id"
    text = text_of(first) + text_of(second)
    assert "m365-account-security[.]example" in text, "a pattern is defanged"
    assert "Credential phishing kit" in text and "(domain)" in text and "regex" in text


def test_the_list_filters_by_text(slack: Slack, simulator: SimulatorProcess) -> None:
    slack.command("blocked prize-center")
    page = slack.private(OPERATOR, "matching prize-center")
    winner = blocked(simulator)["winner@prize-center.test"]
    assert accessory_values(page, "blocklist_unblock") == [winner["id"]]
    slack.command("blocked nothing-like-this")
    slack.private(OPERATOR, "No blocked senders matching")


def test_the_unblock_button_removes_the_entry_and_is_audited(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    entry = blocked(simulator)["winner@prize-center.test"]
    slack.command("blocked prize-center")
    page = slack.private(OPERATOR, "matching prize-center")
    slack.click(page, "blocklist_unblock", value=entry["id"])
    answer = slack.private(OPERATOR, "Unblocked")
    assert "winner@prize-center[.]test" in text_of(answer) and entry["id"] in text_of(answer)
    assert "winner@prize-center.test" not in blocked(simulator)
    assert len(blocked(simulator)) == 3, "only that one"
    slack.command("audit")
    trail = text_of(slack.private(OPERATOR, "unblock email"))
    assert "unblock email winner@prize-center[.]test" in trail and "unblocked" in trail
    assert f"<@{OPERATOR}>" in trail


def test_unblock_by_pattern_and_by_id(slack: Slack, simulator: SimulatorProcess) -> None:
    slack.command("unblock Winner@Prize-Center.test")
    said = text_of(slack.private(OPERATOR, "Unblocked winner@prize-center[.]test"))
    assert "(address" in said
    domain = blocked(simulator)["m365-account-security.example"]
    slack.command(f"unblock {domain['id']}")
    slack.private(OPERATOR, "Unblocked m365-account-security[.]example")
    left = blocked(simulator)
    assert "winner@prize-center.test" not in left and "m365-account-security.example" not in left
    slack.command("unblock nobody@nowhere.example")
    slack.private(OPERATOR, "No blocked sender has the pattern")
    assert len(blocked(simulator)) == 2


def test_unblock_of_a_pattern_two_entries_have_removes_neither(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    with settings_api(simulator) as http:
        made = {"pattern": "winner@prize-center.test", "pattern_type": "EMAIL", "is_regex": True}
        regex = http.post("/block_senders", json=made).json()["result"]
    slack.command("unblock winner@prize-center.test")
    said = text_of(slack.private(OPERATOR, "2 blocked senders have that pattern"))
    assert "nothing was removed" in said and f"{regex['id']}` (email, regex)" in said
    assert len(settings_entries(simulator, "block_senders", key="id")) == 5


def test_a_viewer_may_list_but_not_unblock(slack: Slack, simulator: SimulatorProcess) -> None:
    slack.command("blocked", user=VIEWER)
    page = slack.private(VIEWER, "4 blocked senders")
    slack.command("unblock winner@prize-center.test", user=VIEWER)
    refusal = text_of(slack.private(VIEWER, "unblock senders"))
    assert "operator" in refusal.lower()
    slack.click(page, "blocklist_unblock", user=VIEWER)
    slack.wait(
        lambda: len(slack.privates(VIEWER, "unblock senders")) == 2, "the button's refusal too"
    )
    assert len(blocked(simulator)) == 4, "nothing removed"


def test_a_card_of_a_blocked_sender_says_so_and_unblocks(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    by_address = add(simulator, subject="You won", envelope_from="winner@prize-center.test")
    by_domain = add(simulator, subject="Reset", **{"from": "it@m365-account-security.example"})
    clean = add(simulator, subject="Hello", **{"from": "friend@partner.example"})
    slack.command(f"lookup {by_address}")
    card = slack.card(lambda m: "You won" in text_of(m))
    assert "Sender blocked: pattern winner@prize-center[.]test (address)" in text_of(card)
    slack.command(f"lookup {by_domain}")
    domain_card = slack.card(lambda m: "Reset" in text_of(m))
    assert "Sender blocked: pattern m365-account-security[.]example (domain)" in text_of(
        domain_card
    )
    slack.command(f"lookup {clean}")
    assert "Sender blocked" not in text_of(slack.card(lambda m: "Hello" in text_of(m)))
    asked = [r for r in simulator.requests() if r["path"].endswith("/settings/block_senders")]
    assert len(asked) == 3, "one look at the block list per card"
    entry = blocked(simulator)["winner@prize-center.test"]
    slack.click(card, "blocklist_unblock", value=entry["id"])
    slack.private(OPERATOR, "Unblocked winner@prize-center[.]test")
    assert "winner@prize-center.test" not in blocked(simulator)
    redrawn = updated_card(slack, card["ts"], "Unblocked email winner@prize-center[.]test")
    assert "Sender blocked" not in text_of(redrawn), "the card no longer says it is blocked"


def test_domains_lists_the_protected_domains_read_only(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    slack.command("domains", user=VIEWER)
    answer = text_of(slack.private(VIEWER, "protected domains"))
    for line in ("example[.]com* · ACTIVE · delivery DIRECT", "example[.]org* · ACTIVE",
                 "eu[.]example[.]com* · PENDING"):  # fmt: skip
        assert line in answer
    assert "BCC, JOURNAL" in answer and "messages processed as of" in answer
    assert "stays in the Cloudflare dashboard" in answer


def test_a_card_shows_without_the_line_when_the_block_list_cannot_be_read(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    message_id = add(simulator, subject="Unread list", envelope_from="winner@prize-center.test")
    rule = {"status": 400, "count": 5, "method": "GET", "path_contains": "block_senders"}
    simulator.faults(fail_next=[rule])
    slack.command(f"lookup {message_id}")
    card = slack.card(lambda m: "Unread list" in text_of(m))
    assert "Sender blocked" not in text_of(card), "the card is posted, without the line"
    asked = [r for r in simulator.requests() if r["path"].endswith("/settings/block_senders")]
    assert [r["status"] for r in asked] == [400], "asked once, and the refusal not retried"
