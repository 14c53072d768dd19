"""The one step of an approved settings change (changes.py): create the allow policy or the
trusted domain, exactly once.

The executor calls `apply_change` as a request's only chunk, holding its lease. The list is read
again first: an entry for the pattern already there (made by someone else meanwhile, or by a run
whose result a crash lost) is not created twice; the step says which one it found. The note of
the result names the new entry's id, for the request's card, its thread and the audit trail.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.errors import ApiError
from bot.cloudflare.settings_models import NewTrustedDomain
from bot.services.approvals.changes import ALLOW_FLAGS, allow_kind, flag
from bot.services.approvals.models import ApprovalRequest, ChunkResult

log = logging.getLogger("bot.executor")
T = TypeVar("T")


class Stoppable(Protocol):
    """The executor's `_unless_stopped`: the work's result, or None when told to stop."""

    async def __call__(self, work: Awaitable[T]) -> T | None: ...


def _note(made: ApprovalRequest, verb: str) -> str:
    """The comment the new entry carries in the dashboard: who asked, who approved, why."""
    approvers = ", ".join(sorted(made.approvers)) or "?"
    why = f": {made.reason}" if made.reason else ""
    return (
        f"{verb} from Slack through approval request {made.id}, asked by {made.requester}, "
        f"approved by {approvers}{why}"
    )


async def apply_change(
    client: EmailSecurityClient,
    made: ApprovalRequest,
    index: int,
    ids: list[str],
    unless_stopped: Stoppable,
    posting: Callable[[], None],
) -> ChunkResult | None:
    """Re-check, then make the change; None when told to stop before anything was sent.
    `posting` is called just before the one write (the executor keeps the lease until the
    result is stored)."""
    pattern = made.params["pattern"]
    result = ChunkResult(index=index, acted=[], skipped=[])
    try:
        if made.action == "allow":
            kind = made.params["pattern_type"]
            found = await unless_stopped(client.list_allow_policies(pattern=pattern))
            if found is None:
                return None
            same = [p for p in found if p.pattern.lower() == pattern.lower()]
            if same:
                result.skipped = list(ids)
                result.note = f"an allow policy for it exists already: id {same[0].id}"
                return result
            posting()
            policy_flag = ALLOW_FLAGS[allow_kind(made.params)]
            made_policy = await client.create_allow_policy(
                pattern, kind,  # type: ignore[arg-type]
                verify_sender=flag(made.params, "verify_sender"),
                comments=_note(made, "Allowed"), **{policy_flag: True},
            )  # fmt: skip
            result.acted, result.note = list(ids), f"allow policy {made_policy.id} created"
            return result
        found_domains = await unless_stopped(client.list_trusted_domains(pattern=pattern))
        if found_domains is None:
            return None
        same_domain = [d for d in found_domains if d.pattern.lower() == pattern.lower()]
        if same_domain:
            result.skipped = list(ids)
            result.note = f"the domain is trusted already: id {same_domain[0].id}"
            return result
        posting()
        new = NewTrustedDomain(
            pattern=pattern, is_recent=flag(made.params, "recent"),
            is_similarity=flag(made.params, "similarity"), comments=_note(made, "Trusted")[:1024],
        )  # fmt: skip
        entry = await client.trusted_domains.create(new)
    except (ApiError, ValueError) as exc:
        log.warning("approval request %s: %s failed: %s", made.id, made.action, exc)
        result.failed, result.error = list(ids), str(exc)
        return result
    result.acted, result.note = list(ids), f"trusted domain {entry.id} added"
    return result
