"""AuditLog on a real Redis stream: entries, truncation of bulk id lists, filters, the cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from bot.services.audit import MAX_IDS, AuditLog
from bot.store import StoreUnavailable
from tests.kit.servers import free_port
from tests.kit.store import NO_RETRY

MESSAGE = "4Lxm1x0Nsrz4-2026-01-01T00:00:00-0a1b2c3d"


@pytest.fixture
def audit(rdb: aioredis.Redis) -> AuditLog:
    return AuditLog(rdb)


async def test_record_and_read_back_newest_first(audit: AuditLog) -> None:
    before = datetime.now(UTC)
    first = await audit.record(
        actor="UREQ",
        action="request release",
        ids=[MESSAGE],
        outcome="pending",
        request_id="req1",
        digest="ab" * 32,
        detail="it releases a MALICIOUS message (BOT_GUARDED_DISPOSITIONS)",
    )
    second = await audit.record(
        actor="UAPP", action="approve release", outcome="execute", request_id="req1",
        detail={"approvals": 1, "required": 1},
    )  # fmt: skip
    entries = await audit.recent()
    assert [e.id for e in entries] == [second, first]
    newest, oldest = entries
    assert (oldest.actor, oldest.action, oldest.outcome) == ("UREQ", "request release", "pending")
    assert oldest.ids == [MESSAGE] and oldest.count == 1 and not oldest.truncated
    assert oldest.request_id == "req1" and oldest.digest == "ab" * 32
    assert oldest.detail == "it releases a MALICIOUS message (BOT_GUARDED_DISPOSITIONS)"
    assert newest.detail == {"approvals": 1, "required": 1}
    assert newest.ids == [] and newest.count == 0 and newest.digest is None
    assert before - timedelta(seconds=1) <= oldest.at <= datetime.now(UTC)
    assert [e.id for e in await audit.recent(limit=1)] == [second]


async def test_bulk_ids_are_truncated_with_their_count(audit: AuditLog) -> None:
    ids = [f"Bulk{i:06d}-2026-01-01T00:00:00-00000000" for i in range(2500)]
    await audit.record(actor="UREQ", action="request release", ids=ids, outcome="pending")
    [entry] = await audit.recent()
    assert entry.ids == ids[:MAX_IDS] and entry.count == 2500 and entry.truncated


async def test_filters_by_message_and_request(audit: AuditLog) -> None:
    await audit.record(actor="U1", action="request release", ids=[MESSAGE], outcome="pending",
                       request_id="req1")  # fmt: skip
    for n in range(1200):  # more than one page of unrelated entries in between
        await audit.record(actor="U2", action="lookup", ids=[f"Other{n}"], outcome="ok")
    await audit.record(actor="U3", action="approve release", outcome="execute", request_id="req1")
    await audit.record(actor="U4", action="release", ids=["Other", MESSAGE], outcome="delivered")

    by_message = await audit.recent(message_id=MESSAGE)
    assert [e.actor for e in by_message] == ["U4", "U1"]
    by_postfix = await audit.recent(message_id="4Lxm1x0Nsrz4")
    assert [e.actor for e in by_postfix] == ["U4", "U1"], "a bare postfix id finds its messages"
    assert [e.actor for e in await audit.recent(request_id="req1")] == ["U3", "U1"]
    assert [e.actor for e in await audit.recent(1, request_id="req1")] == ["U3"]
    assert await audit.recent(message_id="NoSuchMessage") == []
    assert await audit.recent(request_id="req1", message_id="Other") == []


async def test_the_stream_is_capped(rdb: aioredis.Redis) -> None:
    audit = AuditLog(rdb, stream="audit-capped", maxlen=50)
    for n in range(500):
        await audit.record(actor="U1", action="lookup", ids=[str(n)], outcome="ok")
    assert await rdb.xlen("audit-capped") < 500  # approximate trimming, by whole nodes
    assert (await audit.recent())[0].ids == ["499"]


async def test_redis_down_is_store_unavailable() -> None:
    dead = aioredis.Redis(port=free_port(), socket_connect_timeout=0.5, retry=NO_RETRY)
    try:
        audit = AuditLog(dead)
        with pytest.raises(StoreUnavailable, match="REDIS_URL"):
            await audit.record(actor="U1", action="lookup", outcome="ok")
        with pytest.raises(StoreUnavailable):
            await audit.recent(message_id=MESSAGE)
    finally:
        await dead.aclose()
