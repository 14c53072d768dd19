"""AuditLog on a real Redis stream: entries, truncation of bulk id lists, filters, the cap, and
the hash chain `verify` checks (forged, changed, deleted, trimmed, rotated, concurrent)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest
import redis.asyncio as aioredis

from blocks.audit import trail_check_blocks, trail_check_text
from blocks.limits import problems
from bot.integrity import IntegrityKey
from bot.services.audit import MAX_IDS, PAGE, AuditLog
from bot.services.audit_chain import Break, Problem, TrailCheck
from bot.store import StoreUnavailable
from tests.kit.servers import free_port
from tests.kit.store import NO_RETRY, TEST_KEY

MESSAGE = "4Lxm1x0Nsrz4-2026-01-01T00:00:00-0a1b2c3d"


@pytest.fixture
def audit(rdb: aioredis.Redis) -> AuditLog:
    return AuditLog(rdb, TEST_KEY)


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
    audit = AuditLog(rdb, TEST_KEY, stream="audit-capped", maxlen=50)
    for n in range(500):
        await audit.record(actor="U1", action="lookup", ids=[str(n)], outcome="ok")
    assert await rdb.xlen("audit-capped") < 500  # approximate trimming, by whole nodes
    assert (await audit.recent())[0].ids == ["499"]


async def test_redis_down_is_store_unavailable() -> None:
    dead = aioredis.Redis(port=free_port(), socket_connect_timeout=0.5, retry=NO_RETRY)
    try:
        audit = AuditLog(dead, TEST_KEY)
        with pytest.raises(StoreUnavailable, match="REDIS_URL"):
            await audit.record(actor="U1", action="lookup", outcome="ok")
        with pytest.raises(StoreUnavailable):
            await audit.recent(message_id=MESSAGE)
    finally:
        await dead.aclose()


# -- the hash chain ----------------------------------------------------------------------------


async def raw_entries(
    rdb: aioredis.Redis, stream: str = "audit"
) -> list[tuple[str, dict[str, str]]]:
    return [
        (i.decode(), {k.decode(): v.decode() for k, v in fields.items()})
        for i, fields in await rdb.xrange(stream)
    ]


async def fill(audit: AuditLog, count: int, actor: str = "U1") -> list[str]:
    return [
        await audit.record(actor=actor, action="lookup", ids=[f"Msg{n}"], outcome="ok")
        for n in range(count)
    ]


async def test_each_entry_commits_to_the_one_before(audit: AuditLog, rdb: aioredis.Redis) -> None:
    ids = await fill(audit, 3)
    entries = await raw_entries(rdb)
    assert [i for i, _ in entries] == ids
    assert [f["seq"] for _, f in entries] == ["1", "2", "3"]
    assert [f["prev"] for _, f in entries] == ["", entries[0][1]["hash"], entries[1][1]["hash"]]
    assert {f["key"] for _, f in entries} == {TEST_KEY.key_id}
    check = await audit.verify()
    assert check.intact and check.checked == 3 and check.unverifiable == 0
    assert (check.oldest, check.newest, check.trimmed) == (ids[0], ids[-1], False)
    assert check.newest_hash == entries[-1][1]["hash"]
    empty = await AuditLog(rdb, TEST_KEY, stream="audit-empty").verify()
    assert empty.intact and empty.checked == 0 and empty.oldest is None


async def test_replicas_appending_at_once_form_one_chain(
    rdb: aioredis.Redis, other_rdb: aioredis.Redis
) -> None:
    """Three replicas appending as fast as they can: every entry lands (none starves), in one
    chain."""
    logs = [AuditLog(rdb, TEST_KEY), AuditLog(other_rdb, TEST_KEY), AuditLog(other_rdb, TEST_KEY)]
    await asyncio.gather(*(fill(log, 150, f"U{n}") for n, log in enumerate(logs)))
    entries = await raw_entries(rdb)
    assert [int(f["seq"]) for _, f in entries] == list(range(1, 451))
    assert Counter(f["actor"] for _, f in entries) == {"U0": 150, "U1": 150, "U2": 150}
    check = await logs[0].verify()
    assert check.intact and check.checked == 450


async def test_an_entry_forged_without_the_key_is_named(
    audit: AuditLog, rdb: aioredis.Redis
) -> None:
    """A Redis writer copies the chain's form (prev, seq, the key's id) but can only hash
    without the key; later entries link to the forgery, the check still names it."""
    await fill(audit, 2)
    last = (await raw_entries(rdb))[-1][1]
    forged = {
        "at": last["at"], "actor": "U0APPROVER", "action": "approve release", "outcome": "execute",
        "ids": "[]", "count": "0", "request_id": "q07qad8FV_oK", "digest": "", "detail": "",
        "key": last["key"], "prev": last["hash"], "seq": str(int(last["seq"]) + 1),
    }  # fmt: skip
    canonical = json.dumps(forged, sort_keys=True, separators=(",", ":")).encode()
    forged["hash"] = hashlib.sha256(canonical).hexdigest()
    forged_id = (await rdb.xadd("audit", forged)).decode()  # type: ignore[arg-type]
    await fill(audit, 2)
    check = await audit.verify()
    assert check.broken is not None and check.checked == 2
    assert (check.broken.entry_id, check.broken.problem) == (forged_id, "changed")


async def test_a_deleted_entry_breaks_the_link_of_the_next(
    audit: AuditLog, rdb: aioredis.Redis
) -> None:
    ids = await fill(audit, 5)
    await rdb.xdel("audit", ids[2])
    check = await audit.verify()
    assert check.broken is not None and check.checked == 2
    assert (check.broken.entry_id, check.broken.problem, check.broken.before) == (
        ids[3],
        "unlinked",
        ids[1],
    )


async def test_trimming_by_the_cap_is_no_break(rdb: aioredis.Redis) -> None:
    audit = AuditLog(rdb, TEST_KEY, stream="audit-capped", maxlen=50)
    ids = await fill(audit, 500)
    present = await raw_entries(rdb, "audit-capped")
    assert 50 <= len(present) < 500 and present[0][0] != ids[0]
    check = await audit.verify()
    assert check.intact and check.trimmed and check.checked == len(present)
    assert (check.oldest, check.newest) == (present[0][0], ids[-1])


async def test_oldest_entries_deleted_below_the_cap_are_a_break(
    audit: AuditLog, rdb: aioredis.Redis
) -> None:
    """Trimming keeps at least the cap: a stream below it that lost its first entries was cut
    by someone, which trimming cannot explain."""
    ids = await fill(audit, 10)
    await rdb.xdel("audit", ids[0], ids[1])
    check = await audit.verify()
    assert check.broken is not None and check.checked == 0
    assert (check.broken.entry_id, check.broken.problem) == (ids[2], "head_removed")


async def test_entries_trimmed_while_the_check_walks_are_no_break(rdb: aioredis.Redis) -> None:
    class TrimmingMeanwhile(aioredis.Redis):
        """Another replica's append trims the stream between two pages of the walk."""

        pages = 0

        async def xrange(self, name: Any, *args: Any, **kwargs: Any) -> Any:
            page = await super().xrange(name, *args, **kwargs)
            self.pages += 1
            if self.pages == 1 and kwargs.get("count") == PAGE:
                await self.xtrim(name, maxlen=300, approximate=False)  # past the walk's page
            return page

    filler = AuditLog(rdb, TEST_KEY, stream="audit-busy", maxlen=1000)
    await fill(filler, 1200)
    walker = TrimmingMeanwhile(connection_pool=rdb.connection_pool)
    check = await AuditLog(walker, TEST_KEY, stream="audit-busy", maxlen=1000).verify()
    assert check.intact and check.checked == PAGE + 300


async def test_a_prefix_before_the_chain_or_under_an_old_key_is_reported_not_broken(
    audit: AuditLog, rdb: aioredis.Redis
) -> None:
    """Entries written before the chain existed, then under a key since rotated: their order is
    checked, their content cannot be; after the first entry under the current key, an entry
    without a seal or under another key is a break."""
    for n in range(3):
        await rdb.xadd("audit", {"at": "2026-01-01T00:00:00+00:00", "actor": "U1", "n": str(n)})
    old_key = IntegrityKey.derive("the signing secret before it was rotated")
    await fill(AuditLog(rdb, old_key), 2)
    await fill(audit, 2)
    check = await audit.verify()
    assert check.intact and check.checked == 7 and check.unverifiable == 5 and not check.trimmed

    late = await fill(AuditLog(rdb, old_key), 1)  # a replica still on the old key
    check = await audit.verify()
    assert check.broken is not None and check.checked == 7
    assert (check.broken.entry_id, check.broken.problem) == (late[0], "foreign_key")
    with_old_key = await AuditLog(rdb, old_key).verify()
    assert with_old_key.broken is not None and with_old_key.broken.problem == "foreign_key"


async def test_an_unsealed_entry_after_sealed_ones_is_a_break(
    audit: AuditLog, rdb: aioredis.Redis
) -> None:
    await fill(audit, 2)
    plain = (await rdb.xadd("audit", {"actor": "U0FORGER", "action": "approve"})).decode()
    await fill(audit, 1)  # links to the unsealed entry: still named
    check = await audit.verify()
    assert check.broken is not None and check.checked == 2
    assert (check.broken.entry_id, check.broken.problem) == (plain, "unsealed")


# -- what `/email audit verify` shows ----------------------------------------------------------


def test_the_check_is_rendered_within_slacks_limits() -> None:
    intact = TrailCheck(
        checked=1234, oldest="1767225600000-0", trimmed=True, unverifiable=3,
        newest="1767225600999-7", newest_hash="ab" * 32, broken=None,
    )  # fmt: skip
    blocks = trail_check_blocks(intact)
    text = "\n".join(str(b.to_dict()) for b in blocks)
    assert trail_check_text(intact) == "Audit trail intact: 1234 entries checked"
    assert "1767225600000-0" in text and "2026-01-01 00:00:00 UTC" in text and "trimmed" in text
    assert "3 of the oldest entries" in text and "abababab" in text
    assert problems(blocks, surface="message", text=trail_check_text(intact)) == []
    for problem in get_args(Problem):
        broken = TrailCheck(
            checked=7, oldest="1-0", trimmed=False, unverifiable=0, newest="8-0",
            newest_hash="", broken=Break("99999999999999999-0", problem, "8-0"),
        )  # fmt: skip
        blocks = trail_check_blocks(broken)
        text = "\n".join(str(b.to_dict()) for b in blocks)
        assert "Audit trail broken at entry `99999999999999999-0`" in text, problem
        assert "intact" not in text and "7 entries before it passed" in text
        assert problems(blocks, surface="message", text=trail_check_text(broken)) == []
