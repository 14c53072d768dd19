""" "Release/Move all matching": one approval request for a whole saved search, and how far the
bot reads that search to make it.

Cloudflare's search gives no total (`result_info.total_count` is deprecated and always 0,
docs/client.md), so counting a search costs one API call per 1,000 matches: 100 calls for
100,000, ten times what the bulk job that acts on them costs. The bot reads BOT_BULK_SEARCH_LIMIT
results and one more, never further:

- The first BOT_BULK_SEARCH_LIMIT are the request's ids: what its approver sees, what the guard
  rules judge, and what it falls back to (re-checked, in chunks) if the API refuses bulk jobs.
- The one more says whether the search goes on. When it does not, the matches are counted: the
  request is one of ids, or with BOT_BULK_ALL_AS_QUERY a query whose ceiling is that count.
  When it does, the request is a query (one Cloudflare bulk job, approvals/bulkjob.py) whose
  ceiling is BOT_BULK_JOB_CEILING, and everything that shows the request says nobody counted
  (`jobstate.uncounted`, `params["ceiling_from"]`).
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.models import Destination
from bot.commands import role_for
from bot.config import Settings
from bot.errors import Gone, InvalidInput
from bot.roles import Role
from bot.services.actions import ActionService
from bot.services.approvals.eligible import PER_PAGE, freeze, search_args
from bot.services.approvals.jobstate import CEILING, CEILING_FROM, COUNTED, SETTING, uncounted
from bot.services.approvals.models import FrozenSearch
from bot.services.approvals.service import ApprovalService
from bot.services.briefs import Brief
from bot.services.guard import ApprovalNeeded
from bot.services.outcomes import ActionResult
from bot.services.policy import Policy
from bot.services.ports import Origin
from bot.store import SearchStore

EVERY = "every bulk action from a search is approved by a second person"


@dataclass(frozen=True)
class SearchRead:
    """What the bot read of a search: at most `limit` results and one more."""

    found: list[Brief]  # the results among the first `limit` that the action covers
    results: int  # results among the first `limit` (all of them, covered or not)
    more: bool  # the search went on past `limit`: its matches were not counted


@dataclass(frozen=True)
class Ceiling:
    """A query's ceiling and where it came from (COUNTED or SETTING)."""

    value: int
    source: str


def as_query(ceiling: Ceiling, action: str, read: SearchRead) -> str:
    """Said of a request approved as a query, in its rule (the card's "Why approval", the
    requester's answer, the audit)."""
    if ceiling.source == COUNTED:
        return (
            f"Approved as a query: at most {ceiling.value:,} messages, acted on by one "
            "Cloudflare bulk job (the first ones in chunks if the API refuses bulk jobs)"
        )
    return (
        f"Approved as a query, run by one Cloudflare bulk job (the first {read.results:,} "
        f"matches in chunks if the API refuses bulk jobs). "
        f"{uncounted(read.results, ceiling.value, action)}"
    )


class QueryService:
    def __init__(
        self,
        *,
        email: EmailSecurityClient,
        actions: ActionService,
        approvals: ApprovalService,
        policy: Policy,
        searches: SearchStore,
        settings: Settings,
    ) -> None:
        self.email = email
        self.actions = actions  # the approval rules (needs_approval)
        self.approvals = approvals
        self.policy = policy
        self.searches = searches
        self.search_limit = settings.bot_bulk_search_limit
        self.job_ceiling = settings.bot_bulk_job_ceiling
        self.all_as_query = settings.bot_bulk_all_as_query

    async def all_matching(
        self,
        actor: str,
        key: str,
        action: Literal["release", "move"],
        origin: Origin,
        folder: Destination | None = None,
        reason: str = "",
    ) -> ActionResult:
        """Every message of a saved search into one approval request: a second person approves
        every action on a whole search. Past BOT_BULK_SEARCH_LIMIT matches it is a query with
        BOT_BULK_JOB_CEILING as its ceiling, and its card, the answer and the audit say so."""
        await self.policy.require(actor, role_for(action), f"{action} messages")
        saved = await self.searches.load(key)
        if saved is None:
            raise Gone("That search has expired (searches are kept an hour); run it again.")
        # Its window fixed now: the request and its re-check after approval see the same search.
        frozen = freeze(saved.filters, datetime.now(UTC))
        read = await self._read(frozen, action)
        if not read.found:
            raise InvalidInput(_nothing(read))
        if action == "move" and folder is None:
            raise InvalidInput("Choose the folder to move the messages to.")
        # The re-check after approval reads that many results (and a page more) for its ids.
        frozen = frozen.model_copy(update={"matches": read.results})
        need = await self.actions.needs_approval(
            action, read.found, folder, first_of_more=read.more
        ) or ApprovalNeeded(EVERY)
        params: dict[str, str] = {"folder": folder} if action == "move" and folder else {}
        ceiling = self._ceiling(read)
        if ceiling is not None:  # a query, run as one bulk job (approvals/jobstate.py)
            params |= {CEILING: str(ceiling.value), CEILING_FROM: ceiling.source}
            rule = f"{need.reason}. {as_query(ceiling, action, read)}"
            need = dataclasses.replace(need, reason=rule)
        made = await self.approvals.request(
            actor, action, read.found, params, rule=need.reason, reason=reason,
            channel=origin.channel, verdicts=need.verdicts, search=frozen,
        )  # fmt: skip
        return ActionResult(requested=made, approvers=self.policy.who(Role.APPROVER))

    def _ceiling(self, read: SearchRead) -> Ceiling | None:
        """The query's ceiling; None for a request of ids (a counted search, not all as query).

        What it is compared with: the job's `total_messages_discovered`. A release's job
        searches only what is still quarantined (approvals/bulkjob.py `job_search` adds
        delivery_status=quarantined, and the simulator's job discovers what that search finds),
        so a counted release's ceiling is its quarantined matches (`found`), not every result:
        both sides count the messages the job acts on. BOT_BULK_JOB_CEILING bounds the same
        thing: the messages the job would act on, whatever the search's other matches."""
        if read.more:
            return Ceiling(self.job_ceiling, SETTING)
        if self.all_as_query:
            return Ceiling(len(read.found), COUNTED)
        return None

    async def _read(self, frozen: FrozenSearch, action: Literal["release", "move"]) -> SearchRead:
        """The first BOT_BULK_SEARCH_LIMIT results of `frozen` and whether there is one more,
        the covered ones (a release: the quarantined) as briefs taken page by page. Pages are
        as small as that allows: a limit of 5 reads one page of 6."""
        limit = self.search_limit
        search = self.email.search_matches(
            limit=limit + 1, per_page=min(PER_PAGE, limit + 1), **search_args(frozen)
        )
        found: list[Brief] = []
        results = 0
        values: dict[str, str] = {}  # what the matches repeat (a campaign's subject) kept once
        async with contextlib.aclosing(search):
            async for message in search:
                if results == limit:  # the one more: the search goes on
                    return SearchRead(found, results, more=True)
                results += 1
                if action != "release" or message.is_quarantined:
                    found.append(Brief.of(message, values))
        return SearchRead(found, results, more=False)


def _nothing(read: SearchRead) -> str:
    """Why a search gives no request: nothing it matches needs the action."""
    if read.more:
        return (
            f"None of the first {read.results:,} matches of that search is quarantined, and the "
            "bot reads no further; narrow the search to the quarantined ones."
        )
    return "No message of that search needs it (nothing quarantined matches)."
