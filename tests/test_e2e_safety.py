"""End to end: forged requests, attacker-written email, outages, rate limits, fail-closed roles,
Redis down, the message shortcut, App Home, and the manifest against what the bot handles."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_sdk.signature import SignatureVerifier

from blocks.limits import problems
from bot.local import payloads
from tests.kit.factories import add
from tests.kit.servers import ROOT, RedisProcess, SimulatorProcess, free_port
from tests.kit.slack import (
    CHANNEL,
    OPERATOR,
    SIGNING_SECRET,
    BotProcess,
    Slack,
    StandinProcess,
    has_action,
    text_of,
)

ATTACKS = (
    "<!channel> <!here> <@U0VICTIM> <!subteam^S0ALL|all> <https://evil.example/x|Click here> "
    "&amp; \u202egnp.exe \u200bzero"
)


def no_injection(text: str) -> None:
    for bad in (
        "<!channel>",
        "<!here>",
        "<@U0VICTIM>",
        "<!subteam",
        "<https://",
        "\u202e",
        "\u200b",
    ):
        assert bad not in text, bad
    assert "https://evil" not in text


def test_attacker_text_is_neutralised_everywhere(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(
        simulator,
        subject=ATTACKS + " " + "S" * 5000,
        from_name=ATTACKS,
        detection_reasons=[ATTACKS, "Reply-To differs <@U0VICTIM>"],
        final_disposition="MALICIOUS",
        _detections={
            "action": "QUARANTINE",
            "validation": {"spf": "fail", "dkim": "none", "dmarc": "fail"},
            "findings": [],
            "headers": [{"name": "X-Evil", "value": ATTACKS}],
            "threat_categories": [{"id": 1, "name": ATTACKS}],
            "sender_info": {"as_name": ATTACKS},
            "links": [{"href": "https://evil.example/login?<!channel>", "text": ATTACKS}],
            "attachments": [{"size": 10, "filename": f"<@U0VICTIM>{ATTACKS}.pdf"}],
        },
        _trace={"inbound": {"lines": [{"lineno": 1, "message": ATTACKS}], "pending": False},
                "outbound": {"lines": [], "pending": False}},
    )  # fmt: skip
    slack.command(f"lookup {message_id}")
    card = slack.card()
    no_injection(json.dumps(card["blocks"], ensure_ascii=False))
    no_injection(card["text"])
    assert problems(card["blocks"], surface="message", text=card["text"]) == []
    assert "evil[.]example" in text_of(card)
    slack.click(card, "msg_trace")

    def trace() -> dict[str, Any] | None:
        return next(
            (
                m
                for m in slack.standin.messages()
                if m.get("thread_ts") == card["ts"] and m["blocks"]
            ),
            None,
        )

    reply = slack.wait(trace, "the trace reply")
    no_injection(json.dumps(reply["blocks"], ensure_ascii=False))


@pytest.mark.parametrize("forgery", ["wrong secret", "unsigned", "six minutes old"])
def test_forged_requests_are_refused_without_side_effects(
    slack: Slack, simulator: SimulatorProcess, forgery: str
) -> None:
    body = payloads.slash_command(
        "/email", "block evil.example", OPERATOR, CHANNEL, "http://127.0.0.1:1/x", "t"
    )
    timestamp = str(int(time.time()) - (360 if forgery == "six minutes old" else 0))
    secret = "not-the-secret" if forgery == "wrong secret" else SIGNING_SECRET
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if forgery != "unsigned":
        headers["X-Slack-Request-Timestamp"] = timestamp
        headers["X-Slack-Signature"] = (
            SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body) or ""
        )
    assert slack.send(body, headers).status_code == 401
    slack.command("help")  # a real request after, to be sure the forged one had its chance
    slack.private(OPERATOR, "lookup")
    assert simulator.calls() == []
    assert not [c for c in slack.standin.calls() if "evil" in json.dumps(c["args"])]


def test_api_outage_during_lookup_is_explained(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(simulator)
    simulator.faults(fail_next=[{"status": 503, "count": 50, "method": "GET"}])
    slack.command(f"lookup {message_id}")
    notice = text_of(slack.private(OPERATOR, "unavailable"))
    assert "Traceback" not in notice


def test_email_security_429_waits_and_says_so(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(simulator, subject="Patience")
    simulator.faults(fail_next=[{"status": 429, "count": 1, "method": "GET", "retry_after": 2}])
    slack.command(f"lookup {message_id}")
    slack.private(OPERATOR, "rate-limiting")
    assert "Patience" in text_of(slack.card())


def test_slack_429_on_post_is_retried(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(simulator, subject="Posted after a 429")
    slack.standin.hook(
        "POST",
        "faults",
        {
            "fail_next": [
                {"method": "chat.postMessage", "status": 429, "retry_after": 1, "count": 1}
            ]
        },
    )
    slack.command(f"lookup {message_id}")
    assert "Posted after a 429" in text_of(slack.card())
    statuses = [c["status"] for c in slack.standin.calls("chat.postMessage")]
    assert statuses[:2] == [429, 200]


def test_ack_comes_before_slow_work(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(simulator, subject="Slow API")
    simulator.faults(latency_ms=2500)
    assert slack.command(f"lookup {message_id}").status_code == 200
    assert slack.last_ack_seconds < 3.0, "Slack gives up after 3 s"
    card = slack.card()
    slack.click(card, "msg_trace")
    assert slack.last_ack_seconds < 3.0


def test_message_shortcut_looks_up_ids(slack: Slack, simulator: SimulatorProcess) -> None:
    message_id = add(simulator, subject="From a shortcut")
    posted = slack.standin.hook(
        "POST",
        "messages",
        {"channel": CHANNEL, "user": "U0REPORTER", "text": f"Is this bad? {message_id}"},
    )
    message = next(m for m in slack.standin.messages() if m["ts"] == posted["ts"])
    handles = slack.standin.hook("POST", "response_urls", {"channel": CHANNEL, "user": OPERATOR})
    payload = payloads.message_action(
        OPERATOR, "investigate_email", message, handles["url"], handles["trigger_id"]
    )
    assert slack.send(payloads.interaction(payload)).status_code == 200
    assert "From a shortcut" in text_of(slack.card())


def test_app_home_shows_roles_and_help(slack: Slack) -> None:
    event = json.dumps(payloads.app_home_opened(OPERATOR, "D0HOME"))
    assert (
        slack.send(
            event, payloads.signed_headers(SIGNING_SECRET, event, "application/json")
        ).status_code
        == 200
    )
    published = slack.wait(
        lambda: [
            c for c in slack.standin.calls("views.publish") if c["args"]["user_id"] == OPERATOR
        ],
        "OPERATOR's Home published",
    )  # an earlier test's requests may still redraw other people's Homes
    view = (
        json.loads(published[0]["args"]["view"])
        if isinstance(published[0]["args"]["view"], str)
        else published[0]["args"]["view"]
    )
    assert "operator" in text_of({"blocks": view["blocks"]})


def test_manifest_matches_what_the_bot_handles(slack: Slack) -> None:
    manifest = yaml.safe_load(Path(ROOT / "manifest.yml").read_text())
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/email"]
    for shortcut in manifest["features"]["shortcuts"]:
        message = {
            "channel": CHANNEL,
            "ts": "1.000001",
            "text": "nothing here",
            "blocks": [],
            "ephemeral": False,
        }
        payload = payloads.message_action(
            OPERATOR, shortcut["callback_id"], message, "http://127.0.0.1:1/r", "t"
        )
        assert slack.send(payloads.interaction(payload)).status_code == 200, shortcut["callback_id"]
    unknown = payloads.message_action(
        OPERATOR,
        "not_registered",
        {"channel": CHANNEL, "ts": "1.0", "text": "", "blocks": [], "ephemeral": False},
        "http://127.0.0.1:1/r",
        "t",
    )
    assert slack.send(payloads.interaction(unknown)).status_code == 404, (
        "Bolt answers 404 for what no listener handles"
    )
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    # History: an alert post in flight at a crash is looked for before it is posted again.
    assert {
        "chat:write", "commands", "files:write", "im:write", "usergroups:read",
        "channels:history", "groups:history",
    } == scopes  # fmt: skip


@pytest.fixture
def lonely_bot(
    shared_simulator: SimulatorProcess, standin: StandinProcess, redis_server: RedisProcess
) -> Iterator[Slack]:
    """A second bot with no operators configured."""
    process = BotProcess(shared_simulator, standin, redis_server.url, BOT_OPERATORS="")
    yield Slack(process, standin)
    process.stop()


def test_no_operators_configured_fails_closed(
    lonely_bot: Slack, simulator: SimulatorProcess
) -> None:
    lonely_bot.standin.hook("POST", "reset")
    message_id = add(simulator)
    lonely_bot.command(f"release {message_id}")
    refusal = text_of(lonely_bot.private(OPERATOR, "BOT_OPERATORS"))
    assert "Nobody may" in refusal
    assert simulator.calls() == []


@pytest.fixture
def bot_without_redis(
    shared_simulator: SimulatorProcess, standin: StandinProcess
) -> Iterator[Slack]:
    process = BotProcess(shared_simulator, standin, f"redis://127.0.0.1:{free_port()}/0")
    yield Slack(process, standin)
    process.stop()


def test_redis_down_is_explained_and_nothing_half_done(
    bot_without_redis: Slack, simulator: SimulatorProcess
) -> None:
    slack = bot_without_redis
    slack.standin.hook("POST", "reset")
    for i in range(12):
        add(simulator, postfix_id=f"Redis{i:04d}abcdef", subject=f"Redis test {i}")
    slack.command('search subject:"Redis test"')
    results = slack.private(OPERATOR, "Redis test")
    assert not has_action(results, "search_more")
    slack.private(OPERATOR, "Redis")
