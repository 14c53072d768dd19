"""What of an approved release or move still needs doing, asked just before acting (the
executor's re-check), and the frozen search a request made from a search is re-checked with.

The rule, per message: a release still needs a message that is still quarantined; a move, one
whose last folder change was not a move to that folder (its action log says, looked at only
for a message that was ever moved). Already done: skipped; unknown to the API: not found.

Two ways to ask, one rule:

- By search. A request made from a search ("Release/Move all matching") keeps that search
  frozen (`freeze`: its filters with a fixed start and end, under the request's digest). The
  executor runs it again, 1,000 results a page, and decides each id still to do that it
  returns from the result itself: about one call per 1,000 ids, where one GET per id cost
  10,010 calls for 10,000 ids, at least 37 minutes of Cloudflare's 1,200 requests per 5 minutes
  (docs/performance.md). Only each id's check is kept, never the messages. The answer serves
  the chunks that follow for `search_max_age` seconds (the executor's), then is asked again.
- One GET per id: the ids the search no longer returns (they left it: changed, gone), the ids
  of a move that were ever moved (their action log is fetched), the requests without a search
  (ids typed or ticked: at most 100), and every request when BOT_RECHECK_BY_SEARCH is false.

A search that fails (after the client's retries) decides nothing more: the ids it did not
answer count as not re-checked, so they are not sent (reported failed), and the next chunk asks
again. The simulator answers a search and a GET from the same records; should Cloudflare's
search ever lag behind a message's state, BOT_RECHECK_BY_SEARCH=false goes back to one GET per
id.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.errors import ApiError, NotFoundError
from bot.cloudflare.filters import SearchFilters
from bot.cloudflare.models import MessageMatch
from bot.services.approvals.models import ApprovalRequest, FrozenSearch

PER_PAGE = 1000  # the API's most results a page
EXTRA_PAGES = 1  # read past the request's own results (matches that moved down) before GETs
SEARCH_WINDOW = timedelta(days=30)  # the API's start when none is given: now - 30 days

Check = Literal["act", "skip", "not_found"] | ApiError | ValueError


def freeze(filters: Mapping[str, Any], now: datetime) -> FrozenSearch:
    """A saved search's `filters` with its window made explicit: from its own start, else the
    API's default (now - 30 days), to `now`, both to the second (the API's precision). A
    filter the API does not take raises ValueError."""
    checked = SearchFilters.model_validate({k: v for k, v in filters.items() if k != "per_page"})
    window = {"start": checked.start or now - SEARCH_WINDOW, "end": checked.end or now}
    return FrozenSearch(filters=checked.model_copy(update=window).params())


def search_args(search: FrozenSearch) -> dict[str, Any]:
    """The frozen search as `EmailSecurityClient.search` keywords."""
    return SearchFilters.model_validate(search.filters).model_dump(exclude_none=True)


@dataclass(frozen=True)
class Snapshot:
    """What one run of the search said of the ids still to do: a check for each id it decided
    (never the message), when it was taken (time.monotonic), and the error that ended it early."""

    checks: dict[str, Check]
    taken: float
    error: ApiError | ValueError | None = None


class Eligibility:
    """Asks the API which ids still need the request's action (see the module docstring)."""

    def __init__(self, client: EmailSecurityClient, concurrency: int) -> None:
        self.client = client
        self.concurrency = concurrency

    async def by_search(self, made: ApprovalRequest, ids: Collection[str]) -> Snapshot:
        """Run `made`'s frozen search again and decide each of `ids` it returns. Reading stops
        once every id was seen, or a page past the results the request was made from; an id
        left undecided (not returned, or a move's ever-moved message) is for `one_by_one`."""
        if made.search is None:
            raise ValueError(f"approval request {made.id} was not made from a search")
        # Keyed by the request's own id strings: the answer keeps nothing of the pages.
        wanted = {i: i for i in ids}
        checks: dict[str, Check] = {}
        # The ids still to do can be anywhere among the results the request was made from
        # (chunks follow the sorted ids, the search its own order): read them all.
        covered = max(made.search.matches, len(made.ids))
        pages = math.ceil(covered / PER_PAGE) + EXTRA_PAGES
        results = self.client.search_matches(
            limit=pages * PER_PAGE, per_page=PER_PAGE, **search_args(made.search)
        )
        try:
            async with contextlib.aclosing(results):
                async for message in results:
                    own = wanted.pop(message.id, None)
                    if own is None:
                        continue
                    check = _decided(made, message)
                    if check is not None:
                        checks[own] = check
                    if not wanted:
                        break
        except (ApiError, ValueError) as exc:
            # Nothing unanswered may be sent: the executor reports these as not re-checked.
            checks.update(dict.fromkeys(wanted, exc))
            return Snapshot(checks, time.monotonic(), exc)
        return Snapshot(checks, time.monotonic())

    async def one_by_one(self, made: ApprovalRequest, ids: Collection[str]) -> dict[str, Check]:
        """Fetch each of `ids` (`concurrency` at a time) and decide it."""
        limit = asyncio.Semaphore(self.concurrency)
        folder = made.params.get("folder")

        async def check(message_id: str) -> Check:
            async with limit:
                try:
                    message = await self.client.get_message(message_id)
                    decided = _decided(made, message)
                    if decided is not None:
                        return decided
                    return "skip" if await self._already_moved(message, folder) else "act"
                except NotFoundError:
                    return "not_found"
                except (ApiError, ValueError) as exc:
                    return exc

        ordered = list(ids)
        answers = await asyncio.gather(*(check(i) for i in ordered))
        return dict(zip(ordered, answers, strict=True))

    async def _already_moved(self, message: MessageMatch, folder: str | None) -> bool:
        """True when the message's last folder change was a move to `folder` (a move that a
        crash kept from being recorded, or one done by someone else meanwhile)."""
        entries = [
            e
            for e in await self.client.get_action_log(message.id)
            if e.success is not False
            and (e.operation == "MOVE" or "RELEASE" in e.operation.upper())
        ]
        if not entries:
            return False
        latest = entries[-1]
        return (
            latest.operation == "MOVE"
            and latest.properties is not None
            and latest.properties.folder == folder
        )


def _decided(made: ApprovalRequest, message: MessageMatch) -> Check | None:
    """The rule applied to a message as a search or a GET answered it; None when only its action
    log can tell (a move of a message that was ever moved)."""
    if made.action == "release":
        return "act" if message.is_quarantined else "skip"
    return None if "MOVE" in (message.post_delivery_operations or []) else "act"
