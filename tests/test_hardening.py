"""Hardening at the service level, against the simulator (real HTTP) and a real Redis: an
execution told to stop hands its lease back at a safe point; the API client gives up on a
hanging server with an error a person can act on; the repeat check says "first" exactly once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
import redis.asyncio as aioredis

from bot.cloudflare import UnavailableError
from bot.services.approvals import ApprovalRequest, ApprovalState, ApprovalStore, Executor
from bot.store import StoreUnavailable
from bot.store.once import Once
from tests.kit.approvals import approved, posted_release_ids, posts
from tests.kit.clients import api_client, executor_client
from tests.kit.factories import quarantined_messages
from tests.kit.servers import SimulatorProcess, eventually, free_port
from tests.kit.store import NO_RETRY, TEST_KEY


@pytest.fixture
def store(rdb: aioredis.Redis) -> ApprovalStore:
    return ApprovalStore(rdb, key=TEST_KEY)


async def test_stop_between_chunks_hands_the_lease_back_for_an_immediate_resume(
    store: ApprovalStore, simulator: SimulatorProcess, other_rdb: aioredis.Redis
) -> None:
    ids = simulator.add_messages(quarantined_messages(30, "Stop"))
    made = await approved(store, ids, chunk_size=10)
    stop = asyncio.Event()

    async def stop_after_first_chunk(_: ApprovalRequest) -> None:
        stop.set()  # SIGTERM arrives while chunk 1's result is being shown

    async with executor_client(simulator) as es:
        leaving = Executor(
            store, es, "replica-a", lease_seconds=30, on_progress=stop_after_first_chunk,
            progress_interval=0, stop=stop,
        )  # fmt: skip
        assert await leaving.run(made.id) is None, "handed back, not done"
    assert [r.index for r in await store.chunks(made.id)] == [0]
    other = ApprovalStore(other_rdb, key=TEST_KEY)
    # A 30 s lease, yet free at once: another replica resumes now, not after it lapses.
    assert await other.lease_holder(made.id) is None
    assert await other.stalled() == [made.id]
    async with executor_client(simulator) as es:
        stopping = Executor(other, es, "replica-b", stop=stop)
        assert await stopping.run(made.id) is None, "a stopping process takes no new work"
        assert await other.stalled() == [made.id]
        done = await Executor(other, es, "replica-b").run(made.id)
    assert done is not None and done.state == ApprovalState.DONE
    assert Counter(posted_release_ids(simulator)) == Counter(ids), "every id once"


async def test_stop_during_a_recheck_sends_nothing_of_that_chunk(
    store: ApprovalStore, simulator: SimulatorProcess, other_rdb: aioredis.Redis
) -> None:
    ids = simulator.add_messages(quarantined_messages(40, "Recheck"))
    made = await approved(store, ids, chunk_size=40)
    simulator.faults(latency_ms=200)  # 40 re-check GETs, 4 at a time: 2 s in all
    stop = asyncio.Event()
    async with executor_client(simulator) as es:
        leaving = Executor(
            store, es, "replica-a", lease_seconds=30, recheck_concurrency=4, stop=stop
        )
        running = asyncio.create_task(leaving.run(made.id))

        async def rechecking() -> bool:
            return any(r["method"] == "GET" for r in simulator.requests())

        await eventually(rechecking, 5, "the re-check to start")
        started = time.monotonic()
        stop.set()
        assert await asyncio.wait_for(running, 5) is None
        assert time.monotonic() - started < 1.0, "stopped mid re-check, not after it"
    assert posts(simulator) == [], "nothing of the chunk was sent"
    assert await store.chunks(made.id) == []
    assert await ApprovalStore(other_rdb, key=TEST_KEY).stalled() == [made.id], "lease handed back"
    simulator.faults(latency_ms=0)
    async with executor_client(simulator) as es:
        done = await Executor(ApprovalStore(other_rdb, key=TEST_KEY), es, "replica-b").run(made.id)
    assert done is not None and sorted(posted_release_ids(simulator)) == sorted(ids)


# -- timeouts ----------------------------------------------------------------------------------


async def test_a_hanging_api_times_out_with_an_actionable_error(
    simulator: SimulatorProcess,
) -> None:
    message_id = simulator.add_messages(quarantined_messages(1, "Hang"))[0]
    simulator.faults(latency_ms=3000)
    async with api_client(simulator.base_url, timeout=0.3) as es:
        started = time.monotonic()
        with pytest.raises(UnavailableError, match=r"no answer within 0\.3 s") as read:
            await es.get_message(message_id)
        assert time.monotonic() - started < 2.5, "4 tries of 0.3 s, not a hang"
        assert "try again in a minute" in str(read.value)

        started = time.monotonic()
        with pytest.raises(UnavailableError) as write:
            await es.release([message_id])
        assert time.monotonic() - started < 1.0, "a POST is tried once"
        assert "may or may not have been carried out" in str(write.value)
        assert "check the message's current state" in str(write.value)
    # Why the words matter: the server got the release and carries it out after all.
    landed = await eventually(
        lambda: asyncio.to_thread(lambda: posts(simulator)), 10, "the late release"
    )
    assert [c["body"] for c in landed] == [[message_id]]


# -- the repeat check --------------------------------------------------------------------------


async def test_once_is_first_exactly_once_across_replicas(
    rdb: aioredis.Redis, other_rdb: aioredis.Redis
) -> None:
    a, b = Once(rdb), Once(other_rdb)
    answers = await asyncio.gather(*(x.first("delivery-1", 60) for x in [a, b] * 10))
    assert answers.count(True) == 1
    assert 0 < await rdb.ttl("once:delivery-1") <= 60
    await a.forget("delivery-1")
    assert await b.first("delivery-1", 60) is True


async def test_once_fails_fast_when_redis_is_gone() -> None:
    dead = aioredis.Redis(port=free_port(), socket_connect_timeout=0.5, retry=NO_RETRY)
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="REDIS_URL"):
            await Once(dead, timeout=0.5).first("delivery-2", 60)
        assert time.monotonic() - started < 1.0
    finally:
        await dead.aclose()
