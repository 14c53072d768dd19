"""The approval request and what its steps answer, as plain data.

Kept apart from the Redis store so that renderers (blocks/) can show a request without
importing redis: this module imports pydantic, the standard library and bot.integrity only.

State machine (DESIGN.md "Policy and approvals"):

    pending --approve (enough approvers)--> executing --all chunks--> done
    pending --reject--> rejected      pending --cancel (requester)--> cancelled
    pending --sweeper, past expires_at--> expired
    pending --approve, the requester no longer an operator--> refused
    executing --run starts, a role no longer held (requester or a counted approver)--> refused

Roles are checked again, groups fresh from Slack, at each approval and when a run starts
(`ApprovalService`): an approval whose approver lost the role is withdrawn while the request
is pending (it waits for another approver); a request that lacks what it needs is refused.

A request's content (action, params, ids, and the frozen search of a request made from a
search) is covered by `digest`, an HMAC under the bot's integrity key (bot.integrity: derived
from its secrets, never in Redis), re-checked (`verified`) before approving and before
executing: a Redis writer without the key cannot rewrite a request and its digest together.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.integrity import IntegrityKey

ActionName = Literal["release", "move", "block", "allow", "trust"]  # allow, trust: changes.py
CHUNK_SIZE = 1000  # the API's batch limit (docs/001): one POST per chunk


def now_utc() -> datetime:
    return datetime.now(UTC)


class ApprovalState(StrEnum):
    PENDING = "pending"
    EXECUTING = "executing"
    DONE = "done"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUSED = "refused"  # the bot ended it: a role it needs is no longer held (end_reason)


class Approval(BaseModel):
    user: str
    at: datetime


class MessageSummary(BaseModel):
    """What an approver sees of one message (taken when the request is made)."""

    id: str
    subject: str | None = None
    sender: str | None = None
    disposition: str | None = None
    recipient: str | None = None  # this copy's recipient(s): copies of one mail differ only here


class ChunkResult(BaseModel):
    """The stored outcome of one chunk, written before the next chunk starts."""

    index: int
    acted: list[str]  # ids sent to the API in this chunk
    skipped: list[str]  # ids the re-check found already released / moved / gone
    delivered: list[str] = []  # release: ids delivered to every recipient
    failed: list[str] = []  # ids the API reported failed (release: any recipient failed)
    undelivered: list[str] = []  # release: ids with undelivered recipients or no outcome
    error: str | None = None  # the chunk could not be sent at all
    not_found: list[str] = []  # the part of `skipped` the API did not know (any more)
    note: str | None = None  # block: what the one step did ("blocked", "already blocked")


class FrozenSearch(BaseModel):
    """The search a request was made from ("Release/Move all matching"), fixed when the request
    was made: its filters with an explicit start and end, as query parameters. The executor
    runs it again to re-check the request (`eligible.py`): with a fixed window, mail that
    arrived since is not in it, and the window does not slide past older matches."""

    model_config = ConfigDict(frozen=True)

    filters: dict[str, str]  # SearchFilters.params(): start and end always set, no per_page
    # How many of its first results the request was made from (at most BOT_BULK_SEARCH_LIMIT):
    # its ids are among them, so the re-check reads that many, and a page more.
    matches: int = 0


class ApprovalRequest(BaseModel):
    id: str
    action: ActionName
    params: dict[str, str]  # move: {"folder": ...}; release: {}; block: {"pattern", "pattern_type"}
    # sorted, unique (block: empty; its one step is one block_sender call; allow and trust: the
    # message it was asked from, if any: one step, changes.py)
    ids: list[str]
    digest: str
    requester: str
    reason: str
    rule: str  # why approval is needed ("it touches 250 messages (BOT_BULK_THRESHOLD is 2)")
    summary: list[MessageSummary]  # the first messages, for the card
    guarded: dict[str, int] = {}  # how many messages of each guarded disposition
    channel: str | None = None
    message_ts: str | None = None
    created_at: datetime
    expires_at: datetime
    required: int
    approvals: list[Approval] = []
    state: ApprovalState = ApprovalState.PENDING
    ended_by: str | None = None  # who rejected / cancelled ("bot": refused)
    end_reason: str | None = None
    ended_at: datetime | None = None  # when it was rejected / cancelled / expired / done
    chunks_total: int = 0
    chunks_done: int = 0
    chunk_size: int = CHUNK_SIZE
    executing_at: datetime | None = None  # when the last approval started execution
    search: FrozenSearch | None = None  # the search it was made from (None: ids typed/ticked)

    @property
    def approvers(self) -> set[str]:
        return {a.user for a in self.approvals}

    @property
    def approvals_missing(self) -> int:
        return max(self.required - len(self.approvals), 0)

    def chunk_ids(self, index: int) -> list[str]:
        return self.ids[index * self.chunk_size : (index + 1) * self.chunk_size]


DIGEST_PURPOSE = "approval request"


def _canonical(
    action: str, params: dict[str, str], ids: Sequence[str], search: FrozenSearch | None
) -> bytes:
    content: dict[str, object] = {"action": action, "params": params, "ids": sorted(ids)}
    if search is not None:  # absent, not null: requests stored before searches were kept verify
        content["search"] = search.model_dump()
    return json.dumps(content, sort_keys=True, separators=(",", ":")).encode()


def digest(
    key: IntegrityKey,
    action: str,
    params: dict[str, str],
    ids: Sequence[str],
    search: FrozenSearch | None = None,
) -> str:
    """HMAC-SHA256 under `key` of the canonical JSON of what the request would do."""
    return key.seal(DIGEST_PURPOSE, _canonical(action, params, ids, search))


def verified(request: ApprovalRequest, key: IntegrityKey) -> bool:
    """True when the stored content still matches its digest under `key` (and the ids are
    sorted, unique)."""
    content = _canonical(request.action, request.params, request.ids, request.search)
    return request.ids == sorted(set(request.ids)) and key.verifies(
        DIGEST_PURPOSE, content, request.digest
    )


class Outcome(StrEnum):
    APPROVED = "approved"  # counted; more approvals are needed
    EXECUTE = "execute"  # this approval completed it: the caller now runs the executor
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    REFUSED = "refused"  # the bot ended it (a role it needs is no longer held)
    SELF_APPROVAL = "self_approval"
    ALREADY_APPROVED = "already_approved"
    NOT_REQUESTER = "not_requester"
    NOT_PENDING = "not_pending"  # request.state says what it is now
    EXPIRED = "expired"  # it was pending past its expiry: now expired (by this call)
    TAMPERED = "tampered"  # stored content no longer matches its digest; nothing changed
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    request: ApprovalRequest | None  # as it is after the call (None when not found)

    @property
    def state(self) -> ApprovalState | None:
        return self.request.state if self.request else None


class ExecutionReport(BaseModel):
    """The totals over a request's chunk results, for the final card and the audit entry."""

    acted: int
    succeeded: int  # release: delivered; move: sent and not reported failed
    skipped: int
    not_found: int
    delivered: int
    failed: list[str]
    undelivered: list[str]
    errors: list[str]
    chunks: int
    notes: list[str] = []  # block: what its step did


def report(results: Sequence[ChunkResult]) -> ExecutionReport:
    return ExecutionReport(
        acted=sum(len(r.acted) for r in results),
        succeeded=sum(len(set(r.acted) - set(r.failed) - set(r.undelivered)) for r in results),
        skipped=sum(len(r.skipped) for r in results),
        not_found=sum(len(r.not_found) for r in results),
        delivered=sum(len(r.delivered) for r in results),
        failed=[i for r in results for i in r.failed],
        undelivered=[i for r in results for i in r.undelivered],
        errors=[f"chunk {r.index + 1}: {r.error}" for r in results if r.error],
        chunks=len(results),
        notes=[r.note for r in results if r.note],
    )


# What a request's thread and the people concerned are told of (blocks.outcomes words them).
ApprovalEvent = Literal[
    "requested", "approved", "executing", "rejected", "cancelled", "expired", "finished",
    "withdrawn", "refused",
]  # fmt: skip
