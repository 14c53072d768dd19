"""Approval requests for the executor tests, and what their execution sent to the simulator."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.services.approvals import (
    ApprovalRequest,
    ApprovalStore,
    FrozenSearch,
    MessageSummary,
    Outcome,
    freeze,
)
from tests.kit.factories import quarantined_messages
from tests.kit.servers import SimulatorProcess


async def approved(
    store: ApprovalStore,
    ids: Sequence[str],
    *,
    action: str = "release",
    params: dict[str, str] | None = None,
    chunk_size: int = 1000,
    search: FrozenSearch | None = None,
) -> ApprovalRequest:
    """A request for `ids` (made from `search`, if given), created and approved by one
    approver: ready to execute."""
    made = await store.create(
        action=action,
        params=params or {},
        ids=ids,
        requester="UREQUESTER",
        reason="false positive",
        rule="bulk",
        summary=[MessageSummary(id=i) for i in ids[:3]],
        ttl_seconds=3600,
        required=1,
        channel="C1",
        chunk_size=chunk_size,
        search=search,
    )
    decision = await store.approve(made.id, "UAPPROVER")
    assert decision.outcome == Outcome.EXECUTE and decision.request is not None
    return decision.request


def batch(simulator: SimulatorProcess, count: int, tag: str) -> list[str]:
    """`count` quarantined messages with the subject "<tag> batch": their ids."""
    messages = quarantined_messages(count, tag)
    for message in messages:
        message["subject"] = f"{tag} batch"
    return simulator.add_messages(messages)


def batch_search(tag: str) -> FrozenSearch:
    """The search for `batch(…, tag)`, frozen now, as "Release all matching" freezes it."""
    return freeze({"subject": f"{tag} batch", "detections_only": False}, datetime.now(UTC))


def posts(
    simulator: SimulatorProcess, path_end: str = "/investigate/release"
) -> list[dict[str, Any]]:
    return [c for c in simulator.calls() if c["method"] == "POST" and c["path"].endswith(path_end)]


def posted_release_ids(simulator: SimulatorProcess) -> list[str]:
    """Every id any release POST carried (accepted or not)."""
    return [i for c in posts(simulator) for i in c["body"]]


def attacker_digest(action: str, params: dict[str, str], ids: Sequence[str]) -> str:
    """The digest a Redis writer without the key computes for rewritten content: sha256 over
    the canonical JSON of action, params and sorted ids (the bot's unkeyed digest of old)."""
    canonical = json.dumps(
        {"action": action, "params": params, "ids": sorted(ids)},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
