"""Roles checked again at each approval and when a run starts: fresh group look-ups, the rule
(withdraw while pending, refuse the requester who lost the role, refuse a run short of
approvers), the store's atomic steps, and the executor ending a run it may not start. Real
Redis and the simulator; Slack's user groups are the injected look-up a test controls."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from blocks.approvals import approval_card
from blocks.outcomes import decision_line
from bot.cloudflare import EmailSecurityClient
from bot.config import Settings
from bot.roles import Role
from bot.services.approvals import (
    ApprovalRequest,
    ApprovalState,
    ApprovalStore,
    Executor,
    MessageSummary,
    Outcome,
)
from bot.services.approvals.end_audit import audit_end, end_entry
from bot.services.approvals.endings import UNANNOUNCED_KEY
from bot.services.approvals.rechecks import recheck
from bot.services.audit import AuditLog
from bot.services.policy import GroupLookupError, Policy
from tests.kit.approvals import approved, posts
from tests.kit.clients import executor_client
from tests.kit.factories import quarantined_messages
from tests.kit.servers import SimulatorProcess
from tests.kit.store import TEST_KEY

OPS, APPROVERS = "SOPS", "SAPPROVERS"


class Groups:
    """Slack's user groups as the policy asks for them: members a test changes, every
    look-up counted, a group that fails on demand."""

    def __init__(self) -> None:
        self.members = {OPS: {"UREQUESTER"}, APPROVERS: {"UAPPROVER", "UAPPROVER2"}}
        self.asked: list[str] = []
        self.broken: set[str] = set()

    async def __call__(self, group: str) -> frozenset[str]:
        self.asked.append(group)
        if group in self.broken:
            raise GroupLookupError(f"user group {group}: ratelimited")
        return frozenset(self.members[group])


@pytest.fixture
def groups() -> Groups:
    return Groups()


@pytest.fixture
def policy(groups: Groups) -> Policy:
    settings = Settings.model_validate({"bot_operators": OPS, "bot_approvers": APPROVERS})
    return Policy(settings, groups, cache_seconds=60)


@pytest.fixture
def store(rdb: aioredis.Redis) -> ApprovalStore:
    return ApprovalStore(rdb, key=TEST_KEY)


async def pending(store: ApprovalStore, required: int = 2) -> ApprovalRequest:
    return await store.create(
        action="release", params={}, ids=["Msg0001-2026-01-01T00:00:00-0000abcd"],
        requester="UREQUESTER", reason="", rule="bulk", summary=[MessageSummary(id="x")],
        ttl_seconds=3600, required=required, channel="C1",
    )  # fmt: skip


# -- fresh look-ups ----------------------------------------------------------------------------


async def test_fresh_checks_bypass_the_cache_and_look_each_group_up_once(
    policy: Policy, groups: Groups
) -> None:
    assert await policy.check("UAPPROVER", Role.APPROVER, "approve") is None  # cached now
    groups.members[APPROVERS].discard("UAPPROVER")
    assert await policy.check("UAPPROVER", Role.APPROVER, "approve") is None, "from the cache"
    refusal = await policy.check("UAPPROVER", Role.APPROVER, "approve", fresh=True)
    assert refusal is not None and "approver role" in refusal.text
    assert await policy.check("UAPPROVER", Role.APPROVER, "approve") is not None, (
        "the fresh answer refreshed the cache: the removal holds for every later check"
    )
    groups.asked.clear()
    holders = [("UREQUESTER", Role.OPERATOR), ("UAPPROVER", Role.APPROVER),
               ("UAPPROVER2", Role.APPROVER)]  # fmt: skip
    assert await policy.lacking(holders) == [("UAPPROVER", Role.APPROVER)]
    assert sorted(groups.asked) == [APPROVERS, OPS], "each group once per check"


async def test_a_group_slack_cannot_read_is_not_guessed(policy: Policy, groups: Groups) -> None:
    groups.broken.add(APPROVERS)
    with pytest.raises(GroupLookupError):
        await policy.lacking([("UAPPROVER", Role.APPROVER)])


# -- the rule ----------------------------------------------------------------------------------


async def test_while_pending_a_lost_approver_is_withdrawn_and_the_request_waits(
    policy: Policy, groups: Groups, store: ApprovalStore
) -> None:
    made = await pending(store)
    first = await store.approve(made.id, "UAPPROVER")
    assert first.outcome == Outcome.APPROVED and first.request is not None
    groups.members[APPROVERS].discard("UAPPROVER")
    found = await recheck(policy, first.request, "approval")
    assert found.refusal is None and found.withdrawn == ["UAPPROVER"]
    after = await store.withdraw(made.id, found.withdrawn)
    assert after is not None and after.approvals == [] and after.state == ApprovalState.PENDING
    assert await store.withdraw(made.id, found.withdrawn) is None, "nothing left to withdraw"
    second = await store.approve(made.id, "UAPPROVER2")
    assert second.outcome == Outcome.APPROVED, "one current approver of two: it waits"


async def test_a_requester_who_lost_the_role_is_refused_at_approval(
    policy: Policy, groups: Groups, store: ApprovalStore
) -> None:
    made = await pending(store)
    groups.members[OPS].clear()
    found = await recheck(policy, made, "approval")
    assert found.refusal == (
        "Refused at approval: <@UREQUESTER> is no longer an operator (BOT_OPERATORS)"
    )
    decision = await store.refuse(made.id, found.refusal)
    assert decision.outcome == Outcome.REFUSED and decision.request is not None
    ended = decision.request
    assert ended.state == ApprovalState.REFUSED and ended.end_reason == found.refusal
    assert ended.ended_by == "bot" and ended.ended_at is not None
    late = await store.approve(made.id, "UAPPROVER")
    assert late.outcome == Outcome.NOT_PENDING, "a refused request is never approved"
    assert made.id in [r.id for r in await store.recent()]


async def test_a_run_short_of_current_approvers_is_refused(
    policy: Policy, groups: Groups, store: ApprovalStore
) -> None:
    made = await pending(store)
    await store.approve(made.id, "UAPPROVER")
    running = (await store.approve(made.id, "UAPPROVER2")).request
    assert running is not None and running.state == ApprovalState.EXECUTING
    assert (await recheck(policy, running, "execution")).refusal is None
    groups.members[APPROVERS].discard("UAPPROVER2")
    found = await recheck(policy, running, "execution")
    assert found.refusal == (
        "Refused at execution: <@UAPPROVER2> is no longer an approver (BOT_APPROVERS)"
    )
    assert found.withdrawn == [], "an executing request does not go back to waiting"


# -- the executor ------------------------------------------------------------------------------


@pytest.fixture
async def client(simulator: SimulatorProcess) -> AsyncIterator[EmailSecurityClient]:
    async with executor_client(simulator) as es:
        yield es


async def test_a_refused_run_sends_nothing_and_ends_audited(
    store: ApprovalStore,
    client: EmailSecurityClient,
    simulator: SimulatorProcess,
    rdb: aioredis.Redis,
) -> None:
    ids = simulator.add_messages(quarantined_messages(5, "Refuse"))
    made = await approved(store, ids)
    shown: list[ApprovalRequest] = []

    async def progress(request: ApprovalRequest) -> None:
        shown.append(request)

    async def roles(request: ApprovalRequest) -> str | None:
        return "Refused at execution: <@UAPPROVER> is no longer an approver (BOT_APPROVERS)"

    audit = AuditLog(rdb, TEST_KEY)
    executor = Executor(store, client, "replica-a", on_progress=progress, audit=audit, roles=roles)
    ended = await executor.run(made.id)
    assert ended is not None and ended.state == ApprovalState.REFUSED
    assert ended.end_reason is not None and "no longer an approver" in ended.end_reason
    assert posts(simulator) == [], "nothing is sent"
    assert shown == [], "the card is drawn refused by the caller's announcement"
    assert await rdb.zscore(UNANNOUNCED_KEY, made.id) is not None, "which is owed"
    assert await store.lease_holder(made.id) is None and await store.stalled() == []
    assert await audit.recent(request_id=made.id) == [], "audited by the announcement"
    await audit_end(audit, store.endings, ended, end_entry(ended, None, []), redo=False)
    [entry] = await audit.recent(request_id=made.id)
    assert (entry.action, entry.outcome) == ("refuse release", "refused")
    assert entry.detail == {
        "reason": ended.end_reason, "approved_by": sorted(made.approvers), "chunks_done": 0,
        "chunks_total": 1,
    }  # fmt: skip


async def test_a_run_whose_roles_cannot_be_checked_waits_for_the_sweeper(
    store: ApprovalStore, client: EmailSecurityClient, simulator: SimulatorProcess
) -> None:
    ids = simulator.add_messages(quarantined_messages(3, "Unsure"))
    made = await approved(store, ids)

    async def roles(request: ApprovalRequest) -> str | None:
        raise GroupLookupError("user group SAPPROVERS: ratelimited")

    executor = Executor(store, client, "replica-a", lease_seconds=30, roles=roles)
    assert await executor.run(made.id) is None
    assert posts(simulator) == []
    after = await store.get(made.id)
    assert after is not None and after.state == ApprovalState.EXECUTING
    assert await store.lease_holder(made.id) == "replica-a", (
        "the lease is kept until it lapses: the sweeper retries then, not every second"
    )


# -- what the card and the thread say ----------------------------------------------------------


async def test_the_refused_card_says_why_and_keeps_only_user_mentions(store: ApprovalStore) -> None:
    made = await pending(store)
    why = "Refused at approval: <@UREQUESTER> is no longer an operator (BOT_OPERATORS) <!channel>"
    ended = (await store.refuse(made.id, why)).request
    assert ended is not None
    card = json.dumps([b.to_dict() for b in approval_card(ended, approvers="")], ensure_ascii=False)
    assert "⛔ Refused at approval: <@UREQUESTER> is no longer an operator (BOT_OPERATORS)" in card
    assert "Nothing was done." in card and "approval_approve" not in card
    assert "<!channel>" not in card, "only the bot's user mentions survive"
    line = decision_line(ended, "refused", "bot")
    assert line is not None and line.startswith("⛔ Refused at approval: <@UREQUESTER>")
    withdrawn = decision_line(ended, "withdrawn", "UAPPROVER")
    assert withdrawn is not None and "<@UAPPROVER> is no longer an approver" in withdrawn
