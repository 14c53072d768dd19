"""End to end: a reclassify's outcome that a replica was showing when it died is shown by the
next one, once (bot/store/follows.py keeps it as a leased "showing" record until the card and
its thread are done). The card gains its line once and its thread the outcome once, whether the
bot died as Slack took the card's redraw or the thread reply."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from tests.kit.factories import add
from tests.kit.flows import (
    ALERTS,
    card_now,
    reclassify_from_card,
    settle,
    thread_reply,
    updated_card,
)
from tests.kit.servers import RedisProcess, SimulatorProcess
from tests.kit.slack import CHANNEL, BotProcess, Slack, StandinProcess, clean_slate, text_of

DECIDED = "Cloudflare reviewed the reclassification as NONE"


@pytest.fixture
def clean(standin: StandinProcess, simulator: SimulatorProcess, redis_server: RedisProcess) -> None:
    clean_slate(standin, redis_server.url)


def follower(simulator: SimulatorProcess, standin: StandinProcess, redis_url: str) -> BotProcess:
    """A bot that follows submissions in its alert poller's cycle; another replica takes over
    2 s after it died."""
    return BotProcess(
        simulator, standin, redis_url,
        ALERT_POLL_SECONDS="1", ALERT_CHANNEL=ALERTS, ALERT_LOCK_SECONDS="2",
    )  # fmt: skip


def replies(standin: StandinProcess, ts: str) -> list[dict[str, Any]]:
    return [
        m for m in standin.messages(CHANNEL) if m.get("thread_ts") == ts and DECIDED in text_of(m)
    ]


@pytest.mark.parametrize("died_in", ["chat.update", "chat.postMessage"])
def test_an_outcome_being_shown_as_the_bot_died_is_shown_once(
    died_in: str,
    clean: None,
    shared_simulator: SimulatorProcess,
    simulator: SimulatorProcess,
    standin: StandinProcess,
    redis_server: RedisProcess,
) -> None:
    postfix_id = f"CRASH{len(died_in):07d}x"
    subject = f"Crash newsletter {len(died_in)}"
    message_id = add(simulator, subject=subject, final_disposition="SPAM", postfix_id=postfix_id)
    first = follower(shared_simulator, standin, redis_server.url)
    try:
        slack = Slack(first, standin)
        card = reclassify_from_card(slack, message_id, subject)
        slack.command(f"lookup {message_id}")  # a second card of the message
        other = slack.card(lambda m: m["ts"] != card["ts"] and subject in text_of(m))
        standin.hook("POST", "hold", {"method": died_in})
        simulator.advance(180)  # decided: the follower shows it, and Slack holds its answer
        slack.wait(lambda: standin.hook("GET", "hold")["held"], f"Slack to hold a {died_in}")
        first.process.kill()  # SIGKILL: Slack has the call, the bot never heard so
        first.process.wait()
    finally:
        standin.hook("POST", "hold/release")
        first.stop()
    with follower(shared_simulator, standin, redis_server.url) as after:
        slack = Slack(after, standin)
        thread_reply(slack, card["ts"], DECIDED)
        updated_card(slack, other["ts"], DECIDED)
        updated_card(slack, card["ts"], DECIDED)
        settle(slack, simulator, 3)  # more cycles: nothing is said again
        assert len(replies(standin, card["ts"])) == 1, "the thread is told once"
        for ts in (card["ts"], other["ts"]):
            assert text_of(card_now(slack, ts)).count(DECIDED) == 1, "one line on each card"
        left = [k for k in redis.Redis.from_url(redis_server.url).keys("*submissions*")
                if b"lock" not in k]  # fmt: skip
        assert left == [], "nothing left to follow or to show"
