"""Reading the API's answers to a chunk's release or move into its `ChunkResult`: which
messages were delivered, failed or left undelivered (a release), which moves failed."""

from __future__ import annotations

from bot.cloudflare.models import MoveResult, ReleaseResult
from bot.services.approvals.models import ChunkResult


def read_released(result: ChunkResult, answers: list[ReleaseResult]) -> None:
    for answer in answers:
        if answer.outcome == "delivered":
            result.delivered.append(answer.id)
        elif answer.failed:
            result.failed.append(answer.id)
        else:  # undelivered recipients, or no outcome at all
            result.undelivered.append(answer.id)


def read_moved(result: ChunkResult, answers: list[MoveResult]) -> list[str]:
    """Adds the failed moves to `result`; returns the errors to report (answers naming no
    message of the chunk)."""
    sent = set(result.acted)
    failed: set[str] = set()
    unmatched = 0
    for answer in answers:
        if answer.success:
            continue
        if answer.message_id in sent:
            failed.add(answer.message_id)
        elif len(result.acted) == 1:  # one message sent: the failure is that message's
            failed.add(result.acted[0])
        else:
            unmatched += 1
    result.failed += sorted(failed)
    if unmatched:
        return [f"{unmatched} move results reported a failure for an unknown message"]
    return []
