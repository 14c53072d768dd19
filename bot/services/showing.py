"""Keeping a message's cards true: after an action, the card it was taken from is redrawn from
the message's current state with every outcome it has gathered, and the new outcome is said in
its thread; an action asked for without a card (a command) gets a new card showing it.

The outcomes of each card are kept in Redis per card *and message* (`bot.store.cards`), since
one post can hold several cards; drawing is the board's (`bot.services.ports.CardBoard`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.cloudflare import NotFoundError
from bot.errors import StoreUnavailable
from bot.services.lookup import Investigation, LookupService
from bot.services.outcomes import CardOutcome, MessageOutcome, dump_outcome, load_outcomes
from bot.services.ports import CardBoard, CardRef, Origin
from bot.store import CardStore

log = logging.getLogger("bot.cards")


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
        for outcome in history:
            await self._remember(card, outcome)
        return card

    async def show_all(
        self, origin: Origin, outcomes: Sequence[MessageOutcome], *, new_cards: bool = True
    ) -> None:
        """Show each outcome on the card it came from; with `new_cards`, on a new card in the
        origin's channel when it came from no card of that message."""
        for each in outcomes:
            card = origin.card
            if card is not None and card.message_id == each.message_id:
                await self.show(card, each.outcome)
            elif new_cards and origin.channel:
                found = await self._current(each.message_id)
                if found is not None:
                    await self.post(origin.channel, found, [each.outcome])

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

    async def _remember(self, card: CardRef, outcome: CardOutcome) -> list[CardOutcome]:
        try:
            stored = await self.store.add(card.channel, card.ts, card.message_id,
                                          dump_outcome(outcome))  # fmt: skip
        except StoreUnavailable:
            log.warning("card history not stored (Redis unavailable); showing the newest only")
            return [outcome]
        return load_outcomes(stored)
