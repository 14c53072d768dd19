"""The one step of an approved settings change (changes.py): create the allow policy or the
trusted domain, exactly once (step.py: read again first, an entry for the pattern already there
is not created twice, and the step says which one it found). The note of the result names the
new entry's id, for the request's card, its thread and the audit trail.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.settings_models import AllowPolicy, NewTrustedDomain, TrustedDomain
from bot.services.approvals.changes import ALLOW_FLAGS, allow_kind, flag
from bot.services.approvals.models import ApprovalRequest, ChunkResult
from bot.services.approvals.step import Stoppable, add_once


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

    async def allow() -> str:
        created = await client.create_allow_policy(
            pattern, made.params["pattern_type"],  # type: ignore[arg-type]
            verify_sender=flag(made.params, "verify_sender"),
            comments=_note(made, "Allowed"), **{ALLOW_FLAGS[allow_kind(made.params)]: True},
        )  # fmt: skip
        return f"allow policy {created.id} created"

    async def trust() -> str:
        new = NewTrustedDomain(
            pattern=pattern, is_recent=flag(made.params, "recent"),
            is_similarity=flag(made.params, "similarity"), comments=_note(made, "Trusted")[:1024],
        )  # fmt: skip
        return f"trusted domain {(await client.trusted_domains.create(new)).id} added"

    listed: Awaitable[Sequence[AllowPolicy | TrustedDomain]]
    if made.action == "allow":
        listed = client.list_allow_policies(pattern=pattern)
        there, add = "an allow policy for it exists already", allow
    else:
        listed = client.list_trusted_domains(pattern=pattern)
        there, add = "the domain is trusted already", trust
    return await add_once(
        made, index, ids, unless_stopped, posting, listed=listed, add=add,
        there=lambda entry: f"{there}: id {entry.id}",
    )  # fmt: skip
