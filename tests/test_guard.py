"""The approval rule from data alone (bot.services.guard): every rule named, every way out
guarded, the most severe verdict known, fail closed; and the verdicts looked up against the
simulator (detections fetched only when a message does not say)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.dispositions import Disposition
from bot.cloudflare.models import Finding
from bot.services.guard import Verdicts, approval_needed, most_severe, verdict
from tests.kit.clients import executor_client
from tests.kit.factories import add, make_detections, make_message
from tests.kit.servers import SimulatorProcess

D = Disposition
GUARDED = frozenset({"MALICIOUS", "MALICIOUS-BEC"})


def rule(action: Any, verdicts: list[D | None], folder: str | None = None, bulk: int = 5) -> str:
    messages = [make_message(id=f"m{n}") for n in range(len(verdicts))]
    by_id = {m.id: v for m, v in zip(messages, verdicts, strict=True)}
    need = approval_needed(
        action, messages, by_id, bulk_threshold=bulk, guarded=GUARDED, folder=folder
    )
    return "" if need is None else need.reason


def test_every_rule_that_applies_is_named() -> None:
    reason = rule("release", [D.BULK] * 11 + [D.MALICIOUS], bulk=2)
    assert reason == (
        "it touches 12 messages (BOT_BULK_THRESHOLD is 2); "
        "it releases 1 MALICIOUS message (BOT_GUARDED_DISPOSITIONS)"
    )


def test_the_first_of_a_search_that_goes_on_are_not_taken_for_all_of_it() -> None:
    """A query holds the first matches of a search Cloudflare gives no total for: its rule
    says "more than", and the guard's counts are of those first ones."""
    messages = [make_message(id=f"q{n}") for n in range(3)]
    verdicts = {"q0": D.MALICIOUS, "q1": D.SPAM, "q2": None}
    need = approval_needed(
        "release", messages, verdicts, bulk_threshold=10, guarded=GUARDED, first_of_more=True
    )
    assert need is not None and need.reason == (
        "it touches more than 3 messages (BOT_BULK_THRESHOLD is 10); "
        "of the first 3, it releases 1 MALICIOUS message (BOT_GUARDED_DISPOSITIONS); "
        "of the first 3, it releases 1 message whose disposition could not be determined "
        "(guarded: fail closed)"
    )


def test_guarded_verdicts_are_counted_most_severe_first() -> None:
    reason = rule("release", [D.MALICIOUS, D.MALICIOUS_BEC, D.MALICIOUS, D.SPAM])
    assert (
        reason == "it releases 1 MALICIOUS-BEC and 2 MALICIOUS messages (BOT_GUARDED_DISPOSITIONS)"
    )


def test_a_move_to_inbox_is_guarded_as_a_release_and_other_folders_are_not() -> None:
    assert rule("move", [D.MALICIOUS], folder="Inbox") == (
        "it moves 1 MALICIOUS message to Inbox (BOT_GUARDED_DISPOSITIONS)"
    )
    assert rule("move", [D.MALICIOUS, None], folder="JunkEmail") == ""
    assert rule("move", [D.SPAM], folder="Inbox") == ""


def test_no_verdict_counts_as_guarded() -> None:
    assert rule("release", [None, D.NONE]) == (
        "it releases 1 message whose disposition could not be determined (guarded: fail closed)"
    )
    messages = [make_message(id="missing")]
    need = approval_needed("release", messages, {}, bulk_threshold=5, guarded=GUARDED)
    assert need is not None, "a message the caller has no verdict for is guarded"


def test_nothing_applies() -> None:
    assert rule("release", [D.SPAM, D.BULK]) == ""


def test_the_most_severe_verdict_known() -> None:
    assert most_severe(["SPAM", "malicious", "BULK"]) == D.MALICIOUS
    assert most_severe(["UNKNOWN", None, "SOMETHING-NEW"]) is None, "no verdict in these"
    own = make_message(final_disposition="SPAM")
    assert verdict(own, make_detections(final_disposition="MALICIOUS")) == D.SPAM
    empty = make_message(final_disposition=None)
    findings = [Finding(detection="SPAM"), Finding(detection="MALICIOUS-BEC")]
    assert verdict(empty, make_detections(final_disposition=None, findings=findings)) == (
        D.MALICIOUS_BEC
    )
    assert verdict(empty, make_detections(final_disposition=None, findings=[])) is None
    assert verdict(make_message(final_disposition="UNKNOWN"), None) is None


@pytest.fixture
async def client(simulator: SimulatorProcess) -> AsyncIterator[EmailSecurityClient]:
    async with executor_client(simulator) as es:
        yield es


async def test_detections_are_fetched_only_for_messages_without_a_verdict(
    client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    own = add(simulator, subject="own", final_disposition="SPAM")
    told = add(
        simulator, subject="told", final_disposition=None,
        _detections={"action": "QUARANTINE", "validation": {}, "final_disposition": "MALICIOUS"},
    )  # fmt: skip
    silent = add(
        simulator, subject="silent", final_disposition=None,
        _detections={"action": "QUARANTINE", "validation": {}},
    )  # fmt: skip
    messages = [await client.get_message(i) for i in (own, told, silent)]
    before = len(simulator.requests())
    found = await Verdicts(client).of(messages)
    assert found == {own: D.SPAM, told: D.MALICIOUS, silent: None}
    fetched = [r["path"] for r in simulator.requests()[before:]]
    assert sorted(p.rsplit("/", 2)[-2] for p in fetched) == sorted([told, silent])
