"""End to end: past BOT_MAX_IN_PROGRESS requests, people are told "busy" at once and nothing
is done; once work finishes, requests are taken again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from handlers.replies import BUSY
from tests.kit.factories import add
from tests.kit.servers import RedisProcess, SimulatorProcess, wait_until
from tests.kit.slack import OPERATOR, BotProcess, Slack, StandinProcess, text_of

LIMIT = 2


@pytest.fixture
def small_bot(
    shared_simulator: SimulatorProcess, standin: StandinProcess, redis_server: RedisProcess
) -> Iterator[BotProcess]:
    process = BotProcess(
        shared_simulator, standin, redis_server.url, BOT_MAX_IN_PROGRESS=str(LIMIT)
    )
    yield process
    process.stop()


def test_a_full_bot_says_busy_in_the_ack_and_recovers(
    small_bot: BotProcess, standin: StandinProcess, simulator: SimulatorProcess
) -> None:
    slack = Slack(small_bot, standin)
    standin.hook("POST", "reset")
    ids = [add(simulator, subject=f"Gate {n}") for n in range(LIMIT + 1)]
    simulator.faults(latency_ms=1500)
    mark = small_bot.log_size()
    for message_id in ids[:LIMIT]:  # each waits 1.5 s on Cloudflare, holding a slot
        assert slack.command(f"lookup {message_id}").status_code == 200
    busy = slack.command(f"lookup {ids[LIMIT]}")
    assert busy.status_code == 200
    answer = busy.json()
    assert answer["response_type"] == "ephemeral" and answer["text"] == BUSY
    for n in range(LIMIT):
        slack.card(lambda m, n=n: f"Gate {n}" in str(m))
    requests = simulator.requests()
    assert any(ids[0] in str(r) for r in requests), "admitted lookups reach the API"
    assert not any(ids[LIMIT] in str(r) for r in requests), "the refused lookup did nothing"
    # A card is posted a moment before its request gives its slot back.
    wait_until(
        lambda: small_bot.log(mark).count('"kind": "command:lookup", "outcome": "ok"') == LIMIT,
        10, "the admitted lookups to finish",
    )  # fmt: skip
    simulator.faults(latency_ms=0)
    slack.command(f"lookup {ids[LIMIT]}")
    slack.card(lambda m: f"Gate {LIMIT}" in str(m))
    assert not any(BUSY in str(m) for m in standin.messages()), "busy went in the ack only"


def test_a_click_on_a_full_bot_is_told_busy_privately(
    small_bot: BotProcess, standin: StandinProcess, simulator: SimulatorProcess
) -> None:
    slack = Slack(small_bot, standin)
    standin.hook("POST", "reset")
    ids = [add(simulator, subject=f"Click gate {n}") for n in range(LIMIT + 1)]
    slack.command(f"lookup {ids[LIMIT]}")
    card = slack.card(lambda m: f"Click gate {LIMIT}" in str(m))
    simulator.faults(latency_ms=1500)
    for message_id in ids[:LIMIT]:
        slack.command(f"lookup {message_id}")
    traced = len([r for r in simulator.requests() if "/trace" in str(r)])
    slack.click(card, "msg_trace")
    told = slack.private(OPERATOR, "busy")
    assert BUSY in text_of(told)
    for n in range(LIMIT):
        slack.card(lambda m, n=n: f"Click gate {n}" in str(m))
    assert len([r for r in simulator.requests() if "/trace" in str(r)]) == traced
