"""The approval rule (DESIGN.md "Policy and approvals"): which release or move waits for a second
person, and every reason why.

- Bulk: at least BOT_BULK_THRESHOLD messages.
- Guarded: a release of a message whose verdict is guarded (BOT_GUARDED_DISPOSITIONS), or a
  move of one to Inbox, which puts it in front of its recipient as a release does.
- A message's verdict is the most severe disposition known (`BY_SEVERITY`): its own final
  disposition, else its detections' (their final disposition and every finding's). UNKNOWN and
  values new to the bot are no verdict. A message with no verdict at all (the API left it
  empty, its detections say nothing, or they could not be fetched) counts as guarded: a control
  that fails open is released by whoever finds the gap.

The rule is a pure function of the messages and their verdicts, so it is tested from data
alone; `Verdicts` fetches what the messages themselves do not say.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.dispositions import BY_SEVERITY, Disposition
from bot.cloudflare.errors import ApiError
from bot.cloudflare.models import Detections
from bot.services.briefs import Described

log = logging.getLogger("bot.guard")
DETECTIONS_FETCHED = 100  # messages per request whose detections are fetched; the rest: guarded
FETCH_CONCURRENCY = 10


@dataclass(frozen=True)
class ApprovalNeeded:
    """The action must wait for an approver; `reason` names every rule that says so
    ("it touches 12 messages (BOT_BULK_THRESHOLD is 2); it releases 1 MALICIOUS message
    (BOT_GUARDED_DISPOSITIONS)"). `verdicts` are what the guard found of each message (None:
    undetermined), when a guard applied, so the approver sees the same verdicts."""

    reason: str
    verdicts: Mapping[str, Disposition | None] = field(default_factory=dict)


def most_severe(values: Iterable[str | None]) -> Disposition | None:
    """The most severe verdict among `values` (None when none is a verdict: UNKNOWN, empty or
    new to the bot)."""
    known = {(v or "").upper() for v in values} - {Disposition.UNKNOWN.value}
    return next((d for d in BY_SEVERITY if d.value in known), None)


def verdict(message: Described, detections: Detections | None) -> Disposition | None:
    """The message's own final disposition, else the most severe its detections name."""
    own = most_severe([message.final_disposition])
    if own is not None or detections is None:
        return own
    findings = [f.detection for f in detections.findings or []]
    return most_severe([detections.final_disposition, *findings])


def approval_needed(
    action: Literal["release", "move"],
    messages: Sequence[Described],
    verdicts: Mapping[str, Disposition | None],
    *,
    bulk_threshold: int,
    guarded: frozenset[str],
    folder: str | None = None,
    first_of_more: bool = False,
) -> ApprovalNeeded | None:
    """Every rule that makes this action wait for an approver, or None. A message missing from
    `verdicts` has no verdict, so it counts as guarded. With `first_of_more`, `messages` are
    only the first of a search that goes on (a query): the rules say so, not undercount."""
    rules: list[str] = []
    if first_of_more or len(messages) >= bulk_threshold:
        many = f"more than {len(messages):,}" if first_of_more else str(len(messages))
        rules.append(f"it touches {many} messages (BOT_BULK_THRESHOLD is {bulk_threshold})")
    lead = f"of the first {len(messages):,}, " if first_of_more else ""
    if action == "release" or folder == "Inbox":
        found = [verdicts.get(m.id) for m in messages]
        hits = Counter(d for d in found if d is not None and d.value in guarded)
        unknown = sum(1 for d in found if d is None)
        verb, where = ("releases", "") if action == "release" else ("moves", " to Inbox")
        if hits:
            named = " and ".join(f"{hits[d]} {d.value}" for d in BY_SEVERITY if d in hits)
            total = hits.total()
            rules.append(
                f"{lead}it {verb} {named} {_noun(total)}{where} (BOT_GUARDED_DISPOSITIONS)"
            )
        if unknown:
            rules.append(
                f"{lead}it {verb} {unknown} {_noun(unknown)}{where} whose disposition could not be "
                "determined (guarded: fail closed)"
            )
    if not rules:
        return None
    guarding = action == "release" or folder == "Inbox"
    seen = {m.id: verdicts.get(m.id) for m in messages} if guarding else {}
    return ApprovalNeeded("; ".join(rules), seen)


def _noun(count: int) -> str:
    return "message" if count == 1 else "messages"


class Verdicts:
    """The verdict of each message, fetching detections only for those whose own final
    disposition is missing (at most DETECTIONS_FETCHED per call, FETCH_CONCURRENCY at once)."""

    def __init__(self, email: EmailSecurityClient) -> None:
        self.email = email

    async def of(self, messages: Sequence[Described]) -> dict[str, Disposition | None]:
        found = {m.id: verdict(m, None) for m in messages}
        unsure = [m for m in messages if found[m.id] is None]
        limit = asyncio.Semaphore(FETCH_CONCURRENCY)

        async def fetched(message: Described) -> Disposition | None:
            async with limit:
                try:
                    return verdict(message, await self.email.get_detections(message.id))
                except (ApiError, ValueError) as exc:  # no verdict: guarded
                    log.info("no detections for %s: %s", message.id, exc)
                    return None

        # Past the cap the rest stay without a verdict (guarded): many such messages make a
        # bulk request anyway, and a request must not wait on thousands of look-ups.
        checked = unsure[:DETECTIONS_FETCHED]
        for message, answer in zip(
            checked, await asyncio.gather(*(fetched(m) for m in checked)), strict=True
        ):
            found[message.id] = answer
        return found
