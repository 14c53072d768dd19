"""Alert routing rules (ALERT_ROUTES): matching, first match wins, and start-up errors that
name the rule and the problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.cloudflare.models import MessageDetails, PhishGuardReport
from bot.services.routes import Routes, domain_of, load_routes

DEFAULT = "CALERTS01"
RULES = """
# fraud team: every BEC
- channel: CFRAUD001
  dispositions: [MALICIOUS-BEC]
- channel: CINTEL001
  sender_domains: [Evil.Example, "@phish.example"]
- channel: CSUBSOC01
  dispositions: [malicious, SUSPICIOUS]
  recipient_domains: [subsidiary.example]
"""


def message(**fields: Any) -> MessageDetails:
    base: dict[str, Any] = {
        "id": "Abc123-2026-01-01T00:00:00-0000abcd",
        "postfix_id": "Abc123",
        "from": "someone@sender.example",
        "to": ["user@example.com"],
        "final_disposition": "MALICIOUS",
    }
    base.update(fields)
    return MessageDetails.model_validate(base)


@pytest.fixture
def routes(tmp_path: Path) -> Routes:
    path = tmp_path / "routes.yml"
    path.write_text(RULES)
    return load_routes(path, DEFAULT)


def test_no_file_sends_everything_to_the_default_channel() -> None:
    routes = load_routes(None, DEFAULT)
    assert routes.channel_for(message()) == DEFAULT
    assert routes.channels == [DEFAULT]


def test_rules_match_in_order_and_first_match_wins(routes: Routes) -> None:
    assert routes.channels == [DEFAULT, "CFRAUD001", "CINTEL001", "CSUBSOC01"]
    # BEC from an evil domain: the first rule wins over the second
    bec = message(final_disposition="MALICIOUS-BEC", **{"from": "ceo@evil.example"})
    assert routes.channel_for(bec) == "CFRAUD001"
    assert routes.channel_for(message(**{"from": "a@evil.example"})) == "CINTEL001"
    assert routes.channel_for(message(**{"from": "x@sender.example"})) == DEFAULT


def test_domains_match_subdomains_case_insensitively_but_not_lookalikes(routes: Routes) -> None:
    assert routes.channel_for(message(**{"from": "a@Mail.EVIL.example"})) == "CINTEL001"
    assert routes.channel_for(message(**{"from": "a@notevil.example"})) == DEFAULT
    assert routes.channel_for(message(**{"from": "a@evil.example.net"})) == DEFAULT
    # the envelope sender counts as the sender too
    bounce = message(**{"from": "a@ok.example", "envelope_from": "b@bounce.phish.example"})
    assert routes.channel_for(bounce) == "CINTEL001"


def test_every_condition_of_a_rule_must_match(routes: Routes) -> None:
    to_sub = {"envelope_to": ["u@hq.Subsidiary.example"]}
    assert routes.channel_for(message(**to_sub)) == "CSUBSOC01"
    assert routes.channel_for(message(final_disposition="SUSPICIOUS", **to_sub)) == "CSUBSOC01"
    assert routes.channel_for(message(final_disposition="SPOOF", **to_sub)) == DEFAULT
    # the envelope recipients or the mailboxes delivered to
    delivered = message(to=["u@example.com"], client_recipients=["v@subsidiary.example"])
    assert routes.channel_for(delivered) == "CSUBSOC01"
    assert routes.channel_for(message(to=[])) == DEFAULT


def test_the_header_to_never_routes_a_message(routes: Routes) -> None:
    """The sender writes the header To: a forged one names the subsidiary, the mail went to
    alice@example.com, and the alert stays on the default route."""
    forged = message(
        to=["cfo@subsidiary.example"],
        envelope_to=["alice@example.com"],
        client_recipients=["alice@example.com"],
    )
    assert routes.channel_for(forged) == DEFAULT
    assert routes.channel_for(message(to=["cfo@subsidiary.example"])) == DEFAULT


def test_reports_are_routed_by_the_same_rules(routes: Routes) -> None:
    report = PhishGuardReport.model_validate(
        {
            "id": 1,
            "title": "t",
            "content": "c",
            "priority": "high",
            "disposition": "SUSPICIOUS",
            "fields": {"from": "x@odd.example", "to": ["u@subsidiary.example"]},
        }
    )
    assert routes.channel_for_report(report) == "CSUBSOC01"


def test_an_empty_file_and_a_catch_all(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yml"
    empty.write_text("# nothing yet\n")
    assert load_routes(empty, DEFAULT).channel_for(message()) == DEFAULT
    catch_all = tmp_path / "all.yml"
    catch_all.write_text("- channel: COTHER001\n")
    assert load_routes(catch_all, DEFAULT).channel_for(message()) == "COTHER001"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("channel: C1234\n", "expected a list of rules"),
        ("- channel: C12345\n- just a string\n", "rule 2: must be a mapping"),
        ("- dispositions: [MALICIOUS]\n", "rule 1: `channel` is missing"),
        ("- channel: '#soc-alerts'\n", "rule 1: channel: must be a channel id"),
        ("- channel: C12345\n  disposition: [SPAM]\n", "rule 1: unknown key disposition"),
        ("- channel: C12345\n- channel: C12345\n  dispositions: [EVIL]\n", "rule 2: disp"),
        ("- channel: C12345\n  sender_domains: []\n", "rule 1: sender_domains: is an empty"),
        (
            "- channel: C12345\n  recipient_domains: [https://x.example/]\n",
            "rule 1: recipient_domains: 'https://x.example/' is not a domain",
        ),
        ("- channel: C12345\n  dispositions: [1, 2]\n", "must be a list of strings"),
        ("- channel: C12345\n   bad: [indent\n", "not valid YAML at line"),
    ],
)
def test_invalid_files_name_the_rule_and_the_problem(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "routes.yml"
    path.write_text(text)
    with pytest.raises(ValueError, match="ALERT_ROUTES") as error:
        load_routes(path, DEFAULT)
    assert expected in str(error.value)


def test_an_unreadable_file_is_a_start_up_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot be read"):
        load_routes(tmp_path / "missing.yml", DEFAULT)


def test_domain_of() -> None:
    assert domain_of("Name <A@Example.COM>") == "example.com"
    assert domain_of("no-at-sign") is None
    assert domain_of(None) is None
