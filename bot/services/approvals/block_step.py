"""The one step of an approved block (a domain or address the usual rules say needs an
approver: bot/services/blocking.py): add it to the tenant's block list, exactly once.

The executor calls `apply_block` as the request's only chunk, holding its lease. The block list
is read again first: a pattern already listed (blocked by someone else meanwhile, or by a run
whose result a crash lost) is not posted twice; the step says it was there already.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.errors import ApiError
from bot.services.approvals.apply import Stoppable
from bot.services.approvals.models import ApprovalRequest, ChunkResult

log = logging.getLogger("bot.executor")


async def apply_block(
    client: EmailSecurityClient,
    made: ApprovalRequest,
    index: int,
    ids: list[str],
    unless_stopped: Stoppable,
    posting: Callable[[], None],
) -> ChunkResult | None:
    """Re-check the block list, then one block_sender call; None when told to stop before
    anything was sent. `posting` is called just before the POST (the run then leaves its lease
    to lapse rather than release it, should it stop before the result is stored)."""
    pattern, kind = made.params["pattern"], made.params["pattern_type"]
    result = ChunkResult(index=index, acted=[], skipped=[])
    try:
        listed = await unless_stopped(
            client.list_blocked_senders(pattern=pattern, pattern_type=kind)
        )
        if listed is None:
            return None
        if any(b.pattern.lower() == pattern.lower() for b in listed):
            result.skipped, result.note = list(ids), "already on the block list"
            return result
        posting()  # until this step's result is stored
        note = (
            f"Blocked from Slack through approval request {made.id}, asked by "
            f"{made.requester}" + (f": {made.reason}" if made.reason else "")
        )
        await client.block_sender(pattern, kind, comments=note)  # type: ignore[arg-type]
    except (ApiError, ValueError) as exc:
        log.warning("approval request %s: block failed: %s", made.id, exc)
        result.failed, result.error = list(ids), str(exc)
        return result
    result.acted, result.note = list(ids), "blocked"
    return result
