"""The one step of an approved settings change (a block, an allow policy, a trusted domain):
add one entry to a settings list, exactly once. apply.py and block_step.py say what to read,
what to add and what to note; this module is how every such step runs.

The executor calls the step as the request's only chunk, holding its lease. The list is read
again first: a pattern already there (added by someone else meanwhile, or by a run whose result
a crash lost) is not added twice, and the step says so. `posting` is called just before the one
write: the run then leaves its lease to lapse rather than release it, should it stop before the
result is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.errors import ApiError
from bot.services.approvals.models import ApprovalRequest, ChunkResult

log = logging.getLogger("bot.executor")
T = TypeVar("T")


class Stoppable(Protocol):
    """The executor's `_unless_stopped`: the work's result, or None when told to stop."""

    async def __call__(self, work: Awaitable[T]) -> T | None: ...


class Entry(Protocol):
    """An entry of a settings list, as the step reads it."""

    @property
    def id(self) -> str: ...

    @property
    def pattern(self) -> str: ...


L = TypeVar("L", bound=Entry)
# One such step (apply.py, block_step.py): client, request, chunk index (0), its ids, the
# executor's `_unless_stopped`, `posting`; None when told to stop before anything was sent.
Step = Callable[
    [EmailSecurityClient, ApprovalRequest, int, list[str], Stoppable, Callable[[], None]],
    Awaitable[ChunkResult | None],
]


async def add_once(
    made: ApprovalRequest,
    index: int,
    ids: list[str],
    unless_stopped: Stoppable,
    posting: Callable[[], None],
    *,
    listed: Awaitable[Sequence[L]],
    there: Callable[[L], str],
    add: Callable[[], Awaitable[str]],
) -> ChunkResult | None:
    """Read the list again (`listed`, its entries of the request's pattern); one of the same
    pattern, whatever the case, skips the step with `there(entry)` as its note. Else
    `posting()`, then `add()`, whose answer is the note. None when told to stop before
    anything was sent; an API refusal fails the step."""
    pattern = made.params["pattern"].lower()
    result = ChunkResult(index=index, acted=[], skipped=[])
    try:
        found = await unless_stopped(listed)
        if found is None:
            return None
        same = [entry for entry in found if entry.pattern.lower() == pattern]
        if same:
            result.skipped, result.note = list(ids), there(same[0])
            return result
        posting()
        note = await add()
    except (ApiError, ValueError) as exc:
        log.warning("approval request %s: %s failed: %s", made.id, made.action, exc)
        result.failed, result.error = list(ids), str(exc)
        return result
    result.acted, result.note = list(ids), note
    return result
