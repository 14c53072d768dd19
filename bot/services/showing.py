"""Keeping a message's cards true: after an action, the card it was taken from is redrawn from
the message's current state with every outcome it has gathered, and the new outcome is said in
its thread; an action asked for without a card (a command) gets a new card showing it; and
every other card the bot posted of that message (other lookups, alert roots and thread posts,
on any replica) is redrawn with the outcome too, so none keeps offering what no longer applies.

Where each message's cards are, and the outcomes of each card, are kept in Redis
(`bot.store.cards`); drawing is the board's (`bot.services.ports.CardBoard`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

from bot.cloudflare import NotFoundError
from bot.cloudflare.ids import parse_message_id
from bot.errors import StoreUnavailable
from bot.services.approvals.jobstate import JobState
from bot.services.approvals.models import ApprovalRequest, ApprovalState, ChunkResult, now_utc
from bot.services.lookup import Investigation, LookupService
from bot.services.outcomes import (
    Approved,
    CardOutcome,
    JobActed,
    MessageOutcome,
    RequestEnded,
    dump_outcome,
    load_outcomes,
)
from bot.services.ports import CardBoard, CardRef, NotShown, Origin
from bot.store import CardStore

log = logging.getLogger("bot.cards")
PLACES_BATCH = 1000  # messages whose cards are looked up in one Redis round trip


class CardKeeper:
    def __init__(self, lookup: LookupService, store: CardStore, board: CardBoard) -> None:
        self.lookup = lookup
        self.store = store
        self.board = board

    async def post(
        self, channel: str, found: Investigation, history: Sequence[CardOutcome] = ()
    ) -> CardRef:
        """A new card of `found` in `channel`, its history starting with `history`."""
        card = await self.board.post(channel, found, history)
        await self.register(card.message_id, card.channel, card.ts)
        for outcome in history:
            await self._remember(card, outcome)
        return card

    async def register(self, message_id: str, channel: str, ts: str) -> None:
        """Remember a card of `message_id` (posted by anyone in this bot: a lookup, an alert),
        so that it follows the message's changes. Best effort: without Redis it won't."""
        try:
            await self.store.register(message_id, channel, ts)
        except StoreUnavailable:
            log.warning("card of %s not registered (Redis unavailable)", message_id)

    async def show_all(
        self, origin: Origin, outcomes: Sequence[MessageOutcome], *, new_cards: bool = True
    ) -> list[MessageOutcome]:
        """Show each outcome on the card it came from; with `new_cards`, on a new card in the
        origin's channel when it came from no card of that message. Returns the outcomes that
        needed a new card the surface would not post there (the bot is not in that channel):
        done, but shown nowhere, for the caller to tell the person instead. Never raises
        NotShown: the action is done whatever the surface shows."""
        refused: NotShown | None = None
        unshown: list[MessageOutcome] = []
        for each in outcomes:
            card = origin.card
            shown: CardRef | None = None
            if card is not None and card.message_id == each.message_id:
                await self.show(card, each.outcome)
                shown = card
            elif new_cards and origin.channel:
                found = await self._current(each.message_id)
                if found is not None and refused is None:
                    try:
                        shown = await self.post(origin.channel, found, [each.outcome])
                    except NotShown as exc:  # the next would be refused too: not tried
                        log.info("outcome not shown in %s: %s", origin.channel, exc.why)
                        refused = exc
                if found is not None and shown is None:
                    unshown.append(each)
            await self.follow(each.message_id, each.outcome, shown)
        return unshown

    async def show_redoable(
        self,
        card: CardRef | None,
        message_id: str,
        outcome: CardOutcome,
        first_telling: Callable[[], Awaitable[bool]],
    ) -> None:
        """Show `outcome` as `show_all` without new cards does (on `card`, a line and its
        thread; on every other card of `message_id`), in a way that may be run again after a
        replica died part way: each card's history gains the record once, and the thread is
        told only when `first_telling()`, asked just before, says it was not yet."""
        if card is not None:
            history = await self._remember(card, outcome, once=True)
            await self.board.update(card, await self._current(message_id), history, None)
            if await first_telling():
                await self.board.update(card, None, history, outcome)  # None: the thread only
        await self.follow(message_id, outcome, card, once=True)

    async def follow(
        self,
        message_id: str,
        outcome: CardOutcome,
        shown: CardRef | None = None,
        *,
        once: bool = False,
    ) -> None:
        """Redraw every other card of `message_id` with `outcome` added (no thread line: the
        card it came from says it); with `once`, not added to a card that has it already."""
        try:
            places = (await self.store.places([message_id])).get(message_id, [])
        except StoreUnavailable:
            return
        others = [p for p in places if shown is None or p != (shown.channel, shown.ts)]
        if not others:
            return
        found = await self._current(message_id)
        for channel, ts in others:
            card = CardRef(channel, ts, message_id)
            history = await self._remember(card, outcome, once=once)
            await self.board.update(card, found, history, None)

    async def settled(self, request: ApprovalRequest, results: Sequence[ChunkResult]) -> None:
        """After an approval request ran: every card of each message it acted on follows.
        Redoable (a replica's sweep announces the end again when the one that ran it died
        first): each record is dated by the request's end, so it is the same each time and
        added to a card only once."""
        approver = _approver(request)
        statuses = {
            message_id: status
            for result in results
            for message_id, status in _statuses(result).items()
        }
        await self._follow_each(
            sorted(statuses), lambda i: _approved(request, approver, statuses[i]), once=True
        )

    async def job_ended(self, request: ApprovalRequest, job: JobState) -> None:
        """After the bulk job of a request approved as a query ended: every card of each
        message the request holds follows, with what the job did to it (`JobActed`). Only
        those: the request holds the first BOT_BULK_SEARCH_LIMIT matches, and which others
        the job acted on is known only by paging its messages (one call per 1,000: a hundred
        for a job of 100,000), too costly for cards a lookup may never have posted. Redoable
        (the runner calls it before it records the request done, and a resumed run calls it
        again): each record is the same each time and added to a card only once."""
        approver = _approver(request)
        await self._follow_each(
            request.ids, lambda i: job_acted(request, approver, job, i), once=True
        )

    async def _follow_each(
        self, ids: Sequence[str], outcome_of: Callable[[str], CardOutcome], *, once: bool = False
    ) -> None:
        """Every card of each message of `ids` that has one follows with `outcome_of` it; a
        card that cannot be redrawn (Slack or the API failing) does not keep the others from
        it. Redis failing is raised: nothing more could be kept."""
        for message_id in await self._with_cards(ids):
            try:
                await self.follow(message_id, outcome_of(message_id), once=once)
            except StoreUnavailable:
                raise
            except Exception:
                log.exception("the cards of %s could not follow", message_id)

    async def ended(self, request: ApprovalRequest, actor: str) -> None:
        """A request ended without running: every card of each of its messages says so, so the
        one that said it was asked for approval (`Requested`) does not keep saying it. Redoable
        as `settled` is (the record is dated by the request's end)."""
        how = _ENDED.get(request.state)
        if how is None:
            return
        outcome = RequestEnded(
            actor=actor, request_id=request.id, action=request.action, how=how,
            pattern=request.params.get("pattern"),
            reason=request.end_reason if how in ("rejected", "refused") else None,
            at=request.ended_at or now_utc(),
        )  # fmt: skip
        for message_id in await self._with_cards(request.ids):
            await self.follow(message_id, outcome, once=True)

    async def _with_cards(self, ids: Sequence[str]) -> list[str]:
        """The messages of `ids` with a card (a request has up to 10,000 messages: an outcome
        is made only for those), looked up in batches; none when Redis is down."""
        found: list[str] = []
        for start in range(0, len(ids), PLACES_BATCH):
            try:
                found.extend(await self.store.places(list(ids[start : start + PLACES_BATCH])))
            except StoreUnavailable:
                break
        return found

    async def show(self, card: CardRef, outcome: CardOutcome) -> None:
        """Add `outcome` to `card`'s history and redraw it from the message's current state
        (buttons that no longer apply go); say it in the card's thread."""
        history = await self._remember(card, outcome)
        found = await self._current(card.message_id)
        await self.board.update(card, found, history, outcome)

    async def _current(self, message_id: str) -> Investigation | None:
        try:
            found = await self.lookup.investigate(message_id)
        except NotFoundError:
            return None
        return found if isinstance(found, Investigation) else None

    async def _remember(
        self, card: CardRef, outcome: CardOutcome, *, once: bool = False
    ) -> list[CardOutcome]:
        add = self.store.add_once if once else self.store.add
        try:
            stored = await add(card.channel, card.ts, card.message_id, dump_outcome(outcome))
        except StoreUnavailable:
            log.warning("card history not stored (Redis unavailable); showing the newest only")
            return [outcome]
        return load_outcomes(stored)


Status = Literal["done", "failed", "undelivered", "skipped"]
JobResult = Literal["done", "failed", "unsure", "stopped"]
_ENDED: dict[ApprovalState, Literal["rejected", "cancelled", "expired", "refused"]] = {
    ApprovalState.REJECTED: "rejected",
    ApprovalState.CANCELLED: "cancelled",
    ApprovalState.EXPIRED: "expired",
    ApprovalState.REFUSED: "refused",
}


def _statuses(result: ChunkResult) -> dict[str, Status]:
    """What became of each message of a chunk (failures win over success)."""
    statuses: dict[str, Status] = dict.fromkeys(result.acted, "done")
    statuses.update(dict.fromkeys(result.skipped, "skipped"))
    statuses.update(dict.fromkeys(result.undelivered, "undelivered"))
    statuses.update(dict.fromkeys(result.failed, "failed"))
    return statuses


def _approver(request: ApprovalRequest) -> str:
    """Whose approval ran the request (the last one)."""
    return request.approvals[-1].user if request.approvals else "bot"


def job_acted(request: ApprovalRequest, approver: str, job: JobState, message_id: str) -> JobActed:
    """What `job` did to `message_id` (JobActed); failures are named by postfix id, and the
    copies of one mail (one per recipient) share it, so a failed copy marks them all."""
    parsed = parse_message_id(message_id)
    postfix = parsed.postfix_id if parsed is not None else message_id
    reasons = {f.postfix_id: f.reason for f in job.failures}
    result: JobResult
    if postfix in reasons:
        result = "failed"
    elif job.status != "COMPLETED":
        result = "stopped"
    else:
        result = "unsure" if job.failed > len(job.failures) else "done"
    return JobActed(
        actor=approver, at=job.updated_at or request.executing_at or request.created_at,
        request_id=request.id, requester=request.requester,
        action="move" if request.action == "move" else "release",
        folder=request.params.get("folder"), job=(job.status or "ended").lower(),
        result=result, reason=reasons.get(postfix),
    )  # fmt: skip


def _approved(request: ApprovalRequest, approver: str, status: Status) -> Approved:
    return Approved(
        actor=approver, request_id=request.id, requester=request.requester,
        action=request.action, folder=request.params.get("folder"), result=status,
        at=request.ended_at or now_utc(),
    )  # fmt: skip
