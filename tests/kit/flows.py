"""Multi-step end-to-end helpers over the Slack stand-in and the simulator: waiting for a card
to change or a thread reply, what the simulator was asked to do, a card's "Reclassify" and
"False positive…", approval cards and the bulk "Release all matching" flow, the roots the alert
poller posts, and the simulator's email-security settings (allow policies, blocked senders,
trusted domains, the VIP list)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.kit.factories import quarantined_messages
from tests.kit.http import TLS
from tests.kit.servers import ACCOUNT_ID, API_TOKEN, SimulatorProcess
from tests.kit.slack import OPERATOR, Slack, StandinProcess, has_action, text_of

ALERTS = "C0ALERTS"  # the alert channel of the alert tests' bots (ALERT_CHANNEL)

# -- cards, threads and the simulator's calls --------------------------------------------------


def calls_to(simulator: SimulatorProcess, path_end: str) -> list[dict[str, Any]]:
    return [c for c in simulator.calls() if c["path"].endswith(path_end)]


def views(slack: Slack, callback_id: str) -> list[dict[str, Any]]:
    """Every modal the bot opened with `callback_id`, in order."""
    return [
        e["view"]
        for e in slack.standin.hook("GET", "views")
        if e["view"].get("callback_id") == callback_id
    ]


def accessory_values(message: dict[str, Any], action_id: str) -> list[str]:
    """The values of the `action_id` buttons beside a listing's entries (Remove, Unblock)."""
    return [
        block["accessory"]["value"]
        for block in message["blocks"]
        if (block.get("accessory") or {}).get("action_id") == action_id
    ]


def updated_card(slack: Slack, ts: str, containing: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        found = [m for m in slack.standin.messages() if m["ts"] == ts and containing in text_of(m)]
        return found[0] if found else None

    return slack.wait(probe, f"card {ts} to show {containing!r}")


def thread_reply(slack: Slack, ts: str, containing: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        found = [
            m
            for m in slack.standin.messages()
            if m.get("thread_ts") == ts and containing in text_of(m)
        ]
        return found[0] if found else None

    return slack.wait(probe, f"a reply in thread {ts} with {containing!r}")


def reclassify_from_card(slack: Slack, message_id: str, subject: str) -> dict[str, Any]:
    """A lookup of `message_id` and "Reclassify as NONE" from its card: the card, once it says
    the reclassification was requested."""
    slack.command(f"lookup {message_id}")
    card = slack.card(lambda m: subject in text_of(m))
    slack.click(card, "msg_reclassify", option="NONE")
    slack.submit(slack.view("reclassify_modal"), {"disposition": "NONE"})
    return updated_card(slack, card["ts"], "Reclassification as NONE requested")


def false_positive_modal(
    slack: Slack, message_id: str, subject: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A lookup of `message_id` and "False positive…" clicked on its card: the card and the
    modal it opened."""
    slack.command(f"lookup {message_id}")
    card = slack.card(lambda m: subject in text_of(m))
    slack.click(card, "msg_false_positive")
    return card, slack.view("false_positive_modal", containing="Reclassify it as NONE")


# -- approvals ---------------------------------------------------------------------------------


def approval_card(slack: Slack, containing: str = "Approval needed") -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        cards = [
            m
            for m in slack.standin.messages()
            if not m["ephemeral"] and has_action(m, "approval_approve")
        ]
        return next((m for m in reversed(cards) if containing in text_of(m)), None)

    return slack.wait(probe, "an approval card")


def card_now(slack: Slack, ts: str) -> dict[str, Any]:
    return next(m for m in slack.standin.messages() if m["ts"] == ts)


def wait_card(slack: Slack, ts: str, containing: str, timeout: float = 20) -> dict[str, Any]:
    return slack.wait(
        lambda: (lambda m: m if containing in text_of(m) else None)(card_now(slack, ts)),
        f"the approval card to show {containing!r}", timeout,
    )  # fmt: skip


def released_ids(simulator: SimulatorProcess) -> list[str]:
    """Every id of the release calls the simulator accepted (status 200)."""
    return [
        i
        for c in simulator.calls()
        if c["path"].endswith("/release") and c["status"] == 200
        for i in c["body"]
    ]


def request_id_of(card: dict[str, Any]) -> str:
    for block in card["blocks"]:
        for element in block.get("elements") or []:
            if element.get("action_id") == "approval_approve":
                return str(element["value"])
    raise AssertionError("no approve button")


def release_all_card(
    driver: Slack, simulator: SimulatorProcess, count: int, tag: str
) -> tuple[dict[str, Any], list[str]]:
    """`count` quarantined messages with the subject "<tag> batch", searched for, "Release all
    matching" clicked and its modal submitted by an operator: the approval card (and the ids)."""
    messages = quarantined_messages(count, tag)
    for message in messages:
        message["subject"] = f"{tag} batch"
    ids: list[str] = []
    for start in range(0, count, 2000):  # one body of 10,000 is over the simulator's 1 MB
        ids += simulator.add_messages(messages[start : start + 2000])
    driver.command(f'search subject:"{tag} batch"')
    driver.click(driver.private(OPERATOR, f"{tag} batch"), "search_release_all")
    view = driver.view("search_bulk_modal")
    driver.submit(view, {"reason": "false positive campaign"})
    return approval_card(driver, str(count)), ids


# -- alerts ------------------------------------------------------------------------------------


def roots(standin: StandinProcess, channel: str = ALERTS) -> list[dict[str, Any]]:
    return [m for m in standin.messages(channel) if not m.get("thread_ts") and not m["ephemeral"]]


def wait_roots(
    slack: Slack, count: int, channel: str = ALERTS, timeout: float = 30
) -> list[dict[str, Any]]:
    return slack.wait(
        lambda: (lambda r: r if len(r) >= count else None)(roots(slack.standin, channel)),
        f"{count} alert roots in {channel}",
        timeout,
    )


def card_ids(messages: list[dict[str, Any]]) -> list[str]:
    """The investigate ids of the cards in `messages` (each card's Trace button carries it)."""
    return [
        element["value"]
        for message in messages for block in message.get("blocks") or []
        for element in block.get("elements") or [] if element.get("action_id") == "msg_trace"
    ]  # fmt: skip


def searches(simulator: SimulatorProcess) -> int:
    return sum(
        1 for r in simulator.requests() if r["path"].endswith("/investigate") and r["status"] == 200
    )


def settle(slack: Slack, simulator: SimulatorProcess, polls: int = 3) -> None:
    """Let the poller run `polls` more complete searches."""
    start = searches(simulator)
    slack.wait(lambda: searches(simulator) >= start + polls, f"{polls} more polls", timeout=30)


# -- the simulator's email-security settings ---------------------------------------------------


def settings_api(simulator: SimulatorProcess) -> httpx.Client:
    """A client of the simulator's settings API, as the bot's token calls it."""
    base = f"{simulator.base_url}/accounts/{ACCOUNT_ID}/email-security/settings"
    return httpx.Client(base_url=base, verify=TLS, headers={"Authorization": f"Bearer {API_TOKEN}"})


def settings_entries(
    simulator: SimulatorProcess, path: str, key: str = "pattern"
) -> dict[str, dict[str, Any]]:
    """The entries of one settings listing (`allow_policies`, `block_senders`, ...), by `key`
    (read through the simulator's API, as the bot reads them)."""
    with settings_api(simulator) as http:
        answer = http.get(f"/{path}", params={"per_page": 100})
    answer.raise_for_status()
    return {entry[key]: entry for entry in answer.json()["result"]}
