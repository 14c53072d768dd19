"""End to end: one Cloudflare budget for every replica sharing a Redis (issue 15, item 3).

`CLOUDFLARE_RATE_LIMIT` holds across bot processes (the simulator's request log, microsecond
timestamps, never shows more in any window); a 429's Retry-After pauses the other replica too;
with Redis down each replica keeps the limit on its own and says so once; an approved bulk
execution takes at most its share, so a lookup made meanwhile is served at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import redis

from tests.kit.factories import add
from tests.kit.flows import release_all_card
from tests.kit.servers import RedisProcess, SimulatorProcess, free_port, wait_until
from tests.kit.slack import APPROVER, BotProcess, Slack, StandinProcess, text_of

PAIR_LIMIT, PAIR_PERIOD = 9, 1.0  # three lookups (three GETs each) per second, for both
FALLBACK = "keeps CLOUDFLARE_RATE_LIMIT on its own"  # the bot's log line while Redis is down


def at(request: dict[str, Any]) -> float:
    return datetime.fromisoformat(request["at"]).timestamp()


def most_in_any_window(requests: list[dict[str, Any]], seconds: float) -> int:
    """The most requests the simulator received within any `seconds` (its own sliding rule)."""
    stamps = sorted(at(r) for r in requests)
    best, start = 0, 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] >= seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


def database(redis_server: RedisProcess, number: int) -> str:
    """A database of the session's Redis of these bots alone, emptied."""
    url = f"{redis_server.url.rsplit('/', 1)[0]}/{number}"
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture(scope="module")
def pair(
    shared_simulator: SimulatorProcess, standin: StandinProcess, redis_server: RedisProcess
) -> Iterator[tuple[BotProcess, BotProcess]]:
    """Two replicas sharing one Redis database, CLOUDFLARE_RATE_LIMIT 9/1 each."""
    url = database(redis_server, 5)
    limit = f"{PAIR_LIMIT}/{PAIR_PERIOD:g}"
    with (
        BotProcess(shared_simulator, standin, url, CLOUDFLARE_RATE_LIMIT=limit) as first,
        BotProcess(shared_simulator, standin, url, CLOUDFLARE_RATE_LIMIT=limit) as second,
    ):
        # Their start-up checks call the API in the background once /healthz answers; one
        # counted in the budget before a test empties it, and reaching the simulator after
        # the test's reset, would be one more request than the budget knows of.
        for bot in (first, second):
            bot.wait_ready()
        yield first, second


@pytest.fixture
def fresh_pair(
    pair: tuple[BotProcess, BotProcess],
    standin: StandinProcess,
    simulator: SimulatorProcess,
    redis_server: RedisProcess,
) -> tuple[BotProcess, BotProcess]:
    """The pair with an empty Slack and Redis (the budget starts unspent)."""
    standin.hook("POST", "reset")
    database(redis_server, 5)
    return pair


def test_two_replicas_keep_one_budget(
    fresh_pair: tuple[BotProcess, BotProcess], standin: StandinProcess, simulator: SimulatorProcess
) -> None:
    ids = [add(simulator, subject=f"Shared budget {n}") for n in range(4)]
    for n, message_id in enumerate(ids):  # two lookups each: 12 GETs, more than one second's 9
        Slack(fresh_pair[n % 2], standin).command(f"lookup {message_id}")
    driver = Slack(fresh_pair[0], standin)
    for n in range(4):
        driver.card(lambda m, n=n: f"Shared budget {n}" in text_of(m))
    requests = simulator.requests()  # the lookups' and perhaps the start-up checks'
    lookups = [r for r in requests if any(i in r["path"] for i in ids)]
    assert len(lookups) == 12 and all(r["status"] == 200 for r in requests)
    assert most_in_any_window(requests, PAIR_PERIOD) <= PAIR_LIMIT, (
        "the two replicas together kept CLOUDFLARE_RATE_LIMIT"
    )


def test_a_429_pauses_the_other_replica(
    fresh_pair: tuple[BotProcess, BotProcess], standin: StandinProcess, simulator: SimulatorProcess
) -> None:
    first, second = fresh_pair
    refused_id = add(simulator, subject="Refused once")
    other_id = add(simulator, subject="Asked elsewhere")
    simulator.faults(
        fail_next=[{"status": 429, "method": "GET", "path_contains": refused_id, "retry_after": 1}]
    )
    seen = len(first.log())
    Slack(first, standin).command(f"lookup {refused_id}")
    wait_until(lambda: "rate limited on" in first.log()[seen:], 10, "the first replica's 429")
    Slack(second, standin).command(f"lookup {other_id}")
    driver = Slack(second, standin)
    driver.card(lambda m: "Asked elsewhere" in text_of(m))
    driver.card(lambda m: "Refused once" in text_of(m))
    requests = simulator.requests()
    refused = next(r for r in requests if r["status"] == 429)
    elsewhere = [at(r) for r in requests if other_id in r["path"]]
    assert elsewhere and min(elsewhere) >= at(refused) + 1.0, (
        "the other replica waited out the Retry-After (1 s) too: "
        f"its first request came {min(elsewhere) - at(refused):.3f} s after the 429"
    )


def test_redis_down_each_replica_keeps_the_limit_alone_and_says_so_once(
    shared_simulator: SimulatorProcess, standin: StandinProcess, simulator: SimulatorProcess
) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    with BotProcess(shared_simulator, standin, nowhere, CLOUDFLARE_RATE_LIMIT="6/1") as bot:
        standin.hook("POST", "reset")
        slack = Slack(bot, standin)
        ids = [add(simulator, subject=f"Without Redis {n}") for n in range(3)]
        for message_id in ids:  # nine GETs (and the start-up check's one): past one second's 6
            slack.command(f"lookup {message_id}")
        for n in range(3):
            slack.card(lambda m, n=n: f"Without Redis {n}" in text_of(m))
        requests = simulator.requests()
        assert len(requests) >= 9 and all(r["status"] == 200 for r in requests)
        assert most_in_any_window(requests, 1.0) <= 6, "the per-process limit held"
        assert bot.log().count(FALLBACK) == 1, "the fallback is logged once, not per call"


def test_a_lookup_during_a_bulk_execution_is_served_within_its_share(
    shared_simulator: SimulatorProcess,
    standin: StandinProcess,
    simulator: SimulatorProcess,
    redis_server: RedisProcess,
) -> None:
    url = database(redis_server, 6)
    # Re-checked one GET per id, so that the executor wants far more than its share.
    env = {
        "CLOUDFLARE_RATE_LIMIT": "40/30", "CLOUDFLARE_EXECUTOR_SHARE": "0.25",
        "BOT_RECHECK_BY_SEARCH": "false",
    }  # fmt: skip
    with BotProcess(shared_simulator, standin, url, **env) as bot:
        standin.hook("POST", "reset")
        slack = Slack(bot, standin)
        card, ids = release_all_card(slack, simulator, 100, "ShareBulk")
        asked = add(simulator, subject="Asked mid-bulk")
        bulk = set(ids)
        before = len(simulator.requests())

        def rechecks() -> list[dict[str, Any]]:
            return [
                r for r in simulator.requests()[before:]
                if r["method"] == "GET" and r["path"].rsplit("/", 1)[-1] in bulk
            ]  # fmt: skip

        slack.click(card, "approval_approve", user=APPROVER)
        wait_until(lambda: len(rechecks()) >= 10, 10, "the executor's first re-checks")
        sent = time.time()
        slack.command(f"lookup {asked}")
        slack.card(lambda m: "Asked mid-bulk" in text_of(m))
        served = max(at(r) for r in simulator.requests() if asked in r["path"])
        assert served - sent < 2.0, f"the lookup waited {served - sent:.2f} s behind the bulk"
        assert len(rechecks()) == 10, "the executor took its share (40 x 0.25) and no more"
