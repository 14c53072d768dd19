"""The one step of an approved block (a domain or address the usual rules say needs an
approver: bot/services/blocking.py): add it to the tenant's block list, exactly once (step.py:
the block list is read again first, and a pattern already listed is not posted twice).
"""

from __future__ import annotations

from collections.abc import Callable

from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.settings_models import BlockedSender
from bot.services.approvals.models import ApprovalRequest, ChunkResult
from bot.services.approvals.step import Stoppable, add_once


async def apply_block(
    client: EmailSecurityClient,
    made: ApprovalRequest,
    index: int,
    ids: list[str],
    unless_stopped: Stoppable,
    posting: Callable[[], None],
) -> ChunkResult | None:
    """Re-check the block list, then one block_sender call; None when told to stop before
    anything was sent."""
    pattern, kind = made.params["pattern"], made.params["pattern_type"]

    async def block() -> str:
        note = (
            f"Blocked from Slack through approval request {made.id}, asked by "
            f"{made.requester}" + (f": {made.reason}" if made.reason else "")
        )
        await client.block_sender(pattern, kind, comments=note)  # type: ignore[arg-type]
        return "blocked"

    def listed_already(_: BlockedSender) -> str:
        return "already on the block list"

    return await add_once(
        made, index, ids, unless_stopped, posting, there=listed_already, add=block,
        listed=client.list_blocked_senders(pattern=pattern, pattern_type=kind),
    )  # fmt: skip
