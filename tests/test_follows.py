"""The submissions follow store (bot/store/follows.py) on a real Redis: a claim is won once and
keeps what to show under its replica's name until `shown`; a record whose lease passed is taken
over by the replica that finds it, once."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from bot.store.follows import FollowStore


async def test_a_claim_is_won_once_and_kept_until_shown(rdb: aioredis.Redis) -> None:
    store = FollowStore(rdb)
    await store.add("k", "follow")
    won = await asyncio.gather(*(store.claim("k", f"show{n}", f"r{n}", 60) for n in range(5)))
    assert sorted(won) == [False] * 4 + [True]
    assert await store.all() == {}, "no longer followed"
    assert await store.overdue("other", 60) == {}, "its replica is still within its lease"
    await store.shown("k")
    assert await rdb.hlen("{submissions}:showing") == 0  # type: ignore[misc]


async def test_an_overdue_record_is_taken_over_once(rdb: aioredis.Redis) -> None:
    store = FollowStore(rdb)
    await store.add("k", "follow")
    assert await store.claim("k", "what to show", "dead", 0.001)
    await asyncio.sleep(0.01)  # the lease is 1 ms: let it pass (not a synchronisation)
    taken = await asyncio.gather(*(store.overdue(f"r{n}", 60) for n in range(3)))
    assert sorted(taken, key=len) == [{}, {}, {"k": "what to show"}]


async def test_an_update_rewrites_a_held_follow_and_never_brings_back_a_claimed_one(
    rdb: aioredis.Redis,
) -> None:
    store = FollowStore(rdb)
    await store.add("k", "first")
    await store.update("k", "second")
    assert await store.all() == {"k": "second"}
    assert await store.claim("k", "show", "r1", 60)
    # Updates racing the claim, as another replica's poll would send them.
    await asyncio.gather(*(store.update("k", f"late{n}") for n in range(5)))
    assert await store.all() == {}, "a claimed follow stays claimed"
