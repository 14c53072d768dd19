"""End to end: the VIP list (impersonation registry) from Slack (issue 16, item 3). `/email vip`
lists it 10 a page with More, each entry added by hand with Remove (a confirm dialog first),
each synced one saying which directory owns it; `/email vip add <email> <name…>` asks first
and adds on Add; Remove takes one off; both audited, operators only; a synced entry is refused
with the reason; bad input gets the usage."""

from __future__ import annotations

from typing import Any

from tests.kit.flows import accessory_values, settings_api, settings_entries
from tests.kit.servers import SimulatorProcess
from tests.kit.slack import OPERATOR, VIEWER, Slack, find_element, text_of


def registry(simulator: SimulatorProcess) -> dict[str, dict[str, Any]]:
    return settings_entries(simulator, "impersonation_registry", key="email")


def test_the_list_pages_ten_at_a_time_synced_entries_without_remove(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    with settings_api(simulator) as http:
        for n in range(8):
            made = {
                "name": f"Person {n:02d}",
                "email": f"p{n}@example.com",
                "is_email_regex": False,
            }
            http.post("/impersonation_registry", json=made).raise_for_status()
    every = registry(simulator)
    assert len(every) == 14, "the sample's 6 and 8 more"
    slack.command("vip", user=VIEWER)
    first = slack.private(VIEWER, "14 people on the VIP list")
    assert "showing 1-10" in text_of(first)
    slack.click(first, "vip_more", user=VIEWER)
    second = slack.private(VIEWER, "showing 11-14")
    text = text_of(first) + text_of(second)
    for entry in every.values():
        assert entry["name"] in text
    assert "`dana.whitfield@example.com`" in text, "an address is a literal"
    assert "(regex)" in text
    assert text.count("synced from Microsoft 365: change it there") == 2
    synced = {e["id"] for e in every.values() if e["provenance"] != "A1S_INTERNAL"}
    removable = {*accessory_values(first, "vip_remove"), *accessory_values(second, "vip_remove")}
    assert removable == {e["id"] for e in every.values()} - synced, "Remove on manual entries"
    _, button = find_element(first, "vip_remove")
    assert button["confirm"]["title"]["text"] == "Remove from the VIP list?"


def test_the_list_filters_by_text(slack: Slack) -> None:
    slack.command("vip counsel")
    page = slack.private(OPERATOR, "matching counsel")
    assert "Elena Vogel" in text_of(page) and "Dana Whitfield" not in text_of(page)
    slack.command("vip nobody-like-this")
    slack.private(OPERATOR, "No one on the VIP list matching")


def test_add_asks_then_adds_and_is_audited(slack: Slack, simulator: SimulatorProcess) -> None:
    slack.command("vip add Jo.Treasurer@example[.]com Jo Treasurer")
    question = slack.private(OPERATOR, "Add to the VIP list?")
    assert "jo.treasurer@example.com" not in registry(simulator), "nothing added before Add"
    assert "Jo Treasurer" in text_of(question)
    slack.click(question, "vip_add")
    said = text_of(slack.private(OPERATOR, "Added Jo Treasurer"))
    entry = registry(simulator)["jo.treasurer@example.com"]
    assert entry["name"] == "Jo Treasurer" and entry["provenance"] == "A1S_INTERNAL"
    assert entry["id"] in said
    slack.click(question, "vip_add")
    slack.private(OPERATOR, "is already on the VIP list")
    assert len(registry(simulator)) == 7, "added once"
    slack.command("audit")
    trail = text_of(slack.private(OPERATOR, "vip add"))
    assert "vip add jo.treasurer@example.com" in trail.replace("[.]", ".") and "added" in trail


def test_remove_takes_one_off_and_a_synced_entry_is_refused(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    every = registry(simulator)
    counsel = every["elena.vogel@example.com"]
    slack.command("vip counsel")
    page = slack.private(OPERATOR, "matching counsel")
    slack.click(page, "vip_remove", value=counsel["id"])
    slack.private(OPERATOR, "Removed Elena Vogel")
    assert "elena.vogel@example.com" not in registry(simulator)
    assert len(registry(simulator)) == 5, "only that one"
    slack.command("audit")
    assert "vip remove elena.vogel@example.com" in text_of(
        slack.private(OPERATOR, "vip remove")
    ).replace("[.]", ".")
    # A synced entry has no Remove button; a click forged with its id is refused all the same.
    ceo = every["dana.whitfield@example.com"]
    slack.click(page, "vip_remove", value=counsel["id"])
    slack.private(OPERATOR, "already removed")
    forged = {**page, "blocks": [dict(b) for b in page["blocks"]]}
    for block in forged["blocks"]:
        if (block.get("accessory") or {}).get("action_id") == "vip_remove":
            block["accessory"] = {**block["accessory"], "value": ceo["id"]}
    slack.click(forged, "vip_remove", value=ceo["id"])
    refusal = text_of(slack.private(OPERATOR, "synced from Microsoft 365"))
    assert "cannot be removed here" in refusal
    assert "dana.whitfield@example.com" in registry(simulator), "kept"


def test_a_viewer_may_list_but_not_change(slack: Slack, simulator: SimulatorProcess) -> None:
    slack.command("vip counsel", user=VIEWER)
    page = slack.private(VIEWER, "matching counsel")
    slack.command("vip add x@example.com X", user=VIEWER)
    refusal = text_of(slack.private(VIEWER, "change the VIP list"))
    assert "operator" in refusal.lower()
    slack.click(page, "vip_remove", user=VIEWER)
    slack.wait(
        lambda: len(slack.privates(VIEWER, "change the VIP list")) == 2, "the button's refusal too"
    )
    assert len(registry(simulator)) == 6, "nothing changed"


def test_bad_input_gets_the_usage(slack: Slack) -> None:
    slack.command("vip add not-an-address Somebody")
    said = text_of(slack.private(OPERATOR, "is not an email address"))
    assert "vip add &lt;email&gt; &lt;name…&gt;" in said
    slack.command("vip add ceo@example.com")
    slack.private(OPERATOR, "takes an email address and the person's name")


def test_an_api_failure_says_what_happened(slack: Slack, simulator: SimulatorProcess) -> None:
    rule = {"status": 503, "count": 5, "method": "GET", "path_contains": "impersonation"}
    simulator.faults(fail_next=[rule])
    slack.command("vip")
    said = text_of(slack.private(OPERATOR, "Email Security API answered 503 to"))
    assert "; try again shortly" in said, said  # what happened, and what to do
