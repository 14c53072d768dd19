"""End to end: PhishGuard reports in Slack (issue 16, item 4). `/email phishguard [since:7d]`
shows the newest reports as cards (title, priority, disposition, tags, the message named) with
**Open**, which shows that message's card to the one who clicked only; the alert posted for a
new report carries the same button; a window of more than a page pages with **More** (the
window kept as first asked); email-derived text is made safe; bad input gets the usage."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.services.phishguard import REPORTS_SHOWN
from tests.kit.factories import add
from tests.kit.flows import ALERTS, settle
from tests.kit.servers import RedisProcess, SimulatorProcess, wait_until
from tests.kit.slack import (
    OPERATOR,
    VIEWER,
    BotProcess,
    Slack,
    StandinProcess,
    clean_slate,
    find_element,
    text_of,
)

REPORTS = "C0REPORTS"


def report(simulator: SimulatorProcess, number: int, postfix_id: str, **fields: Any) -> None:
    body = {
        "id": number,
        "title": f"Report {number}: <!channel> see https://evil.example/x",
        "content": "Analysts reviewed it.",
        "priority": "critical",
        "disposition": "MALICIOUS",
        "fields": {"postfix_id": postfix_id, "from": "crook@evil.example", "to": ["a@example.com"]},
        "tags": [{"category": "threat", "value": "CredentialHarvester"}],
        **fields,
    }
    simulator.hook("POST", "reports", body)


def test_the_command_shows_report_cards_with_open(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    message_id = add(simulator, subject="Reset your password", postfix_id="PGUARD00001x")
    report(simulator, 9001, "PGUARD00001x")
    old = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    report(simulator, 9002, "PGUARD00001x", created_at=old, title="Older report")
    slack.command("phishguard since:1d", user=VIEWER)
    answer = slack.private(VIEWER, "PhishGuard reports* in the last 1 day")
    text = text_of(answer)
    assert "Report 9001" in text and "Older report" not in text, "the window is kept"
    assert "priority critical" in text and "Tags: threat: CredentialHarvester" in text
    assert "evil[.]example" in text and "<!channel>" not in text and "https://evil" not in text
    _, button = find_element(answer, "search_open")
    assert button["value"] == "PGUARD00001x"
    slack.click(answer, "search_open", user=VIEWER)
    card = text_of(slack.private(VIEWER, "Reset your password"))
    assert message_id in card
    slack.command("phishguard", user=VIEWER)
    week = text_of(slack.private(VIEWER, "in the last 7 days"))
    assert "Report 9001" in week and "Older report" in week


def values(message: dict[str, Any], action_id: str) -> list[str]:
    return [
        element["value"] for block in message.get("blocks") or []
        for element in [*(block.get("elements") or []), block.get("accessory") or {}]
        if element.get("action_id") == action_id
    ]  # fmt: skip


def test_a_window_of_more_than_a_page_pages_with_more(
    slack: Slack, simulator: SimulatorProcess
) -> None:
    ours = [f"PGPAGE{n:05d}x" for n in range(2 * REPORTS_SHOWN + 3)]
    for n, postfix_id in enumerate(ours):
        report(simulator, 9200 + n, postfix_id, title=f"Paged report {n}")
    slack.command("phishguard since:1d", user=VIEWER)
    page = slack.private(VIEWER, "in the last 1 day · showing 1-")
    head = text_of(page)
    counted = re.search(r"\*(\d+) PhishGuard reports\*", head)
    assert counted is not None, head[:300]
    total = int(counted.group(1))
    assert total >= len(ours), head[:300]
    # A report made after the question (a later second than the window's end) is not in
    # this answer's pages, and shifts none of them.
    asked = int(datetime.now(UTC).timestamp())
    wait_until(lambda: int(datetime.now(UTC).timestamp()) > asked, 3, "the next second")
    report(simulator, 9299, "PGLATE00001x", title="Late report")
    seen: list[str] = []
    while True:
        opens = values(page, "search_open")
        assert len(opens) == text_of(page).count("PhishGuard report* ·"), "Open on every card"
        first = len(seen) + 1
        assert f"showing {first}-{len(seen) + len(opens)}" in text_of(page)
        assert len(opens) == min(REPORTS_SHOWN, total - len(seen)), "a full page but the last"
        seen += opens
        more = values(page, "phishguard_more")
        if not more:
            break
        assert len(more) == 1 and len(seen) < total
        slack.click(page, "phishguard_more", user=VIEWER)
        page = slack.private(VIEWER, f"showing {len(seen) + 1}-")
        assert f"*{total} PhishGuard reports*" in text_of(page), "the same window"
    assert len(seen) == total and len(set(seen)) == total, "every report exactly once"
    assert set(ours) <= set(seen) and "PGLATE00001x" not in seen
    slack.command("phishguard since:1d", user=VIEWER)
    again = slack.private(VIEWER, f"*{total + 1} PhishGuard reports*")
    assert values(again, "search_open")[0] == "PGLATE00001x", "a new question sees it first"
    # A More whose value is not a page key we gave (a window longer than `since:` allows).
    _, button = find_element(again, "phishguard_more")
    button["value"] = f"2:{asked}:{91 * 86400}"
    slack.click(again, "phishguard_more", user=VIEWER)
    slack.private(VIEWER, "That page of PhishGuard reports cannot be shown; run `phishguard`")

    # Digits str.isdigit() takes and int() refuses: the same answer, not "something went wrong".
    def refusals() -> int:
        return len(slack.privates(VIEWER, "page of PhishGuard reports cannot"))

    before = refusals()
    button["value"] = f"\u00b2:{asked}:86400"
    slack.click(again, "phishguard_more", user=VIEWER)
    slack.wait(lambda: refusals() > before, "the refusal of a key with a superscript digit")


def test_bad_input_gets_the_usage(slack: Slack) -> None:
    slack.command("phishguard since:1y")
    said = text_of(slack.private(OPERATOR, "takes a duration"))
    assert "Usage: `/email phishguard [since:7d]`" in said
    slack.command("phishguard everything")
    slack.private(OPERATOR, "is not understood; this takes `since:`")


def test_an_api_failure_says_what_happened(slack: Slack, simulator: SimulatorProcess) -> None:
    rule = {"status": 503, "count": 5, "method": "GET", "path_contains": "phishguard"}
    simulator.faults(fail_next=[rule])
    slack.command("phishguard")
    said = text_of(slack.private(OPERATOR, "Email Security API answered 503 to"))
    assert "; try again shortly" in said, said  # what happened, and what to do


@pytest.fixture
def alert_bot(
    standin: StandinProcess,
    shared_simulator: SimulatorProcess,
    simulator: SimulatorProcess,
    redis_server: RedisProcess,
) -> Iterator[BotProcess]:
    clean_slate(standin, redis_server.url)
    with BotProcess(
        shared_simulator, standin, redis_server.url, ALERT_CHANNEL=ALERTS,
        ALERT_POLL_SECONDS="1",
    ) as process:  # fmt: skip
        yield process


def test_the_alert_for_a_new_report_carries_open(
    alert_bot: BotProcess, standin: StandinProcess, simulator: SimulatorProcess
) -> None:
    slack = Slack(alert_bot, standin)
    message_id = add(simulator, subject="Wire transfer today", postfix_id="PGUARD00002x")
    settle(slack, simulator, 1)
    report(simulator, 9101, "PGUARD00002x")

    def posted() -> dict[str, Any] | None:
        found = [
            m for channel in (ALERTS, REPORTS) for m in standin.messages(channel)
            if "Report 9101" in text_of(m)
        ]  # fmt: skip
        return found[0] if found else None

    alert = slack.wait(posted, "the report's alert", timeout=20)
    _, button = find_element(alert, "search_open")
    assert button["value"] == "PGUARD00002x"
    slack.click(alert, "search_open")
    assert message_id in text_of(slack.private(OPERATOR, "Wire transfer today"))
