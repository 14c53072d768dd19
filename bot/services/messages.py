"""Reading messages: a card for one id, the evidence behind it (preview, raw EML, trace) in the
card's thread, and search pages with the saved searches behind "More" and "…all matching".

Each entry point takes the actor first, checks the role, and raises a `BotError` a person can
read (not found, a choice to make, a refusal).
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from bot.cloudflare import EmailSecurityClient, TooLargeError
from bot.cloudflare.dispositions import DETECTIONS
from bot.cloudflare.models import MessageDetails
from bot.commands import SEARCH_PAGE, SearchCommand, role_for
from bot.errors import NO_CHANNEL, Gone, InvalidInput, StoreUnavailable
from bot.services.blocklist import BlocklistService
from bot.services.lookup import Investigation, LookupService
from bot.services.policy import Policy
from bot.services.ports import CardRef, Evidence, NotShown
from bot.services.showing import CardKeeper
from bot.store import SavedSearch, SearchStore

EvidenceKind = Literal["preview", "raw", "trace"]


def _postable(channel: str | None) -> str:
    if not channel:
        raise InvalidInput(NO_CHANNEL)
    return channel


@dataclass(frozen=True)
class SearchPage:
    """One page of results, the key of the next page and of the whole search (None when
    Redis could not keep them: then `unsaved` is True); `has_more`: the API has another page
    (it gives no total, so this is all there is to say how many match)."""

    messages: list[MessageDetails]
    description: str
    shown_before: int
    more_key: str | None
    bulk_key: str | None
    unsaved: bool = False
    has_more: bool = False


class MessageService:
    def __init__(
        self,
        *,
        email: EmailSecurityClient,
        lookup: LookupService,
        policy: Policy,
        cards: CardKeeper,
        searches: SearchStore,
        raw_max_mb: int = 40,
        blocklist: BlocklistService | None = None,
    ) -> None:
        self.email = email
        self.lookup = lookup
        self.policy = policy
        self.cards = cards
        self.searches = searches
        self.raw_max_mb = raw_max_mb
        self.blocklist = blocklist

    async def lookup_card(self, actor: str, text: str, channel: str) -> CardRef:
        """Post the card of `text` in `channel`."""
        await self.policy.require(actor, role_for("lookup"), "look up messages")
        found = await self.lookup.find(text)
        return await self.cards.post(_postable(channel), await self._marked(found))

    async def _marked(self, found: Investigation) -> Investigation:
        """`found` with the block list entry naming its sender, for a new card to say so (one
        API call; none said when the call fails)."""
        if self.blocklist is None:
            return found
        return replace(found, blocked=await self.blocklist.sender_block(found.message))

    async def lookup_here(self, actor: str, text: str, channel: str) -> CardRef | Investigation:
        """Post the card of `text` in `channel`; where the bot may not post (a channel it is
        not in, a DM between people), the investigation instead, for the surface to show
        only to `actor` (a message shortcut works wherever a message is)."""
        await self.policy.require(actor, role_for("lookup"), "look up messages")
        found = await self.lookup.find(text)
        try:
            return await self.cards.post(_postable(channel), found)
        except NotShown:
            return found

    async def details(self, actor: str, text: str) -> Investigation:
        """The full picture of one message, for a card only the person who asked sees (a
        search hit's "Open"); "Share in channel" then posts it (`lookup_card`)."""
        await self.policy.require(actor, role_for("lookup"), "look up messages")
        return await self.lookup.find(text)

    async def peek(self, actor: str, text: str) -> MessageDetails:
        """The current state of one message, to name it in a modal before acting on it."""
        await self.policy.require(actor, role_for("lookup"), "look up messages")
        return await self.lookup.one(text)

    async def evidence(
        self, actor: str, what: EvidenceKind, text: str, card: CardRef | None, channel: str
    ) -> CardRef:
        """Add the preview, raw EML or trace of a message to its card's thread; from no card
        (a command), a card is posted first so the evidence has a thread."""
        await self.policy.require(actor, role_for(what), f"see a message's {what}")
        if card is None:
            found = await self.lookup.find(text)
            card = await self.cards.post(_postable(channel), await self._marked(found))
            message = found.message
        else:
            message = await self.lookup.one(text)
        if what == "raw":
            async with self._raw(message) as evidence:
                await self.cards.board.attach(card, evidence, actor)
            return card
        await self.cards.board.attach(card, await self._fetch(what, message), actor)
        return card

    async def _fetch(self, what: EvidenceKind, message: MessageDetails) -> Evidence:
        if what == "preview":
            detection = message.disposition in DETECTIONS
            png = await self.email.get_preview(message.id, is_detection=detection)
            return Evidence(what, message, png=png)
        return Evidence(what, message, trace=await self.email.get_trace(message.id))

    @asynccontextmanager
    async def _raw(self, message: MessageDetails) -> AsyncIterator[Evidence]:
        """The raw EML in a temporary file for as long as it is being attached: an EML can be
        tens of MB, and several people may ask at once. The file has no name (it is gone when
        closed, even if the process dies) and is capped at BOT_RAW_MAX_MB."""
        try:
            spool = tempfile.TemporaryFile(prefix="raw-", suffix=".eml")  # noqa: SIM115
        except OSError as error:
            raise InvalidInput(
                "I can't attach raw messages: the bot has no writable temporary directory "
                f"({error.strerror}). An admin should set TMPDIR or make the default one writable."
            ) from None
        with spool:
            try:
                await self.email.save_raw(message.id, spool, max_bytes=self.raw_max_mb * 1024**2)
            except TooLargeError:
                raise InvalidInput(
                    f"This message is too large to attach here: its raw EML is over "
                    f"{self.raw_max_mb} MB (BOT_RAW_MAX_MB). Download it from the Cloudflare "
                    "dashboard instead (Email Security, the message's details)."
                ) from None
            spool.seek(0)
            yield Evidence("raw", message, eml=spool)

    # -- search --------------------------------------------------------------------------------

    async def search(self, actor: str, command: SearchCommand) -> SearchPage:
        await self.policy.require(actor, role_for("search"), "search")
        saved = SavedSearch(
            description=command.description, filters=command.filters(datetime.now(UTC)),
            cursor="", shown=0,
        )  # fmt: skip
        return await self._page(saved)

    async def more(self, actor: str, key: str) -> SearchPage:
        """The next page of a saved search."""
        await self.policy.require(actor, role_for("search"), "search")
        saved = await self.searches.load(key)
        if saved is None:
            raise Gone(
                "These results have expired (searches are kept for an hour); run the search again."
            )
        return await self._page(saved)

    async def _page(self, saved: SavedSearch) -> SearchPage:
        page = await self.email.search_page(
            saved.cursor or None, per_page=SEARCH_PAGE, **saved.filters
        )
        more_key = bulk_key = None
        try:
            if page.next_cursor:
                following = saved.model_copy(
                    update={"cursor": page.next_cursor, "shown": saved.shown + len(page.messages)}
                )
                more_key = await self.searches.save(following)
            if page.messages:
                whole = saved.model_copy(update={"cursor": "", "shown": 0})
                bulk_key = await self.searches.save(whole)
        except StoreUnavailable:
            pass  # the results are still shown; paging and bulk actions say they need Redis
        return SearchPage(
            messages=list(page.messages), description=saved.description,
            shown_before=saved.shown, more_key=more_key, bulk_key=bulk_key,
            unsaved=bool(page.messages) and bulk_key is None, has_more=bool(page.next_cursor),
        )  # fmt: skip

    async def saved_description(self, key: str) -> str | None:
        """What a saved search was (for the modal that acts on all of it); None if expired."""
        saved = await self.searches.load(key)
        return saved.description if saved else None
