"""End to end in Socket Mode: the bot (`SLACK_APP_TOKEN` set) opens a WebSocket to the Slack
stand-in, which pushes the same slash commands and clicks the HTTP tests send (as JSON
envelopes) and records the bot's acks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import pytest

from bot.local import payloads
from tests.kit.factories import add
from tests.kit.flows import thread_reply
from tests.kit.http import LOCAL
from tests.kit.servers import RedisProcess, SimulatorProcess
from tests.kit.slack import (
    APP_TOKEN,
    CHANNEL,
    OPERATOR,
    BotProcess,
    Slack,
    SocketSlack,
    StandinProcess,
    clean_slate,
    has_action,
    socket_state,
    text_of,
)


@pytest.fixture(scope="module")
def socket_bot(
    shared_simulator: SimulatorProcess, standin: StandinProcess, redis_server: RedisProcess
) -> Iterator[BotProcess]:
    """The bot in Socket Mode; started once its WebSocket is open (healthz answers sooner)."""
    assert socket_state(standin)["connected"] == 0, "another Socket Mode client is connected"
    process = BotProcess(shared_simulator, standin, redis_server.url, SLACK_APP_TOKEN=APP_TOKEN)
    try:
        Slack(process, standin).wait(
            lambda: socket_state(standin)["connected"] == 1, "the bot's Socket Mode connection"
        )
        yield process
    finally:
        process.stop()


@pytest.fixture
def slack(
    socket_bot: BotProcess,
    standin: StandinProcess,
    simulator: SimulatorProcess,
    redis_server: RedisProcess,
) -> SocketSlack:
    clean_slate(standin, redis_server.url)
    return SocketSlack(socket_bot, standin)


def test_the_bot_connects_with_its_app_token(slack: SocketSlack) -> None:
    state = socket_state(slack.standin)
    assert state["connected"] == 1 and state["connections"][0]["closed_at"] is None
    root = slack.bot.url.removesuffix("/slack/events")
    assert LOCAL.get(f"{root}/healthz", timeout=5).json() == {"ok": True}
    # No Request URL in Socket Mode: an HTTP post, signed or not, reaches no handler.
    body = payloads.slash_command("/email", "help", OPERATOR, CHANNEL, "http://127.0.0.1:1/x", "t")
    forged = LOCAL.post(slack.bot.url, content=body, headers={"Content-Type": payloads.FORM})
    assert forged.status_code == 404
    assert socket_state(slack.standin)["envelopes"] == []


def test_lookup_posts_a_card_and_its_trace_button_answers(
    slack: SocketSlack, simulator: SimulatorProcess
) -> None:
    message_id = add(simulator, subject="Over the socket", final_disposition="MALICIOUS")
    ack = slack.command(f"lookup {message_id}")
    assert "payload" not in ack, "acknowledged at once, with nothing"
    assert slack.last_ack_seconds < 3.0, "Slack gives up after 3 s"
    card = slack.card()
    assert "Over the socket" in text_of(card) and has_action(card, "msg_trace")

    slack.click(card, "msg_trace")
    assert slack.last_ack_seconds < 3.0
    thread_reply(slack, card["ts"], "Trace")
    envelopes = socket_state(slack.standin)["envelopes"]
    assert [(e["type"], e["acked"]) for e in envelopes] == [
        ("slash_commands", True),
        ("interactive", True),
    ]
    assert envelopes[0]["envelope"]["accepts_response_payload"] is True
    assert envelopes[1]["envelope"]["payload"]["type"] == "block_actions"


def test_help_answers_privately(slack: SocketSlack) -> None:
    slack.command("help")
    assert slack.last_ack_seconds < 3.0
    help_text = text_of(slack.private(OPERATOR, "reclassify"))
    for verb in ("lookup", "search", "trace", "release", "move", "block"):
        assert verb in help_text


def test_the_bot_reconnects_when_slack_asks(slack: SocketSlack) -> None:
    told = slack.standin.hook("POST", "socket/disconnect", {"reason": "refresh_requested"})
    assert len(told["connections"]) == 1

    def replaced() -> dict[str, Any] | None:
        state = socket_state(slack.standin)
        closed = [c for c in state["connections"] if c["closed_at"]]
        return state if state["connected"] == 1 and closed else None

    slack.wait(replaced, "the bot to open a new connection and close the old one")
    assert [c["ok"] for c in slack.standin.calls("apps.connections.open")] == [True]
    slack.command("help")
    slack.private(OPERATOR, "reclassify")


def test_an_envelope_from_another_workspace_is_acknowledged_and_refused(
    slack: SocketSlack, simulator: SimulatorProcess
) -> None:
    start = slack.bot.log_size()
    envelopes = []
    for kind, payload in [
        ("slash_commands", {**_command("help"), "team_id": "T0OTHER"}),
        ("events_api", payloads.app_home_opened(OPERATOR, "D0HOME") | {"team_id": "T0OTHER"}),
    ]:
        if kind == "events_api":
            payload["authorizations"] = [{**payload["authorizations"][0], "team_id": "T0OTHER"}]
        envelopes.append(slack.standin.hook("POST", "socket", {"type": kind, "payload": payload}))

    def acked() -> bool:
        done = {a["envelope_id"] for a in socket_state(slack.standin)["acks"]}
        return all(e["envelope_id"] in done for e in envelopes)

    slack.wait(acked, "both envelopes acknowledged, so that Slack does not deliver them again")
    refused = "refused a request from Slack workspace T0OTHER"
    slack.wait(lambda: slack.bot.log(since=start).count(refused) == 2, "both refusals logged")
    slack.command("help")  # ours, after them
    slack.private(OPERATOR, "reclassify")
    assert len([m for m in slack.standin.messages() if "reclassify" in text_of(m)]) == 1
    assert not slack.standin.calls("views.publish"), "no Home tab for the other workspace"
    assert simulator.calls() == []


def _command(text: str) -> dict[str, str]:
    handles = {"url": "http://127.0.0.1:1/unused", "trigger_id": "t"}
    return dict(
        parse_qsl(
            payloads.slash_command(
                "/email", text, OPERATOR, CHANNEL, handles["url"], handles["trigger_id"]
            )
        )
    )
