"""End to end: trusted domains from Slack (issue 16, item 3). `/email trust <domain>
[recent|similarity]` is always an approval request whose card shows the domain's mail of the
last 30 days by disposition; approved, the executor adds the domain once (audited, the id on the
card and in its thread). `/email trusted` lists them with Remove (operators; the page redraws),
`/email untrust` removes one."""

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
    wait_card,
)
from tests.kit.servers import SimulatorProcess
from tests.kit.slack import APPROVER, OPERATOR, VIEWER, Slack, text_of


def trusted(simulator: SimulatorProcess) -> dict[str, dict[str, Any]]:
    return settings_entries(simulator, "trusted_domains")


def test_trust_is_approved_then_added_once(slack: Slack, simulator: SimulatorProcess) -> None:
    add(simulator, subject="lookalike", final_disposition="SUSPICIOUS",
        envelope_from="a@supplier-co.example")  # fmt: skip
    slack.command('trust supplier-co.example similarity reason:"our supplier"')
    request = approval_card(slack, "supplier-co")
    text = text_of(request)
    assert "Trust domain supplier-co[.]example" in text
    assert "Switches off the lookalike checks for it" in text
    assert "1 message" in text and "SUSPICIOUS" in text and "our supplier" in text
    slack.private(OPERATOR, "Asked for approval")
    assert calls_to(simulator, "/settings/trusted_domains") == [], "nothing before approval"
    slack.click(request, "approval_approve", user=APPROVER)
    done = wait_card(slack, request["ts"], "Done")
    entry = trusted(simulator)["supplier-co.example"]
    assert entry["is_similarity"] is True and entry["is_recent"] is False
    assert f"trusted domain {entry['id']} added" in text_of(done)
    thread_reply(slack, request["ts"], f"trusted domain {entry['id']} added")
    assert len(posts(simulator, "/settings/trusted_domains")) == 1
    slack.command("audit")
    trail = text_of(slack.private(OPERATOR, "result trust"))
    assert "approve trust" in trail


def test_trust_of_a_domain_already_trusted_changes_nothing(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    slack.command("trust acme.example")
    request = approval_card(slack, "acme")
    assert "new-domain and lookalike checks" in text_of(request), "both without a choice"
    slack.click(request, "approval_approve", user=APPROVER)
    done = wait_card(slack, request["ts"], "Done")
    assert "the domain is trusted already" in text_of(done)
    assert posts(simulator, "/settings/trusted_domains") == []


def test_bad_input_and_roles(slack: Slack, simulator: SimulatorProcess) -> None:
    slack.command("trust not_a_domain")
    slack.private(OPERATOR, "is not a domain")
    slack.command("trust acme.example sometimes")
    slack.private(OPERATOR, "`recent`, `similarity` or nothing")
    slack.command("trust viewer-asks.example", user=VIEWER)
    assert "operator" in text_of(slack.private(VIEWER, "ask for trusted domains")).lower()
    slack.command("untrust acme.example", user=VIEWER)
    slack.private(VIEWER, "remove trusted domains")
    assert len(trusted(simulator)) == 3


def test_trusted_lists_and_remove_redraws(slack: Slack, simulator: SimulatorProcess) -> None:
    slack.command("trusted", user=VIEWER)
    page = slack.private(VIEWER, "3 trusted domains")
    text = text_of(page)
    assert "lawfirm[.]test* · new-domain and lookalike checks off" in text
    assert "acme[.]example* · lookalike checks off" in text
    entry = trusted(simulator)["acme.example"]
    value = next(v for v in accessory_values(page, "trusted_remove") if v.startswith(entry["id"]))
    slack.click(page, "trusted_remove", value=value, user=VIEWER)
    slack.private(VIEWER, "remove trusted domains")
    assert "acme.example" in trusted(simulator), "a viewer's Remove is refused"
    slack.command("trusted")
    page = slack.private(OPERATOR, "3 trusted domains")
    slack.click(page, "trusted_remove", value=value)
    after = text_of(slack.private(OPERATOR, "Removed the trusted domain acme"))  # page redrawn
    assert "2 trusted domains" in after and "acme[.]example*" not in after
    assert "acme.example" not in trusted(simulator)
    slack.command("untrust lawfirm.test")
    slack.private(OPERATOR, "Removed the trusted domain lawfirm[.]test")
    assert list(trusted(simulator)) == ["partner-firm.example"]
    slack.command("audit")
    trail = text_of(slack.private(OPERATOR, "untrust domain"))
    assert "untrust domain acme[.]example" in trail


def test_untrust_of_a_pattern_several_entries_have_removes_none_and_names_them(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    # The dashboard keeps a regex and a literal of the same text as two entries: `untrust`
    # by that text cannot know which one the person means, so it removes neither and asks.
    with settings_api(simulator) as http:
        made = http.post("/trusted_domains", json={
            "pattern": "acme.example", "is_regex": True, "is_recent": True,
            "is_similarity": False,
        })  # fmt: skip
    made.raise_for_status()
    regex = made.json()["result"]
    literal = trusted(simulator)["acme.example"]
    assert literal["id"] != regex["id"] and literal["is_regex"] is False
    slack.command("untrust ACME.example")
    said = text_of(slack.private(OPERATOR, "2 trusted domains have that pattern"))
    assert "nothing was removed" in said
    assert literal["id"] in said and regex["id"] in said
    assert "(regex)" in said, "the two are told apart"
    left = settings_entries(simulator, "trusted_domains", key="id")
    assert literal["id"] in left and regex["id"] in left
    assert [c for c in calls_to(simulator, regex["id"]) if c["method"] == "DELETE"] == []
    assert [c for c in calls_to(simulator, literal["id"]) if c["method"] == "DELETE"] == []
    slack.command(f"untrust {regex['id']}")
    slack.private(OPERATOR, "Removed the trusted domain acme[.]example")
    left = settings_entries(simulator, "trusted_domains", key="id")
    assert regex["id"] not in left and literal["id"] in left
