"""The shared rate limit (bot/store/ratelimit.py) against a real Redis: two budgets on separate
connection pools stand for two replicas. What the bot processes do with it end to end is in
tests/test_e2e_shared_limit.py."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.crc import key_slot

from bot.cloudflare.ratelimit import Limiter
from bot.store.ratelimit import EXECUTOR, PAUSE, SENT, SharedBudget
from tests.kit.servers import RedisProcess, eventually, free_port

LIMIT, PERIOD, MARGIN = 4, 0.5, 0.05


def connect(url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(url, socket_timeout=1, retry=Retry(NoBackoff(), 0))


@pytest.fixture
async def url(redis_server: RedisProcess) -> str:
    """Database 7 of the session's Redis, emptied: these tests' own."""
    address = f"{redis_server.url.rsplit('/', 1)[0]}/7"
    client = connect(address)
    await client.flushdb()
    await client.aclose()
    return address


@pytest.fixture
async def replicas(url: str) -> AsyncIterator[tuple[SharedBudget, SharedBudget]]:
    first, second = connect(url), connect(url)
    yield (
        SharedBudget(first, LIMIT, PERIOD, margin=MARGIN),
        SharedBudget(second, LIMIT, PERIOD, margin=MARGIN),
    )
    await first.aclose()
    await second.aclose()


async def granted(limiter: Limiter) -> None:
    """One grant, as the transport takes it (with an in-flight slot of its own)."""
    await granted_with(limiter, asyncio.Semaphore(20))


async def granted_with(limiter: Limiter, slots: asyncio.Semaphore) -> None:
    async with limiter.turn(slots):
        pass


def most_within(stamps: list[float], seconds: float) -> int:
    ordered = sorted(stamps)
    return max(sum(1 for t in ordered if first <= t < first + seconds) for first in ordered)


def test_every_key_is_in_one_cluster_slot() -> None:
    assert key_slot(SENT.encode()) == key_slot(EXECUTOR.encode()) == key_slot(PAUSE.encode())


async def test_two_replicas_share_one_window(replicas: tuple[SharedBudget, SharedBudget]) -> None:
    limiters = [budget.everyone() for budget in replicas]
    times: list[float] = []

    async def one(n: int) -> None:
        await granted(limiters[n % 2])
        times.append(time.monotonic())

    started = time.monotonic()
    await asyncio.gather(*(one(n) for n in range(3 * LIMIT)))
    assert most_within(times, PERIOD) == LIMIT, "full windows, never more than the limit"
    assert max(times) - started >= 2 * PERIOD, "the third window's grants waited two windows"
    assert max(times) - started < 2 * (PERIOD + MARGIN) + 0.3, "and no longer"


async def test_reservations_go_in_the_order_they_reached_redis(
    replicas: tuple[SharedBudget, SharedBudget],
) -> None:
    first, second = replicas
    waits = [await (first if n % 2 else second).reserve(f"call-{n}") for n in range(3 * LIMIT)]
    assert waits[:LIMIT] == [0.0] * LIMIT
    slots = [await first.redis.zscore(SENT, f"call-{n}") for n in range(3 * LIMIT)]
    assert slots == sorted(slots), "a later call never gets an earlier slot"
    # Each call past a full window gets the slot the window's oldest frees, period and margin
    # after it (Redis's clock, in microseconds); the wait is that slot less the time the calls
    # took to get there, which a busy machine stretches.
    window = PERIOD + MARGIN
    assert (slots[LIMIT] - slots[0]) / 1e6 == pytest.approx(window, abs=0.005)
    assert (slots[2 * LIMIT] - slots[LIMIT]) / 1e6 == pytest.approx(window, abs=0.005)
    assert 0 < waits[LIMIT] <= window and waits[LIMIT] < waits[2 * LIMIT] <= 2 * window


async def test_a_call_queued_for_an_in_flight_slot_is_counted_when_it_goes(
    replicas: tuple[SharedBudget, SharedBudget],
) -> None:
    budget = replicas[0]
    limiter, slots = budget.everyone(), asyncio.Semaphore(1)
    holding = asyncio.Event()

    async def slow() -> None:
        async with limiter.turn(slots):
            holding.set()
            await asyncio.sleep(0.3)  # the request in flight: the one slot is busy

    first = asyncio.create_task(slow())
    await holding.wait()
    await granted_with(limiter, slots)  # reserves at once, gets the slot 0.3 s later
    await first
    sent = sorted(score for _, score in await budget.redis.zrange(SENT, 0, -1, withscores=True))
    assert len(sent) == 2
    assert (sent[1] - sent[0]) / 1e6 >= 0.25, "counted when it went, not when it queued"


async def test_a_burst_of_calls_queues_for_redis_rather_than_falling_back(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = aioredis.Redis.from_url(url, max_connections=4)
    # A minute's window: on a slow machine the burst outlasts PERIOD, and the window would
    # drop its first grants before they are counted below.
    budget = SharedBudget(client, 10_000, 60.0, margin=MARGIN, calls=2)
    limiter, slots = budget.everyone(), asyncio.Semaphore(5)
    caplog.set_level(logging.INFO, logger="bot.ratelimit")
    await asyncio.gather(*(granted_with(limiter, slots) for _ in range(300)))
    assert not caplog.records, "no call found the pool full and fell back"
    assert await client.zcard(SENT) == 300
    await client.aclose()


async def test_a_pause_holds_the_other_replica_and_its_reservations(
    replicas: tuple[SharedBudget, SharedBudget],
) -> None:
    first, second = replicas
    for n in range(LIMIT):  # the window is full: the next call has a reservation to wait for
        await second.reserve(f"filler-{n}")
    waiting = asyncio.create_task(granted(second.everyone()))

    async def reserved() -> bool:
        return bool(await second.redis.zcard(SENT) > LIMIT)

    await eventually(reserved, 5, "the waiting call's reservation")  # made before the pause
    paused = time.monotonic()
    await first.everyone().pause(1.0)
    await waiting
    assert time.monotonic() - paused >= 1.0, "the reservation moved past the other's pause"
    started = time.monotonic()
    await granted(second.everyone())
    assert time.monotonic() - started < 0.5, "after the pause, calls go again"


async def test_the_executors_share_leaves_the_rest_free(
    replicas: tuple[SharedBudget, SharedBudget],
) -> None:
    first, second = replicas
    shares = [first.share(0.5), second.share(0.5)]
    started = time.monotonic()
    await asyncio.gather(*(granted(share) for share in shares))  # half the window: 2 of 4
    late = asyncio.create_task(granted(shares[0]))  # a third would pass the share: it waits
    for budget in (first, second):  # while the other half goes at once, on either replica
        await granted(budget.everyone())
    assert time.monotonic() - started < 0.3
    assert not late.done()
    await late
    assert time.monotonic() - started >= PERIOD, "the share came back when its first slot left"


async def test_the_share_takes_only_what_nobody_reserved(
    replicas: tuple[SharedBudget, SharedBudget],
) -> None:
    first, second = replicas
    for n in range(LIMIT):  # lookups fill the window
        await first.reserve(f"lookup-{n}")
    queued = await first.reserve("lookup-next")  # and reserve the next slot
    assert await second.take("bulk-0", 2) == pytest.approx(queued, abs=0.05), (
        "a reserved slot counts: the executor waits as long as the next lookup would"
    )


class LateRedis:
    """A port nothing listens on, where `start()` later starts a redis-server."""

    def __init__(self, directory: str) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.directory = directory

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--dir", self.directory],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    async def listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False


@pytest.fixture
def late_redis(tmp_path: Any) -> Iterator[LateRedis]:
    server = LateRedis(str(tmp_path))
    yield server
    if server.process is not None:
        server.process.terminate()
        server.process.wait(timeout=10)


async def test_redis_down_falls_back_logs_once_and_comes_back(
    late_redis: LateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    client = connect(f"redis://127.0.0.1:{late_redis.port}/0")
    budget = SharedBudget(client, LIMIT, PERIOD, margin=MARGIN, retry_seconds=0.2)
    limiter = budget.everyone()
    caplog.set_level(logging.INFO, logger="bot.ratelimit")
    began = time.monotonic()
    for _ in range(LIMIT + 1):  # the per-process limit: the fifth waits a window
        await granted(limiter)
    assert time.monotonic() - began >= PERIOD
    await limiter.pause(0.01)  # Redis is asked again (0.2 s have passed), and fails again
    fell_back = [r for r in caplog.records if "on its own" in r.getMessage()]
    assert len(fell_back) == 1 and fell_back[0].levelno == logging.WARNING
    late_redis.start()
    await eventually(late_redis.listening, 10, "redis-server")

    async def back() -> bool:
        await granted(limiter)  # through the fallback until the next look at Redis
        return any("answers again" in r.getMessage() for r in caplog.records)

    await eventually(back, 5, "the shared limit back")
    assert await client.zcard(SENT) >= 1, "the grants are shared again"
    await client.aclose()
