"""The one-time move of the keys an earlier version wrote without hash tags (bot/store/keymove.py):
what it left in Redis carries over, readable by this version's stores."""

from __future__ import annotations

import redis.asyncio as aioredis

from bot.services.alerts.outbox import Outbox
from bot.services.alerts.scripts import STATE_KEY, campaign_record_key, dirty_key
from bot.services.approvals import ApprovalStore
from bot.services.approvals.models import ApprovalState
from bot.services.approvals.scripts import PENDING_KEY, chunks_key, record_key
from bot.store.follows import FollowStore
from bot.store.keymove import move_old_keys
from tests.kit.store import TEST_KEY

CHANNEL = "C0ALERTS"


async def old_version_request(rdb: aioredis.Redis, store: ApprovalStore) -> str:
    """A pending request as the version before hash tags stored it: its keys renamed back."""
    made = await store.create(
        action="release", params={}, ids=["a-1", "b-2"], requester="UREQ", reason="r",
        rule="guarded", summary=[], ttl_seconds=3600, required=1, channel="C1",
    )  # fmt: skip
    await rdb.rename(record_key(made.id), f"approval:{made.id}")
    await rdb.rename(PENDING_KEY, "approvals:pending")
    await rdb.hset(f"approval:{made.id}:chunks", "0", "{}")  # type: ignore[misc]
    return made.id


async def test_an_old_pending_request_and_the_alert_state_carry_over(rdb: aioredis.Redis) -> None:
    store = ApprovalStore(rdb, key=TEST_KEY)
    request_id = await old_version_request(rdb, store)
    await rdb.hset("alerts:state", mapping={"floor": "100", "watermark": "200"})  # type: ignore[misc]
    await rdb.hset("alerts:campaign:k1", mapping={"root_ts": "1.2", "data": "{}"})  # type: ignore[misc]
    await rdb.sadd(f"alerts:dirty:{CHANNEL}", "alerts:campaign:k1")  # type: ignore[misc]
    assert await store.get(request_id) is None, "under its old name, this version cannot see it"

    assert await move_old_keys(rdb) == 6

    pending = await store.pending()
    assert [r.id for r in pending] == [request_id]
    assert pending[0].state == ApprovalState.PENDING and store.verified(pending[0])
    assert await rdb.hget(chunks_key(request_id), "0") == b"{}"  # type: ignore[misc]
    assert await rdb.hget(STATE_KEY, "watermark") == b"200"  # type: ignore[misc]
    assert await Outbox(rdb).dirty(CHANNEL) == [campaign_record_key("k1")]
    assert await rdb.exists(dirty_key(CHANNEL)) and not await rdb.keys("alerts:*")
    assert not await rdb.keys("approval*"), "nothing left under an old name"


async def test_moving_twice_moves_nothing_and_never_overwrites(rdb: aioredis.Redis) -> None:
    await rdb.hset("alerts:state", mapping={"watermark": "200"})  # type: ignore[misc]
    assert await move_old_keys(rdb) == 1
    assert await move_old_keys(rdb) == 0
    # An old key whose new name is already written (by this version) is left alone.
    await rdb.hset("alerts:state", mapping={"watermark": "1"})  # type: ignore[misc]
    assert await move_old_keys(rdb) == 0
    assert await rdb.hget(STATE_KEY, "watermark") == b"200"  # type: ignore[misc]
    assert await rdb.hget("alerts:state", "watermark") == b"1"  # type: ignore[misc]


async def test_the_followed_submissions_carry_over(rdb: aioredis.Redis) -> None:
    await rdb.hset("submissions:follow", "m|NONE|1.0", "{}")  # type: ignore[misc]
    assert await move_old_keys(rdb) == 1
    assert await FollowStore(rdb).all() == {"m|NONE|1.0": "{}"}
    assert not await rdb.exists("submissions:follow")
