"""End to end: reclassify submissions from Slack (issue 16, item 4). `/email submissions` lists
the account's submissions 10 a page with More (the verdict asked for and the original one,
status, outcome), filtered by `since:` and `status:`; after a reclassify from a card, the
card's thread and every card of that message get the outcome once Cloudflare decides it
(followed in the alert poller's cycle, exactly once across replicas; followed from Redis, so a
restart keeps following; without alerts, on its own loop)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis

from tests.kit.factories import add
from tests.kit.flows import ALERTS, reclassify_from_card, settle, thread_reply, updated_card
from tests.kit.servers import ACCOUNT_ID, API_TOKEN, RedisProcess, SimulatorProcess
from tests.kit.slack import (
    CHANNEL,
    OPERATOR,
    VIEWER,
    BotProcess,
    Slack,
    StandinProcess,
    clean_slate,
    text_of,
)

DECIDED = "Cloudflare reviewed the reclassification as NONE"


def submissions_api(simulator: SimulatorProcess, **params: Any) -> dict[str, Any]:
    url = f"{simulator.base_url}/accounts/{ACCOUNT_ID}/email-security/submissions"
    answer = httpx.get(url, params=params, headers={"Authorization": f"Bearer {API_TOKEN}"})
    answer.raise_for_status()
    return dict(answer.json())


def test_the_list_pages_and_filters(slack: Slack, simulator: SimulatorProcess) -> None:
    start = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    expected = submissions_api(simulator, start=start, per_page=10)
    total = expected["result_info"]["total_count"]
    assert total > 10, "the sample has more than a page in 30 days"
    slack.command("submissions since:30d", user=VIEWER)
    first = slack.private(VIEWER, f"{total} submissions")
    text = text_of(first)
    assert "in the last 30 days · showing 1-10" in text
    for submission in expected["result"]:
        assert submission["submission_id"] in text
    newest = expected["result"][0]
    asked = f"asked {newest['requested_disposition']}"
    assert asked in text and f"{newest.get('original_disposition', '?')} → " in text
    slack.click(first, "submissions_more", user=VIEWER)
    second = text_of(slack.private(VIEWER, "showing 11-"))
    for submission in submissions_api(simulator, start=start, per_page=10, page=2)["result"]:
        assert submission["submission_id"] in second, "More shows the next page"
    slack.command("submissions since:30d status:completed", user=VIEWER)
    done = text_of(slack.private(VIEWER, "30 days, completed"))
    assert "· pending" not in done and "· completed:" in done


def test_bad_input_gets_the_usage(slack: Slack) -> None:
    slack.command("submissions since:forever")
    said = text_of(slack.private(OPERATOR, "takes a duration"))
    assert "Usage: `/email submissions [since:7d]" in said
    slack.command("submissions status:lost")
    slack.private(OPERATOR, "`status:` is one of pending, escalated, completed")


def follower(
    simulator: SimulatorProcess, standin: StandinProcess, redis_url: str, alerts: bool
) -> BotProcess:
    env = {"ALERT_POLL_SECONDS": "1"} | ({"ALERT_CHANNEL": ALERTS} if alerts else {})
    return BotProcess(simulator, standin, redis_url, **env)


@pytest.fixture
def clean(standin: StandinProcess, simulator: SimulatorProcess, redis_server: RedisProcess) -> None:
    clean_slate(standin, redis_server.url)


def the_outcome(simulator: SimulatorProcess, postfix_id: str) -> str:
    [found] = submissions_api(simulator, query=postfix_id, type="TEAM")["result"]
    return str(found["outcome"])


def test_the_outcome_comes_to_every_card_once_across_replicas(
    clean: None,
    shared_simulator: SimulatorProcess,
    simulator: SimulatorProcess,
    standin: StandinProcess,
    redis_server: RedisProcess,
) -> None:
    with (
        follower(shared_simulator, standin, redis_server.url, alerts=True) as first,
        follower(shared_simulator, standin, redis_server.url, alerts=True),
    ):
        slack = Slack(first, standin)
        message_id = add(simulator, subject="Vendor newsletter", final_disposition="SPAM",
                         postfix_id="FOLLOW000001x")  # fmt: skip
        card = reclassify_from_card(slack, message_id, "Vendor newsletter")
        slack.command(f"lookup {message_id}")  # a second card of the message
        other = slack.card(lambda m: m["ts"] != card["ts"] and "Vendor newsletter" in text_of(m))
        settle(slack, simulator, 2)  # followed, not decided yet: nothing said
        assert DECIDED not in str(standin.messages(CHANNEL))
        simulator.advance(180)  # past the simulator's review time
        outcome = the_outcome(simulator, "FOLLOW000001x")
        line = thread_reply(slack, card["ts"], DECIDED)
        assert f"{DECIDED}: {outcome}" in text_of(line)
        assert f"asked by <@{OPERATOR}>" in text_of(line)
        updated_card(slack, card["ts"], DECIDED)
        updated_card(slack, other["ts"], DECIDED)
        settle(slack, simulator, 3)  # both replicas had their turns
        told = [m for m in standin.messages(CHANNEL) if DECIDED in text_of(m)
                and m.get("thread_ts") == card["ts"]]  # fmt: skip
        assert len(told) == 1, "said once in the card's thread"
        redis_keys = [k for k in _keys(redis_server) if b"submissions" in k]
        assert redis_keys == [], "nothing left to follow or to show"


def _keys(redis_server: RedisProcess) -> list[bytes]:
    return list(redis.Redis.from_url(redis_server.url).keys("*"))


def test_a_restart_keeps_following_without_alerts(
    clean: None,
    shared_simulator: SimulatorProcess,
    simulator: SimulatorProcess,
    standin: StandinProcess,
    redis_server: RedisProcess,
) -> None:
    message_id = add(simulator, subject="Partner invoice", final_disposition="SPAM",
                     postfix_id="FOLLOW000002x")  # fmt: skip
    with follower(shared_simulator, standin, redis_server.url, alerts=False) as before:
        card = reclassify_from_card(Slack(before, standin), message_id, "Partner invoice")
    simulator.advance(180)  # decided while no bot runs
    with follower(shared_simulator, standin, redis_server.url, alerts=False) as after:
        slack = Slack(after, standin)
        line = thread_reply(slack, card["ts"], DECIDED)
        assert the_outcome(simulator, "FOLLOW000002x") in text_of(line)
        updated_card(slack, card["ts"], DECIDED)
