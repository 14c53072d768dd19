"""Executor against the simulator (real HTTP) and a real Redis: chunks, re-checks, failures,
crash and resume without repeating or losing a chunk, leases."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.models import ReleaseResult
from bot.services.approvals import (
    TAMPERED_ERROR,
    ApprovalRequest,
    ApprovalState,
    ApprovalStore,
    ChunkResult,
    Executor,
    report,
)
from bot.services.approvals.end_audit import audit_end, end_entry
from bot.services.approvals.endings import UNANNOUNCED_KEY, audited_key
from bot.services.approvals.scripts import record_key
from bot.services.audit import AuditLog
from bot.store import StoreUnavailable
from tests.kit.approvals import (
    approved,
    attacker_digest,
    batch,
    batch_search,
    posted_release_ids,
    posts,
)
from tests.kit.clients import executor_client
from tests.kit.factories import quarantined_messages
from tests.kit.servers import SimulatorProcess, eventually, free_port
from tests.kit.store import NO_RETRY, TEST_KEY

UNKNOWN_ID = "Unknown000000-2026-01-01T00:00:00-00000000"
ONE_MESSAGE = re.compile(r"/investigate/([^/]+)$")


def single_gets(simulator: SimulatorProcess, after: int = 0) -> list[str]:
    """The ids fetched one by one (GET …/investigate/<id>) after the `after`-th request."""
    found = [
        ONE_MESSAGE.search(r["path"]) for r in simulator.requests()[after:] if r["method"] == "GET"
    ]
    return [m.group(1) for m in found if m is not None]


def searches(simulator: SimulatorProcess, after: int = 0) -> list[dict[str, Any]]:
    return [
        r for r in simulator.requests()[after:]
        if r["method"] == "GET" and r["path"].endswith("/investigate")
    ]  # fmt: skip


@pytest.fixture
def store(rdb: aioredis.Redis) -> ApprovalStore:
    return ApprovalStore(rdb, key=TEST_KEY)


@pytest.fixture
async def client(simulator: SimulatorProcess) -> AsyncIterator[EmailSecurityClient]:
    async with executor_client(simulator) as es:
        yield es


async def sweep(store: ApprovalStore, executor: Executor) -> list[ApprovalRequest]:
    """What production's sweeper does (handlers/approvals.py `sweep`): run every executing
    request nobody holds. Returns the requests this sweep finished."""
    done = []
    for request_id in await store.stalled():
        finished = await executor.run(request_id)
        if finished is not None:
            done.append(finished)
    return done


# -- the happy path ----------------------------------------------------------------------------


async def test_release_2500_in_three_chunks_each_id_once(
    store: ApprovalStore,
    client: EmailSecurityClient,
    simulator: SimulatorProcess,
    rdb: aioredis.Redis,
) -> None:
    ids = simulator.add_messages(quarantined_messages(2500, "Bulk"))
    made = await approved(store, ids)
    seen: list[ApprovalRequest] = []

    async def progress(request: ApprovalRequest) -> None:
        seen.append(request)

    audit = AuditLog(rdb, TEST_KEY)
    executor = Executor(
        store, client, "replica-a", recheck_concurrency=20, on_progress=progress, audit=audit
    )
    started = time.monotonic()
    done = await executor.run(made.id)
    elapsed = time.monotonic() - started
    assert done is not None and done.state == ApprovalState.DONE and done.chunks_done == 3
    assert [len(c["body"]) for c in posts(simulator)] == [1000, 1000, 500]
    sent = posted_release_ids(simulator)
    assert sorted(sent) == sorted(ids) and len(set(sent)) == len(sent), "each id exactly once"
    results = await store.chunks(made.id)
    assert [len(r.delivered) for r in results] == [1000, 1000, 500]
    assert [r.acted for r in results] == [made.chunk_ids(n) for n in range(3)]
    totals = report(results)
    assert (totals.succeeded, totals.skipped, totals.failed, totals.errors) == (2500, 0, [], [])
    # Progress: at most once a second, while it runs; the end is owed to the caller's
    # announcement (announcing.py) from the step that finished the run.
    assert all(r.state == ApprovalState.EXECUTING for r in seen)
    assert len(seen) <= int(elapsed)
    assert await rdb.zscore(UNANNOUNCED_KEY, made.id) is not None
    assert await store.stalled() == [] and await store.lease_holder(made.id) is None
    assert [(e.action, e.outcome) for e in await audit.recent(request_id=made.id)] == [
        ("execute release", "started")
    ], "the result entry is left to the announcement"
    # The announcement's (end_audit.py): written once, however often it is redone, even when
    # its writer died before marking it written.
    entry = end_entry(done, None, results)
    for redo in (False, True):
        await audit_end(audit, store.endings, done, entry, redo=redo)
    await rdb.delete(audited_key(made.id))
    await audit_end(audit, store.endings, done, entry, redo=True)
    entries = await audit.recent(request_id=made.id)
    assert [(e.action, e.outcome) for e in entries] == [
        ("result release", "done"),
        ("execute release", "started"),
    ]
    assert entries[0].detail == {
        "acted": 2500, "succeeded": 2500, "skipped": 0, "not_found": 0, "failed": 0,
        "undelivered": 0, "failed_ids": [], "errors": [],
    }  # fmt: skip
    assert entries[0].count == 2500 and len(entries[0].ids) == 100
    assert await executor.run(made.id) is None, "a finished request never runs again"
    assert len(posts(simulator)) == 3


async def test_already_released_and_unknown_are_skipped_and_reported(
    store: ApprovalStore, client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    ids = simulator.add_messages(quarantined_messages(30, "Skip"))
    await client.release(ids[:10])  # someone released these meanwhile
    made = await approved(store, [*ids, UNKNOWN_ID], chunk_size=20)
    done = await Executor(store, client, "a").run(made.id)
    assert done is not None and done.state == ApprovalState.DONE
    results = await store.chunks(made.id)
    totals = report(results)
    assert totals.skipped == 11 and totals.not_found == 1 and totals.succeeded == 20
    assert sorted(i for r in results for i in r.skipped) == sorted([*ids[:10], UNKNOWN_ID])
    assert [i for r in results for i in r.not_found] == [UNKNOWN_ID]
    assert sorted(posted_release_ids(simulator)) == sorted(ids), (
        "the first 10 by hand, the rest once"
    )


async def test_a_failed_chunk_is_reported_and_the_others_run(
    store: ApprovalStore, client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    ids = simulator.add_messages(quarantined_messages(30, "Fail"))
    made = await approved(store, ids, chunk_size=10)
    simulator.faults(fail_next=[{"status": 503, "count": 1, "method": "POST"}])
    done = await Executor(store, client, "a").run(made.id)
    assert done is not None and done.state == ApprovalState.DONE
    first, second, third = await store.chunks(made.id)
    assert first.error and "503" in first.error
    assert first.failed == made.chunk_ids(0) and first.delivered == []
    assert second.error is None and second.delivered == made.chunk_ids(1)
    assert third.error is None and third.delivered == made.chunk_ids(2)
    calls = posts(simulator)
    assert [c["status"] for c in calls] == [503, 200, 200], "a POST is never retried blindly"
    accepted = [i for c in calls if c["status"] == 200 for i in c["body"]]
    assert sorted(accepted) == sorted(made.chunk_ids(1) + made.chunk_ids(2))
    assert report(await store.chunks(made.id)).errors[0].startswith("chunk 1: ")


async def test_move_skips_gone_and_already_moved(
    store: ApprovalStore, client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    ids = simulator.add_messages(quarantined_messages(25, "Move"))
    await client.move(ids[:3], "JunkEmail")  # already where the request sends them
    await client.move(ids[3:5], "DeletedItems")  # elsewhere: still to move
    made = await approved(
        store, [*ids, UNKNOWN_ID], action="move", params={"folder": "JunkEmail"}, chunk_size=10
    )
    done = await Executor(store, client, "a").run(made.id)
    assert done is not None and done.state == ApprovalState.DONE
    results = await store.chunks(made.id)
    assert sorted(i for r in results for i in r.skipped) == sorted([*ids[:3], UNKNOWN_ID])
    assert report(results).succeeded == 22 and report(results).failed == []
    bodies = [c["body"] for c in posts(simulator, "/investigate/move")][2:]  # after the setup
    moved = [i for b in bodies for i in b["ids"]]
    assert sorted(moved) == sorted(ids[3:]) and {b["destination"] for b in bodies} == {"JunkEmail"}


async def test_tampered_request_executes_nothing(
    store: ApprovalStore,
    client: EmailSecurityClient,
    simulator: SimulatorProcess,
    rdb: aioredis.Redis,
) -> None:
    ids = simulator.add_messages(quarantined_messages(5, "Tamper"))
    made = await approved(store, ids)
    await rdb.hset(record_key(made.id), "ids", f'["{ids[0]}"]')  # after approval
    done = await Executor(store, client, "a").run(made.id)
    assert done is not None and done.state == ApprovalState.DONE
    [result] = await store.chunks(made.id)
    assert result.error == TAMPERED_ERROR and result.acted == []
    assert posts(simulator) == []


async def test_request_rewritten_with_a_recomputed_unkeyed_digest_executes_nothing(
    store: ApprovalStore,
    client: EmailSecurityClient,
    simulator: SimulatorProcess,
    rdb: aioredis.Redis,
) -> None:
    """After approval, a Redis writer without the key swaps the ids and recomputes the digest
    as plain sha256: every chunk is marked failed as tampered, nothing is sent."""
    ids = simulator.add_messages(quarantined_messages(4, "Keyed"))
    made = await approved(store, ids[:2])
    swapped = sorted(ids[2:])
    await rdb.hset(
        record_key(made.id),
        mapping={"ids": json.dumps(swapped), "digest": attacker_digest("release", {}, swapped)},
    )
    done = await Executor(store, client, "a").run(made.id)
    assert done is not None and done.state == ApprovalState.DONE
    [result] = await store.chunks(made.id)
    assert result.error == TAMPERED_ERROR and result.acted == [] and result.failed == swapped
    assert posts(simulator) == []


# -- the re-check by search --------------------------------------------------------------------


async def test_a_request_from_a_search_is_rechecked_with_it_and_only_leavers_are_fetched(
    store: ApprovalStore,
    client: EmailSecurityClient,
    simulator: SimulatorProcess,
    rdb: aioredis.Redis,
) -> None:
    """Still matching: decided from the search pages (quarantined: released; released
    meanwhile: skipped), no GET. Left the search: one GET each (released, skipped, or not
    found)."""
    ids = batch(simulator, 2100, "Recheck")
    made = await approved(store, [*ids, UNKNOWN_ID], search=batch_search("Recheck"))
    await client.release(ids[:5])  # released meanwhile, still matching
    left = ids[5:8]  # no longer matching (still quarantined)
    simulator.add_messages([{"id": i, "subject": "Renamed", "is_quarantined": True} for i in left])
    mark = len(simulator.requests())
    done = await Executor(store, client, "a").run(made.id)
    assert done is not None and done.state == ApprovalState.DONE and done.chunks_done == 3
    assert sorted(single_gets(simulator, mark)) == sorted([*left, UNKNOWN_ID])
    pages = searches(simulator, mark)
    assert len(pages) == 3 and {p["query"]["per_page"] for p in pages} == {"1000"}
    assert {(p["query"]["start"], p["query"]["end"]) for p in pages} == {
        (made.search.filters["start"], made.search.filters["end"])  # type: ignore[union-attr]
    }, "the window frozen when the request was made"
    results = await store.chunks(made.id)
    totals = report(results)
    assert sorted(i for r in results for i in r.skipped) == sorted([*ids[:5], UNKNOWN_ID])
    assert [i for r in results for i in r.not_found] == [UNKNOWN_ID]
    assert totals.succeeded == 2095 and totals.failed == [] and totals.errors == []
    sent = posted_release_ids(simulator)[5:]  # after the five released by hand
    assert sorted(sent) == sorted(ids[5:]) and len(sent) == len(set(sent))
    assert len(simulator.requests()) - mark == 3 + 4 + 3, "3 pages, 4 GETs, 3 POSTs"


async def test_a_move_from_a_search_fetches_only_messages_moved_before(
    store: ApprovalStore, client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    """A move's search result says whether the message was ever moved; only those are fetched
    (with their action log, which says where to): already in the folder, skipped; elsewhere,
    moved. The others are moved without a GET."""
    ids = batch(simulator, 25, "MoveSearch")
    await client.move(ids[:3], "JunkEmail")  # already where the request sends them
    await client.move(ids[3:5], "DeletedItems")  # elsewhere: still to move
    made = await approved(
        store, ids, action="move", params={"folder": "JunkEmail"}, chunk_size=10,
        search=batch_search("MoveSearch"),
    )  # fmt: skip
    mark = len(simulator.requests())
    done = await Executor(store, client, "a").run(made.id)
    assert done is not None and done.state == ApprovalState.DONE
    assert sorted(single_gets(simulator, mark)) == sorted(ids[:5])
    logs = [r for r in simulator.requests()[mark:] if r["path"].endswith("/action_log")]
    assert len(logs) == 5
    results = await store.chunks(made.id)
    assert sorted(i for r in results for i in r.skipped) == sorted(ids[:3])
    bodies = [c["body"] for c in posts(simulator, "/investigate/move")][2:]  # after the setup
    assert sorted(i for b in bodies for i in b["ids"]) == sorted(ids[3:])


async def test_without_the_search_recheck_every_id_is_fetched(
    store: ApprovalStore, client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    """BOT_RECHECK_BY_SEARCH=false, or a request with no search (ids typed or ticked): one GET
    per id, as before."""
    ids = batch(simulator, 40, "NoSearch")
    typed = await approved(store, ids[:20])
    from_search = await approved(store, ids[20:], search=batch_search("NoSearch"))
    mark = len(simulator.requests())
    assert await Executor(store, client, "a").run(typed.id) is not None
    assert sorted(single_gets(simulator, mark)) == sorted(ids[:20])
    mark = len(simulator.requests())
    assert await Executor(store, client, "a", by_search=False).run(from_search.id) is not None
    assert sorted(single_gets(simulator, mark)) == sorted(ids[20:])
    assert searches(simulator, mark) == []
    assert sorted(posted_release_ids(simulator)) == sorted(ids)


async def test_a_search_older_than_its_max_age_is_run_again_before_a_chunk(
    store: ApprovalStore, client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    """What the search said is trusted for `search_max_age` seconds: past it, the next chunk
    asks again (for the ids from that chunk on), so a slow run never acts on an old answer. The
    ids still to do are found wherever they are among the request's results: chunks follow the
    sorted ids (here the oldest messages last), the search its own order (newest first)."""
    ids = batch(simulator, 2100, "Aging")
    made = await approved(store, ids, search=batch_search("Aging"))
    mark = len(simulator.requests())
    fresh = Executor(store, client, "a", search_max_age=0)
    done = await fresh.run(made.id)
    assert done is not None and done.state == ApprovalState.DONE
    assert len(searches(simulator, mark)) == 3 * 3, "the search's three pages before each chunk"
    assert single_gets(simulator, mark) == []
    assert sorted(posted_release_ids(simulator)) == sorted(ids)


async def test_a_search_that_fails_sends_nothing_of_what_it_did_not_answer(
    store: ApprovalStore, client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    """The search answers an error (after the client's retries): the ids it did not answer are
    reported as not re-checked and never sent; the next chunk asks again."""
    ids = batch(simulator, 20, "Broken")
    made = await approved(store, ids, chunk_size=10, search=batch_search("Broken"))
    simulator.faults(fail_next=[{"status": 400, "count": 1, "method": "GET"}])
    done = await Executor(store, client, "a").run(made.id)
    assert done is not None and done.state == ApprovalState.DONE
    first, second = await store.chunks(made.id)
    assert first.acted == [] and first.failed == made.chunk_ids(0)
    assert first.error is not None and "could not be re-checked" in first.error
    assert second.error is None and second.delivered == made.chunk_ids(1)
    assert posted_release_ids(simulator) == made.chunk_ids(1)


# -- crashes, leases ---------------------------------------------------------------------------


class StallingClient(EmailSecurityClient):
    """Hangs forever in the `stall_on`-th release call, after (or before) its POST went out:
    the moment a process is killed."""

    def __init__(self, *args: Any, stall_on: int, after_post: bool, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.stall_on = stall_on
        self.after_post = after_post
        self.releases = 0
        self.stalled = asyncio.Event()
        self.resume = asyncio.Event()

    async def release(self, ids: Sequence[str], **kw: Any) -> list[ReleaseResult]:
        self.releases += 1
        if self.releases != self.stall_on:
            return await super().release(ids, **kw)
        results = await super().release(ids, **kw) if self.after_post else []
        self.stalled.set()
        await self.resume.wait()
        return results if self.after_post else await super().release(ids, **kw)


@pytest.mark.parametrize("after_post", [True, False], ids=["post-sent", "post-not-sent"])
async def test_crash_mid_chunk_resumes_without_repeating_or_losing(
    after_post: bool,
    store: ApprovalStore,
    simulator: SimulatorProcess,
    other_rdb: aioredis.Redis,
) -> None:
    ids = simulator.add_messages(quarantined_messages(250, "Crash"))
    made = await approved(store, ids, chunk_size=100)
    async with executor_client(simulator, StallingClient, stall_on=2, after_post=after_post) as es:
        first = Executor(store, es, "replica-a", lease_seconds=1)
        task = asyncio.create_task(first.run(made.id))
        await asyncio.wait_for(es.stalled.wait(), 10)
        # Chunk 1's result is stored; chunk 2 is in flight, its result not stored.
        assert [r.index for r in await store.chunks(made.id)] == [0]
        other = ApprovalStore(other_rdb, key=TEST_KEY)  # another replica
        second_client = executor_client(simulator)
        second = Executor(other, second_client, "replica-b", lease_seconds=1)
        assert await second.run(made.id) is None, "the lease is held while chunk 2 is in flight"
        task.cancel()  # the process dies
        with pytest.raises(asyncio.CancelledError):
            await task

    async def lapsed() -> bool:
        return made.id in await other.stalled()

    await eventually(lapsed, 5, "the dead replica's lease to lapse")
    async with second_client:
        done = await second.run(made.id)
    assert done is not None and done.state == ApprovalState.DONE
    results = await other.chunks(made.id)
    assert [r.index for r in results] == [0, 1, 2]
    outcome = Counter(i for r in results for i in [*r.delivered, *r.skipped])
    assert sorted(outcome) == sorted(ids) and set(outcome.values()) == {1}, "every id covered once"
    sent = posted_release_ids(simulator)
    assert len(sent) == len(set(sent)) == 250, "no id released twice, none lost"
    if after_post:
        assert results[1].acted == [] and results[1].skipped == made.chunk_ids(1)
        assert [len(c["body"]) for c in posts(simulator)] == [100, 100, 50]
    else:
        assert results[1].delivered == made.chunk_ids(1)


async def test_a_crash_after_a_post_resumes_with_that_chunk_rechecked_by_the_search(
    store: ApprovalStore, simulator: SimulatorProcess, other_rdb: aioredis.Redis
) -> None:
    """A request from a search: the process dies after chunk 2's POST went out, before its
    result was stored. The resume searches again (after the dead run's lease lapsed): chunk 2's
    ids are no longer quarantined and are skipped, with no GET per id; each id released once."""
    ids = batch(simulator, 250, "CrashSearch")
    made = await approved(store, ids, chunk_size=100, search=batch_search("CrashSearch"))
    async with executor_client(simulator, StallingClient, stall_on=2, after_post=True) as es:
        first = Executor(store, es, "replica-a", lease_seconds=1)
        task = asyncio.create_task(first.run(made.id))
        await asyncio.wait_for(es.stalled.wait(), 10)
        assert [r.index for r in await store.chunks(made.id)] == [0]
        task.cancel()  # the process dies with chunk 2 sent, its result not stored
        with pytest.raises(asyncio.CancelledError):
            await task
    other = ApprovalStore(other_rdb, key=TEST_KEY)

    async def lapsed() -> bool:
        return made.id in await other.stalled()

    await eventually(lapsed, 5, "the dead replica's lease to lapse")
    mark = len(simulator.requests())
    async with executor_client(simulator) as plain:
        done = await Executor(other, plain, "replica-b", lease_seconds=1).run(made.id)
    assert done is not None and done.state == ApprovalState.DONE
    results = await other.chunks(made.id)
    assert results[1].acted == [] and results[1].skipped == made.chunk_ids(1)
    assert results[2].delivered == made.chunk_ids(2)
    assert single_gets(simulator, mark) == [] and len(searches(simulator, mark)) == 1
    sent = posted_release_ids(simulator)
    assert len(sent) == len(set(sent)) == 250, "no id released twice, none lost"


async def test_lease_is_renewed_while_a_slow_chunk_is_in_flight(
    store: ApprovalStore, simulator: SimulatorProcess, other_rdb: aioredis.Redis
) -> None:
    ids = simulator.add_messages(quarantined_messages(20, "Slow"))
    made = await approved(store, ids, chunk_size=10)
    other = ApprovalStore(other_rdb, key=TEST_KEY)
    async with (
        executor_client(simulator, StallingClient, stall_on=1, after_post=True) as es,
        executor_client(simulator) as plain,
    ):
        # A lease of 1.2 s renewed every 0.4 s: long enough that a loaded 2-core machine's
        # scheduling delays (a 0.3 s lease lapsed once under the full suite) are not a lapse.
        first = Executor(store, es, "replica-a", lease_seconds=1.2)
        task = asyncio.create_task(first.run(made.id))
        await asyncio.wait_for(es.stalled.wait(), 10)
        # Two lease lengths pass while the chunk hangs: the lease never lapses.
        deadline = time.monotonic() + 2.4
        while time.monotonic() < deadline:
            assert await other.lease_holder(made.id) == "replica-a"
            assert await other.stalled() == []
            assert await Executor(other, plain, "replica-b", lease_seconds=1.2).run(made.id) is None
            await asyncio.sleep(0.05)
        es.resume.set()
        done = await asyncio.wait_for(task, 10)
    assert done is not None and done.state == ApprovalState.DONE
    assert sorted(posted_release_ids(simulator)) == sorted(ids)


async def test_store_down_mid_run_stops_and_a_resume_finishes(
    store: ApprovalStore, client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    ids = simulator.add_messages(quarantined_messages(30, "Down"))
    made = await approved(store, ids, chunk_size=10)
    original = store.save_chunk

    async def down_at_second_chunk(request_id: str, result: ChunkResult, owner: str) -> bool:
        if result.index == 1:
            raise StoreUnavailable("the bot's state store (Redis) is unreachable")
        return await original(request_id, result, owner)

    store.save_chunk = down_at_second_chunk  # type: ignore[method-assign]
    with pytest.raises(StoreUnavailable):
        await Executor(store, client, "a", lease_seconds=0.5).run(made.id)
    store.save_chunk = original  # type: ignore[method-assign]

    async def lapsed() -> bool:
        return made.id in await store.stalled()

    await eventually(lapsed, 5, "the lease to lapse")
    [done] = await sweep(store, Executor(store, client, "b"))
    assert done.id == made.id and done.state == ApprovalState.DONE
    results = await store.chunks(made.id)
    assert results[1].acted == [] and results[1].skipped == made.chunk_ids(1)
    sent = posted_release_ids(simulator)
    assert sorted(sent) == sorted(ids), "chunk 2 was sent once, before the store went down"


async def test_sweep_runs_every_approved_request(
    store: ApprovalStore, client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    ids = simulator.add_messages(quarantined_messages(12, "Resume"))
    first = await approved(store, ids[:6])
    second = await approved(store, ids[6:])
    done = await sweep(store, Executor(store, client, "a"))
    assert sorted(r.id for r in done) == sorted([first.id, second.id])
    assert await sweep(store, Executor(store, client, "a")) == []
    assert sorted(posted_release_ids(simulator)) == sorted(ids)


async def test_redis_down_nothing_executes(
    client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    dead = aioredis.Redis(port=free_port(), socket_connect_timeout=0.5, retry=NO_RETRY)
    try:
        store = ApprovalStore(dead, key=TEST_KEY)
        executor = Executor(store, client, "a")
        with pytest.raises(StoreUnavailable, match="REDIS_URL"):
            await executor.run("abcdefabcdef")
        with pytest.raises(StoreUnavailable):
            await sweep(store, executor)
    finally:
        await dead.aclose()
    assert simulator.calls() == []
