"""ApprovalStore against a real redis-server: the rules of DESIGN.md "Policy and approvals"
and the exactly-once transitions under concurrency."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.commands import SimpleCommand, parse
from bot.services.approvals import (
    ApprovalRequest,
    ApprovalState,
    ApprovalStore,
    ChunkResult,
    FrozenSearch,
    MessageSummary,
    Outcome,
    digest,
    freeze,
)
from bot.services.approvals.scripts import RECENT_KEY, TAG, chunks_key, record_key
from bot.store import StoreUnavailable
from tests.kit.approvals import attacker_digest
from tests.kit.servers import RedisProcess, eventually, free_port
from tests.kit.store import NO_RETRY, TEST_KEY, service_db

REQUESTER = "UREQUESTER"
IDS = [f"Msg{i:04d}-2026-01-01T00:00:00-0000abcd" for i in range(5)]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(rdb: aioredis.Redis, clock: Clock) -> ApprovalStore:
    return ApprovalStore(rdb, clock, key=TEST_KEY)


async def make(
    store: ApprovalStore,
    *,
    ids: list[str] | None = None,
    required: int = 1,
    ttl: float = 3600,
    action: str = "release",
    params: dict[str, str] | None = None,
    requester: str = REQUESTER,
    channel: str = "C123",
    message_ts: str | None = None,
    search: FrozenSearch | None = None,
) -> ApprovalRequest:
    chosen = IDS if ids is None else ids
    return await store.create(
        action=action,
        params=params or {},
        ids=chosen,
        requester=requester,
        reason="phish campaign false positive",
        rule="it touches 5 messages (BOT_BULK_THRESHOLD is 2)",
        summary=[MessageSummary(id=i, subject=f"Invoice {i}") for i in chosen[:3]],
        ttl_seconds=ttl,
        required=required,
        channel=channel,
        message_ts=message_ts,
        search=search,
    )


# -- creating ----------------------------------------------------------------------------------


async def test_create_stores_sorted_unique_ids_digest_and_indexes(
    store: ApprovalStore, rdb: aioredis.Redis, clock: Clock
) -> None:
    ids = [f"Bulk{i:04d}-x" for i in (7, 3, 2500, 3, 1)] + [f"M{i:05d}" for i in range(2400)]
    made = await make(store, ids=ids, action="move", params={"folder": "JunkEmail"})
    assert made.ids == sorted(set(ids)) and len(made.ids) == 2404
    assert made.digest == digest(TEST_KEY, "move", {"folder": "JunkEmail"}, sorted(set(ids)))
    assert made.chunks_total == 3 and made.chunks_done == 0
    assert len(made.id) == 12 and made.state == ApprovalState.PENDING
    assert made.expires_at == clock.now + timedelta(hours=1)
    assert await store.get(made.id) == made
    assert [r.id for r in await store.pending()] == [made.id]
    # A pending record outlives its expiry by the 30 days ended records are kept.
    assert 30 * 86400 < await rdb.ttl(record_key(made.id)) <= 30 * 86400 + 3600

    carded = await make(store, channel="C999", message_ts="1700000000.000100")
    again = await store.get(carded.id)
    assert again is not None and (again.channel, again.message_ts) == ("C999", "1700000000.000100")


async def test_create_refuses_what_cannot_be_approved(store: ApprovalStore) -> None:
    with pytest.raises(ValueError, match="not a request kind"):
        await make(store, action="reclassify")
    with pytest.raises(ValueError, match="allow request needs a kind"):
        await make(store, action="allow", params={"pattern": "a.example", "pattern_type": "DOMAIN"})
    with pytest.raises(ValueError, match="recent, similarity or both"):
        await make(store, action="trust", params={"pattern": "a.example"})
    with pytest.raises(ValueError, match="folder"):
        await make(store, action="move", params={"folder": "Elsewhere"})
    with pytest.raises(ValueError, match="at least one"):
        await make(store, ids=[])
    with pytest.raises(ValueError, match="pattern"):
        await make(store, action="block", ids=[], params={"pattern": "x.example"})


async def test_a_block_request_is_one_step_without_message_ids(store: ApprovalStore) -> None:
    params = {"pattern": "gmail.com", "pattern_type": "DOMAIN"}
    made = await make(store, action="block", ids=[], params=params)
    assert made.ids == [] and made.chunks_total == 1
    assert made.digest == digest(TEST_KEY, "block", params, [])
    assert store.verified(made)


async def test_unknown_and_malformed_ids_are_not_found(store: ApprovalStore) -> None:
    await make(store)
    for request_id in ("nothere", "", "x:lease", "a b", "approval:x", "é" * 3):
        assert await store.get(request_id) is None
        assert (await store.approve(request_id, "U2")).outcome == Outcome.NOT_FOUND
        assert (await store.reject(request_id, "U2", "no")).outcome == Outcome.NOT_FOUND
        assert (await store.cancel(request_id, REQUESTER)).outcome == Outcome.NOT_FOUND
        assert not await store.claim(request_id, "owner", 5)


# -- approving ---------------------------------------------------------------------------------


async def test_requester_never_approves_own_request(store: ApprovalStore) -> None:
    made = await make(store)
    decision = await store.approve(made.id, REQUESTER)
    assert decision.outcome == Outcome.SELF_APPROVAL
    assert decision.request is not None and decision.request.approvals == []
    assert decision.request.state == ApprovalState.PENDING


async def test_one_approval_executes_and_later_clicks_are_not_pending(
    store: ApprovalStore, clock: Clock
) -> None:
    made = await make(store)
    decision = await store.approve(made.id, "UAPPROVER")
    assert decision.outcome == Outcome.EXECUTE
    after = decision.request
    assert after is not None and after.state == ApprovalState.EXECUTING
    assert [(a.user, a.at) for a in after.approvals] == [("UAPPROVER", clock.now)]
    assert after.executing_at == clock.now
    assert await store.pending() == []
    assert await store.counts() == {"pending": 0, "executing": 1}
    for user in ("UAPPROVER", "UOTHER", REQUESTER):
        late = await store.approve(made.id, user)
        assert late.outcome == Outcome.NOT_PENDING and late.state == ApprovalState.EXECUTING
    assert (await store.reject(made.id, "UOTHER", "x")).outcome == Outcome.NOT_PENDING
    assert (await store.cancel(made.id, REQUESTER)).outcome == Outcome.NOT_PENDING


async def test_two_required_approvals_need_two_different_approvers(store: ApprovalStore) -> None:
    made = await make(store, required=2)
    first = await store.approve(made.id, "UALICE")
    assert first.outcome == Outcome.APPROVED
    assert first.request is not None and first.request.approvals_missing == 1
    again = await store.approve(made.id, "UALICE")
    assert again.outcome == Outcome.ALREADY_APPROVED
    assert again.request is not None and len(again.request.approvals) == 1
    assert (await store.approve(made.id, REQUESTER)).outcome == Outcome.SELF_APPROVAL
    second = await store.approve(made.id, "UBOB")
    assert second.outcome == Outcome.EXECUTE
    assert second.request is not None and second.request.approvers == {"UALICE", "UBOB"}


async def approve_concurrently(
    stores: list[ApprovalStore], request_id: str, users: list[str]
) -> list[Outcome]:
    calls = [stores[n % len(stores)].approve(request_id, user) for n, user in enumerate(users)]
    return [d.outcome for d in await asyncio.gather(*calls)]


async def test_fifty_concurrent_approvals_execute_exactly_once(
    store: ApprovalStore, other_rdb: aioredis.Redis, clock: Clock
) -> None:
    other = ApprovalStore(other_rdb, clock, key=TEST_KEY)  # another replica, its own connections
    made = await make(store)
    outcomes = await approve_concurrently(
        [store, other], made.id, [f"UAPPROVER{n}" for n in range(50)]
    )
    assert outcomes.count(Outcome.EXECUTE) == 1
    assert outcomes.count(Outcome.NOT_PENDING) == 49
    after = await store.get(made.id)
    assert after is not None and after.state == ApprovalState.EXECUTING
    assert len(after.approvals) == 1


async def test_fifty_concurrent_approvals_with_two_required(
    store: ApprovalStore, other_rdb: aioredis.Redis, clock: Clock
) -> None:
    other = ApprovalStore(other_rdb, clock, key=TEST_KEY)
    made = await make(store, required=2)
    # Each approver clicks twice (a Slack retry): counted once.
    users = [f"UAPPROVER{n % 25}" for n in range(50)]
    outcomes = await approve_concurrently([store, other], made.id, users)
    assert outcomes.count(Outcome.EXECUTE) == 1
    assert outcomes.count(Outcome.APPROVED) == 1
    assert set(outcomes) <= {
        Outcome.EXECUTE,
        Outcome.APPROVED,
        Outcome.NOT_PENDING,
        Outcome.ALREADY_APPROVED,
    }
    after = await store.get(made.id)
    assert after is not None and len(after.approvals) == 2 and len(after.approvers) == 2


async def test_expired_request_refuses_and_moves_to_expired(
    store: ApprovalStore, clock: Clock
) -> None:
    made = await make(store, ttl=60)
    clock.advance(60)
    decision = await store.approve(made.id, "UAPPROVER")
    assert decision.outcome == Outcome.EXPIRED
    assert decision.request is not None and decision.request.state == ApprovalState.EXPIRED
    assert decision.request.ended_at == clock.now and decision.request.approvals == []
    later = await store.approve(made.id, "UAPPROVER")
    assert later.outcome == Outcome.NOT_PENDING and later.state == ApprovalState.EXPIRED
    assert await store.pending() == []
    assert [r.id for r in await store.recent()] == [made.id]
    assert await store.expire_due() == []  # already expired: nobody gets it again

    other = await make(store, ttl=60)
    clock.advance(61)
    assert (await store.reject(other.id, "UAPPROVER", "no")).outcome == Outcome.EXPIRED
    third = await make(store, ttl=60)
    clock.advance(61)
    assert (await store.cancel(third.id, REQUESTER)).outcome == Outcome.EXPIRED


async def test_expire_due_gives_each_request_to_exactly_one_sweeper(
    store: ApprovalStore, other_rdb: aioredis.Redis, clock: Clock, rdb: aioredis.Redis
) -> None:
    other = ApprovalStore(other_rdb, clock, key=TEST_KEY)
    due = [await make(store, ttl=60) for _ in range(150)]  # more than one sweep batch
    later = await make(store, ttl=3600)
    clock.advance(120)
    sweeps = await asyncio.gather(*(s.expire_due() for s in [store, other, store, other]))
    got = [r.id for sweep in sweeps for r in sweep]
    assert sorted(got) == sorted(r.id for r in due), "each expired request returned once"
    assert all(r.state == ApprovalState.EXPIRED for sweep in sweeps for r in sweep)
    assert await store.expire_due() == []
    assert [r.id for r in await store.pending()] == [later.id]
    ttl = await rdb.ttl(record_key(due[0].id))
    assert 29 * 86400 < ttl <= 30 * 86400
    assert len(await store.recent(limit=500)) == 150


async def test_tampered_ids_are_refused_and_nothing_changes(
    store: ApprovalStore, rdb: aioredis.Redis
) -> None:
    made = await make(store)
    key = record_key(made.id)
    await rdb.hset(key, "ids", json.dumps([*made.ids, "Evil0001-2026-01-01T00:00:00-deadbeef"]))
    decision = await store.approve(made.id, "UAPPROVER")
    assert decision.outcome == Outcome.TAMPERED
    after = await store.get(made.id)
    assert after is not None and after.state == ApprovalState.PENDING and after.approvals == []

    moved = await make(store, action="move", params={"folder": "Inbox"})
    await rdb.hset(record_key(moved.id), "params", json.dumps({"folder": "DeletedItems"}))
    assert (await store.approve(moved.id, "UAPPROVER")).outcome == Outcome.TAMPERED

    relabelled = await make(store)
    await rdb.hset(record_key(relabelled.id), "action", "move")
    assert (await store.approve(relabelled.id, "UAPPROVER")).outcome == Outcome.TAMPERED


async def test_content_rewritten_with_a_recomputed_unkeyed_digest_is_refused(
    store: ApprovalStore, rdb: aioredis.Redis
) -> None:
    """A Redis writer without the key rewrites the ids and recomputes the digest as plain
    sha256: the digest is keyed, so the request is refused and nothing changes."""
    made = await make(store)
    ids = sorted([*made.ids[:2], "Evil0001-2026-01-01T00:00:00-deadbeef"])
    await rdb.hset(
        record_key(made.id),
        mapping={"ids": json.dumps(ids), "digest": attacker_digest("release", {}, ids)},
    )
    decision = await store.approve(made.id, "UAPPROVER")
    assert decision.outcome == Outcome.TAMPERED
    after = await store.get(made.id)
    assert after is not None and after.state == ApprovalState.PENDING and after.approvals == []


SEARCH = {"subject": "Invoice", "detections_only": False}


async def test_the_digest_covers_the_frozen_search(
    store: ApprovalStore, rdb: aioredis.Redis, clock: Clock
) -> None:
    """A request from a search keeps it frozen (filters, a fixed start and end), covered by the
    digest: widening it in Redis makes the request refused as changed."""
    made = await make(store, search=freeze(SEARCH, clock()))
    assert made.search is not None and store.verified(made)
    assert made.search.filters["end"] == "2026-03-01T12:00:00Z"
    assert made.search.filters["start"] == "2026-01-30T12:00:00Z", "the API's 30 days"
    stored = await rdb.hget(record_key(made.id), "search")
    assert stored is not None and json.loads(stored) == made.search.model_dump()
    widened = made.search.model_copy(
        update={"filters": {**made.search.filters, "start": "2025-01-01T00:00:00Z"}}
    )
    await rdb.hset(record_key(made.id), "search", widened.model_dump_json())
    decision = await store.approve(made.id, "UAPPROVER")
    assert decision.outcome == Outcome.TAMPERED

    dropped = await make(store, search=freeze(SEARCH, clock()))
    await rdb.hset(record_key(dropped.id), "search", "")
    assert (await store.approve(dropped.id, "UAPPROVER")).outcome == Outcome.TAMPERED


async def test_a_search_changed_between_check_and_script_is_not_approved(
    store: ApprovalStore, rdb: aioredis.Redis, clock: Clock
) -> None:
    made = await make(store, search=freeze(SEARCH, clock()))
    original = store._get_raw
    reads = 0

    async def read_then_tamper(request_id: str) -> Any:
        nonlocal reads
        reads += 1
        raw = await original(request_id)
        if reads == 1:
            changed = FrozenSearch(filters={"subject": "x"})
            await rdb.hset(record_key(made.id), "search", changed.model_dump_json())
        return raw

    store._get_raw = read_then_tamper  # type: ignore[method-assign]
    assert (await store.approve(made.id, "UAPPROVER")).outcome == Outcome.TAMPERED
    assert reads == 2


async def test_a_request_stored_before_frozen_searches_still_verifies(
    store: ApprovalStore, rdb: aioredis.Redis
) -> None:
    """Records written before requests kept their search have no `search` field: their digest
    (over action, params and ids) still verifies, and they are approved as before."""
    made = await make(store)
    await rdb.hdel(record_key(made.id), "search")
    after = await store.get(made.id)
    assert after is not None and after.search is None and store.verified(after)
    assert (await store.approve(made.id, "UAPPROVER")).outcome == Outcome.EXECUTE


async def test_a_frozen_search_keeps_a_given_window_and_refuses_unknown_filters(
    clock: Clock,
) -> None:
    since = clock() - timedelta(days=2)
    frozen = freeze({**SEARCH, "start": since.isoformat()}, clock())
    assert (frozen.filters["start"], frozen.filters["end"]) == (
        "2026-02-27T12:00:00Z", "2026-03-01T12:00:00Z",
    )  # fmt: skip
    assert frozen.filters["subject"] == "Invoice" and frozen.filters["detections_only"] == "false"
    assert "per_page" not in freeze({**SEARCH, "per_page": 50}, clock()).filters
    with pytest.raises(ValueError, match="page"):
        freeze({"page": 2}, clock())


async def test_audit_takes_every_request_id_the_store_issues(store: ApprovalStore) -> None:
    """Request ids are `secrets.token_urlsafe(9)`: `/email audit <id>` parses every one."""
    issued = [(await make(store)).id for _ in range(200)]
    assert any("-" in i or "_" in i for i in issued)
    assert all(parse(f"audit {i}") == SimpleCommand("audit", (i,)) for i in issued)


async def test_content_changed_between_check_and_script_is_not_approved(
    store: ApprovalStore, rdb: aioredis.Redis
) -> None:
    """The script compares what is stored with what was verified: a change in between (here
    right after the verifying read) is never approved."""
    made = await make(store)
    original = store._get_raw
    reads = 0

    async def read_then_tamper(request_id: str) -> Any:
        nonlocal reads
        reads += 1
        raw = await original(request_id)
        if reads == 1:
            await rdb.hset(record_key(made.id), "ids", json.dumps([*made.ids, "Evil-1"]))
        return raw

    store._get_raw = read_then_tamper  # type: ignore[method-assign]
    decision = await store.approve(made.id, "UAPPROVER")
    assert decision.outcome == Outcome.TAMPERED and reads == 2
    after = await store.get(made.id)
    assert after is not None and after.state == ApprovalState.PENDING and after.approvals == []


# -- rejecting, cancelling ---------------------------------------------------------------------


async def test_reject_ends_the_request(store: ApprovalStore, clock: Clock) -> None:
    made = await make(store, required=2)
    assert (await store.approve(made.id, "UALICE")).outcome == Outcome.APPROVED
    decision = await store.reject(made.id, "UBOB", "not a false positive")
    assert decision.outcome == Outcome.REJECTED
    after = decision.request
    assert after is not None and after.state == ApprovalState.REJECTED
    assert (after.ended_by, after.end_reason, after.ended_at) == (
        "UBOB",
        "not a false positive",
        clock.now,
    )
    late = await store.approve(made.id, "UCAROL")
    assert late.outcome == Outcome.NOT_PENDING and late.state == ApprovalState.REJECTED
    assert (await store.cancel(made.id, REQUESTER)).outcome == Outcome.NOT_PENDING
    assert await store.pending() == []
    assert [r.id for r in await store.recent()] == [made.id]


async def test_only_the_requester_cancels(store: ApprovalStore) -> None:
    made = await make(store)
    refused = await store.cancel(made.id, "UAPPROVER")
    assert refused.outcome == Outcome.NOT_REQUESTER
    assert refused.request is not None and refused.request.state == ApprovalState.PENDING
    decision = await store.cancel(made.id, REQUESTER)
    assert decision.outcome == Outcome.CANCELLED
    assert decision.request is not None and decision.request.ended_by == REQUESTER
    late = await store.approve(made.id, "UAPPROVER")
    assert late.outcome == Outcome.NOT_PENDING and late.state == ApprovalState.CANCELLED
    assert (await store.reject(made.id, "UAPPROVER", "x")).outcome == Outcome.NOT_PENDING


async def test_lists_order_and_limits(store: ApprovalStore, clock: Clock) -> None:
    made = []
    for n in range(5):
        made.append(await make(store, ttl=3600 - 10 * n))  # later ones expire sooner
        clock.advance(1)
    assert [r.id for r in await store.pending()] == [r.id for r in reversed(made)]
    for request in made[:3]:
        clock.advance(1)
        await store.cancel(request.id, REQUESTER)
    assert [r.id for r in await store.recent(limit=2)] == [made[2].id, made[1].id]


async def test_recent_keeps_the_last_two_hundred(store: ApprovalStore, rdb: aioredis.Redis) -> None:
    for _ in range(205):
        request = await make(store)
        await store.cancel(request.id, REQUESTER)
    assert await rdb.zcard(RECENT_KEY) == 200
    assert not await rdb.exists(f"{TAG}:by:{REQUESTER}"), "no index nobody reads"


# -- execution bookkeeping ---------------------------------------------------------------------


async def executing(store: ApprovalStore, **kw: Any) -> ApprovalRequest:
    made = await make(store, **kw)
    decision = await store.approve(made.id, "UAPPROVER")
    assert decision.outcome == Outcome.EXECUTE and decision.request is not None
    return decision.request


async def test_lease_is_exclusive_and_only_for_executing_requests(
    store: ApprovalStore, other_rdb: aioredis.Redis, clock: Clock
) -> None:
    other = ApprovalStore(other_rdb, clock, key=TEST_KEY)
    pending = await make(store)
    assert not await store.claim(pending.id, "A", 5), "a pending request cannot be executed"
    made = await executing(store)
    assert await store.stalled() == [made.id]  # approved, nobody running it yet
    results = await asyncio.gather(
        *(s.claim(made.id, o, 5) for s, o in [(store, "A"), (other, "B")] * 5)
    )
    assert sorted(set(results)) == [False, True]
    holder = await store.lease_holder(made.id)
    assert holder in ("A", "B")
    loser = "B" if holder == "A" else "A"
    assert results.count(True) == 1, "one claim wins; not even the holder claims twice"
    assert await store.stalled() == []
    assert not await store.renew(made.id, loser, 5)
    await store.release_lease(made.id, loser)
    assert await store.lease_holder(made.id) == holder
    assert await store.renew(made.id, holder, 5)
    await store.release_lease(made.id, holder)
    assert await store.stalled() == [made.id]
    assert await store.claim(made.id, loser, 0.2)
    await eventually(lambda: _stalled_has(store, made.id), 5, "the short lease to lapse")


async def test_a_request_approved_a_moment_ago_is_left_to_its_approver(
    store: ApprovalStore, clock: Clock
) -> None:
    """Another replica's sweep does not take a request the approving process is about to
    claim; once it has been executing for the settle time without a lease, it does."""
    made = await executing(store)
    assert await store.stalled(settled_for=10) == [], "just approved: its approver runs it"
    clock.advance(9.9)
    assert await store.stalled(settled_for=10) == []
    clock.advance(0.2)
    assert await store.stalled(settled_for=10) == [made.id], "nobody claimed it: resumed"


async def _stalled_has(store: ApprovalStore, request_id: str) -> bool:
    return request_id in await store.stalled()


async def test_chunks_are_saved_once_by_the_lease_holder_then_finished_once(
    store: ApprovalStore, rdb: aioredis.Redis, clock: Clock
) -> None:
    made = await executing(store, ids=[f"M{i:05d}" for i in range(2500)])
    assert made.chunks_total == 3
    first = ChunkResult(index=0, acted=made.chunk_ids(0), skipped=[], delivered=made.chunk_ids(0))
    assert not await store.save_chunk(made.id, first, "A"), "no lease, no write"
    assert await store.claim(made.id, "A", 30)
    assert not await store.save_chunk(made.id, first, "B")
    assert await store.save_chunk(made.id, first, "A")
    assert await store.save_chunk(made.id, first.model_copy(update={"delivered": []}), "A")
    assert await store.chunk(made.id, 0) == first, "a chunk's result is written once"
    assert await store.chunk(made.id, 1) is None
    after = await store.get(made.id)
    assert after is not None and after.chunks_done == 1
    assert await store.finish(made.id, "A") is None, "not before every chunk is stored"
    for index in (2, 1):
        ids = made.chunk_ids(index)
        await store.save_chunk(made.id, ChunkResult(index=index, acted=[], skipped=ids), "A")
    assert [c.index for c in await store.chunks(made.id)] == [0, 1, 2]
    assert sum(len(c.acted) + len(c.skipped) for c in await store.chunks(made.id)) == 2500
    assert await store.finish(made.id, "B") is None, "only the lease holder finishes"
    assert await rdb.ttl(record_key(made.id)) == -1, "an executing record never expires"
    clock.advance(5)
    done = await store.finish(made.id, "A")
    assert done is not None and done.state == ApprovalState.DONE and done.chunks_done == 3
    assert done.ended_at == clock.now
    assert await store.finish(made.id, "A") is None, "done exactly once"
    assert await store.counts() == {"pending": 0, "executing": 0}
    assert await store.stalled() == []
    assert [r.id for r in await store.recent()] == [made.id]
    assert await store.lease_holder(made.id) is None
    for key in (record_key(made.id), chunks_key(made.id)):
        assert 29 * 86400 < await rdb.ttl(key) <= 30 * 86400
    assert not await store.claim(made.id, "A", 5), "a finished request is never run again"


async def test_an_ended_run_owes_its_announcement_until_announced(
    store: ApprovalStore, other_rdb: aioredis.Redis, clock: Clock
) -> None:
    """The end of a run is recorded as unannounced by the step that ends it (announcing.py);
    a sweep takes it only a lease later, one sweeper at a time, again a lease after that if
    its taker did not announce it; the thread line is claimed once."""
    other = ApprovalStore(other_rdb, clock, key=TEST_KEY)
    done, refused = await executing(store), await executing(store, ids=IDS[:2])
    for made in (done, refused):
        assert await store.claim(made.id, "A", 30)
    assert await store.save_chunk(done.id, ChunkResult(index=0, acted=IDS, skipped=[]), "A")
    assert await store.finish(done.id, "A") is not None
    clock.advance(1)
    assert await store.refuse_run(refused.id, "A", "no longer an approver") is not None
    endings, elsewhere = store.endings, other.endings
    assert await endings.take_due(clock.now, 10, 20) == [], "left to the replica that ended it"
    clock.advance(9)
    assert await endings.take_due(clock.now, 10, 20) == [done.id], "a lease after its end"
    assert await elsewhere.take_due(clock.now, 10, 20) == [], "taken by one sweeper"
    clock.advance(1)
    assert await elsewhere.take_due(clock.now, 10, 20) == [refused.id]
    clock.advance(9)
    await endings.keep(refused.id, clock.now)  # its taker is still at it
    assert await elsewhere.take_due(clock.now, 10, 20) == [done.id], "its taker died: again"
    await endings.announced(done.id)
    clock.advance(60)
    assert await elsewhere.take_due(clock.now, 10, 20) == [refused.id]
    assert await endings.first_telling(done.id) and not await elsewhere.first_telling(done.id)


async def test_works_with_decoded_responses(
    redis_server: RedisProcess, rdb: aioredis.Redis
) -> None:
    client = aioredis.Redis.from_url(service_db(redis_server), decode_responses=True)
    try:
        store = ApprovalStore(client, key=TEST_KEY)
        made = await make(store, ids=["Ünïcode-id-1", "id-2"])
        assert (await store.approve(made.id, "UAPPROVER")).outcome == Outcome.EXECUTE
        assert await store.claim(made.id, "A", 5)
        result = ChunkResult(index=0, acted=made.ids, skipped=[])
        assert await store.save_chunk(made.id, result, "A")
        done = await store.finish(made.id, "A")
        assert done is not None and done.ids == made.ids and await store.chunks(made.id) == [result]
    finally:
        await client.aclose()


async def test_redis_down_is_store_unavailable() -> None:
    client = aioredis.Redis(port=free_port(), socket_connect_timeout=0.5, retry=NO_RETRY)
    store = ApprovalStore(client, key=TEST_KEY)
    try:
        with pytest.raises(StoreUnavailable, match="REDIS_URL"):
            await make(store)
        for call in (
            store.get("abcdefabcdef"),
            store.approve("abcdefabcdef", "U1"),
            store.reject("abcdefabcdef", "U1", "no"),
            store.cancel("abcdefabcdef", "U1"),
            store.expire_due(),
            store.pending(),
            store.stalled(),
            store.claim("abcdefabcdef", "A", 5),
        ):
            with pytest.raises(StoreUnavailable):
                await call
    finally:
        await client.aclose()
