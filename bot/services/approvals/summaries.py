"""What an approver sees of each message of a request: ordered guarded first, with the verdict
the guard used and this copy's recipient; and how many of each guarded kind it includes.

A request made from a search has up to 10,000 messages: their summaries are made as they are
read (the card's first ones, the thread's file line by line), never held all at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import overload

from bot.cloudflare.dispositions import BY_SEVERITY, Disposition
from bot.services.approvals.models import MessageSummary
from bot.services.briefs import Described

UNDETERMINED = "UNDETERMINED"  # shown for a message the guard found no verdict for


def summarise(
    messages: Sequence[Described],
    guarded: frozenset[str],
    verdicts: Mapping[str, Disposition | None] | None = None,
) -> Summaries:
    """What an approver sees of every message: guarded ones first (most severe first), each
    with this copy's recipient. With the guard's `verdicts`, a message shows the verdict the
    guard used (its detections' when its own is missing; UNDETERMINED, guarded, when none)."""
    found = verdicts or {}

    def shown(message: Described) -> str | None:
        if message.id not in found:
            return message.final_disposition
        verdict = found[message.id]
        return verdict.value if verdict is not None else UNDETERMINED

    def rank(message: Described) -> tuple[int, int]:
        value = shown(message)
        severity = next((i for i, d in enumerate(BY_SEVERITY) if d.value == value), -1)
        first = value in guarded or value == UNDETERMINED
        return (0 if first else 1, severity if severity >= 0 else len(BY_SEVERITY))

    return Summaries(sorted(messages, key=rank), shown)


class Summaries(Sequence[MessageSummary]):
    """The summaries of `ordered`, each made when it is read."""

    def __init__(self, ordered: list[Described], shown: Callable[[Described], str | None]) -> None:
        self._ordered = ordered
        self._shown = shown

    def __len__(self) -> int:
        return len(self._ordered)

    @overload
    def __getitem__(self, index: int) -> MessageSummary: ...

    @overload
    def __getitem__(self, index: slice) -> list[MessageSummary]: ...

    def __getitem__(self, index: int | slice) -> MessageSummary | list[MessageSummary]:
        if isinstance(index, slice):
            return [self._summary(m) for m in self._ordered[index]]
        return self._summary(self._ordered[index])

    def _summary(self, message: Described) -> MessageSummary:
        return MessageSummary(
            id=message.id, subject=message.subject, sender=message.sender,
            disposition=self._shown(message), recipient=", ".join(message.recipients[:3]) or None,
        )  # fmt: skip


def guarded_counts(summaries: Sequence[MessageSummary], guarded: frozenset[str]) -> dict[str, int]:
    kinds = guarded | {UNDETERMINED}
    return dict(
        Counter(s.disposition for s in summaries if s.disposition and s.disposition in kinds)
    )
