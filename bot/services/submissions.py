"""Reclassify submissions (issue 16, item 4): the account's list a page at a time, and
following the ones made from the bot until Cloudflare decides them.

Following: a reclassify (`ActionService.reclassify`) leaves a follow in Redis
(`bot.store.follows`): the message, its postfix id, the verdict asked for, who asked, when,
and the card it came from. The API's reclassify answers nothing to follow by, so `check` (run
in the alert poller's cycle, under its lease: one replica at a time) reads the team's
submissions since the oldest follow in one list, binds each follow to the submission of its
message and verdict made just after it, and once that submission has an outcome, claims the
follow (exactly one caller wins, whatever the replicas) and shows the outcome on the card it
came from (a line, and in its thread) and on every other card of the message (CardKeeper).

The claim keeps what to show under the replica's name with a lease until it is shown; a replica
that dies part way leaves it, and the next `check` after the lease (on any replica) shows it
again. Showing twice adds nothing: a card's history gains the record once, and the thread is
told once (a Once mark on the submission id, taken just before the reply: a reply Slack may
have taken as the bot died is not sent again).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.models import MessageDetails, Submission
from bot.commands import role_for
from bot.errors import InvalidInput, StoreUnavailable
from bot.report_commands import MAX_SINCE, SUBMISSION_STATUSES
from bot.services import paging
from bot.services.outcomes import SubmissionDecided, dump_outcome, load_outcome
from bot.services.paging import DIGITS, Page
from bot.services.policy import Policy
from bot.services.ports import CardRef
from bot.services.showing import CardKeeper
from bot.store import Once
from bot.store.follows import FollowStore

log = logging.getLogger("bot.services.submissions")

UNREADABLE = "That page of submissions cannot be shown; run `submissions` again."
MAX_FILTER = 40  # characters of a page key's window and status (seconds, then a status)
FOLLOW_DAYS = 14  # a submission not decided by then is no longer followed
SKEW = timedelta(minutes=10)  # clock difference allowed between the bot and Cloudflare
SHOW_SECONDS = 10.0  # a claimed outcome is shown again when its replica has not said done by then


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SubmissionsPage:
    """One page of submissions (`listed`), and the window and status they were read with."""

    listed: Page[Submission]
    since: timedelta
    status: str | None


def page_key(page: int, since: timedelta, status: str | None) -> str:
    """The value of a "More" button: the page, the window in seconds and the status."""
    return paging.page_key(page, _filter(since, status))


def _filter(since: timedelta, status: str | None) -> str:
    return f"{int(since.total_seconds())}:{status or ''}"


def _read_key(key: str) -> tuple[int, timedelta, str | None]:
    number, text = paging.read_key(key, MAX_FILTER, UNREADABLE)
    seconds, colon, status = text.partition(":")
    if (
        not colon
        or not DIGITS.fullmatch(seconds)
        or not 0 < int(seconds) <= MAX_SINCE.total_seconds()
        or status not in ("", *SUBMISSION_STATUSES)
    ):
        raise InvalidInput(UNREADABLE)
    return number, timedelta(seconds=int(seconds)), status or None


@dataclass(frozen=True)
class Follow:
    """One reclassify followed until it is decided."""

    message_id: str
    postfix_id: str
    requested: str
    actor: str
    at: datetime
    card: CardRef | None = None
    submission_id: str | None = None

    @property
    def key(self) -> str:
        return f"{self.message_id}|{self.requested}|{self.at.timestamp():.6f}"

    def dump(self) -> str:
        card = None if self.card is None else [self.card.channel, self.card.ts]
        return json.dumps({
            "message_id": self.message_id, "postfix_id": self.postfix_id,
            "requested": self.requested, "actor": self.actor, "at": self.at.isoformat(),
            "card": card, "submission_id": self.submission_id,
        })  # fmt: skip

    @staticmethod
    def load(text: str) -> Follow | None:
        try:
            data = json.loads(text)
            card = data.get("card")
            return Follow(
                message_id=data["message_id"], postfix_id=data["postfix_id"],
                requested=data["requested"], actor=data["actor"],
                at=datetime.fromisoformat(data["at"]),
                card=CardRef(card[0], card[1], data["message_id"]) if card else None,
                submission_id=data.get("submission_id"),
            )  # fmt: skip
        except (ValueError, KeyError, TypeError, IndexError):
            return None


class SubmissionService:
    def __init__(
        self,
        *,
        email: EmailSecurityClient,
        policy: Policy,
        cards: CardKeeper,
        follows: FollowStore,
        once: Once,
        owner: str,
        show_seconds: float = SHOW_SECONDS,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.email = email
        self.policy = policy
        self.cards = cards
        self.follows = follows
        self.once = once
        self.owner = owner  # this replica, named on the outcomes it is showing
        self.show_seconds = show_seconds
        self.clock = clock

    # -- the list ------------------------------------------------------------------------------

    async def listing(
        self, actor: str, since: timedelta, status: str | None = None
    ) -> SubmissionsPage:
        await self.policy.require(actor, role_for("submissions"), "see the submissions")
        return await self._page(1, since, status)

    async def more(self, actor: str, key: str) -> SubmissionsPage:
        await self.policy.require(actor, role_for("submissions"), "see the submissions")
        return await self._page(*_read_key(key))

    async def _page(self, number: int, since: timedelta, status: str | None) -> SubmissionsPage:
        filters: dict[str, object] = {"start": self.clock() - since}
        if status:
            filters["status"] = status
        found = await self.email.submissions_page(number, paging.PAGE, **filters)
        listed = paging.page_of(found, number, _filter(since, status))
        return SubmissionsPage(listed, since=since, status=status)

    # -- following -----------------------------------------------------------------------------

    async def expect(
        self, actor: str, message: MessageDetails, requested: str, card: CardRef | None
    ) -> None:
        """Follow the submission a reclassify just made (best effort: without Redis, the
        reclassify stands and its outcome is not followed)."""
        follow = Follow(
            message_id=message.id, postfix_id=message.postfix_id, requested=requested,
            actor=actor, at=self.clock(), card=card,
        )  # fmt: skip
        try:
            if not await self.follows.add(follow.key, follow.dump()):
                log.warning("submission of %s not followed: too many followed", message.id)
        except StoreUnavailable:
            log.warning("submission of %s not followed (Redis unavailable)", message.id)

    async def check(self) -> int:
        """One look at the followed submissions; returns how many outcomes were shown."""
        told = await self._show_overdue()
        stored = await self.follows.all()
        follows: dict[str, Follow] = {}
        for key, text in stored.items():
            follow = Follow.load(text)
            if follow is None or follow.at < self.clock() - timedelta(days=FOLLOW_DAYS):
                log.info(
                    "submission follow %s dropped: unreadable or past %d days", key, FOLLOW_DAYS
                )
                await self.follows.drop(key)
                continue
            follows[key] = follow
        if not follows:
            return told
        oldest = min(f.at for f in follows.values()) - SKEW
        found = await self.email.list_submissions(start=oldest, type="TEAM", per_page=1000)
        by_id = {s.submission_id: s for s in found}
        bound = {f.submission_id for f in follows.values() if f.submission_id}
        for key, follow in sorted(follows.items(), key=lambda kv: kv[1].at):
            submission = by_id.get(follow.submission_id or "") or self._bind(follow, found, bound)
            if submission is None:
                continue
            if follow.submission_id is None:
                bound.add(submission.submission_id)
                follow = replace(follow, submission_id=submission.submission_id)
                await self.follows.update(key, follow.dump())
            if submission.outcome is None and submission.outcome_disposition is None:
                continue
            decided = _decided(follow, submission)
            showing = json.dumps({"follow": follow.dump(), "decided": dump_outcome(decided)})
            if await self.follows.claim(key, showing, self.owner, self.show_seconds):
                await self._tell(key, follow, decided)
                told += 1
        return told

    async def _show_overdue(self) -> int:
        """Show again what a replica claimed and did not finish showing (it died)."""
        told = 0
        for key, text in (await self.follows.overdue(self.owner, self.show_seconds)).items():
            try:
                showing = json.loads(text)
                follow = Follow.load(showing["follow"])
                decided = load_outcome(showing["decided"])
            except (ValueError, KeyError, TypeError):
                follow = decided = None
            if follow is None or not isinstance(decided, SubmissionDecided):
                log.warning("submission outcome %s dropped: unreadable", key)
                await self.follows.shown(key)
                continue
            log.info("submission outcome %s shown again: its replica did not finish", key)
            await self._tell(key, follow, decided)
            told += 1
        return told

    @staticmethod
    def _bind(follow: Follow, found: list[Submission], bound: set[str]) -> Submission | None:
        """The submission this follow's reclassify made: the message's, for the verdict asked,
        the first one made after it (give or take SKEW) that no other follow holds."""
        candidates = [
            s for s in found
            if s.original_postfix_id == follow.postfix_id
            and (s.requested_disposition or "").upper() == follow.requested.upper()
            and s.requested_at >= follow.at - SKEW
            and s.submission_id not in bound
        ]  # fmt: skip
        return min(candidates, key=lambda s: s.requested_at, default=None)

    async def _tell(self, key: str, follow: Follow, decided: SubmissionDecided) -> None:
        """Show `decided` on the card the reclassify came from (a line, and in its thread) and
        on every other card of the message, then say it is done. Safe to redo (module
        docstring)."""

        async def first_telling() -> bool:
            return await self.once.first(
                f"submission-told:{decided.submission_id}", FOLLOW_DAYS * 86400
            )

        card = follow.card if follow.card and follow.card.message_id == follow.message_id else None
        await self.cards.show_redoable(card, follow.message_id, decided, first_telling)
        await self.follows.shown(key)


def _decided(follow: Follow, submission: Submission) -> SubmissionDecided:
    return SubmissionDecided(
        actor=follow.actor, at=follow.at, submission_id=submission.submission_id,
        requested=follow.requested, outcome=submission.outcome,
        verdict=submission.outcome_disposition,
    )  # fmt: skip
