"""Looking messages up: an investigate id or a bare postfix id -> the message and its evidence.

The calls for one lookup run concurrently and none is repeated (a message fetched to resolve a
postfix id is not fetched again).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from bot.cloudflare import EmailSecurityClient, NotFoundError
from bot.cloudflare.ids import parse_message_id
from bot.cloudflare.models import ActionEntry, Detections, MessageDetails
from bot.cloudflare.settings_models import BlockedSender
from bot.errors import NeedsChoice, NotFound

T = TypeVar("T")
MAX_CHOICES = 20  # recipients of one postfix id shown in a chooser


@dataclass(frozen=True)
class Investigation:
    message: MessageDetails
    detections: Detections | None
    actions: list[ActionEntry]
    # The block list entry naming the sender, when a new card asked (MessageService): None
    # when it is not blocked, or when nobody looked.
    blocked: BlockedSender | None = None


@dataclass(frozen=True)
class Ambiguous:
    """A bare postfix id matched several messages (one per recipient)."""

    postfix_id: str
    matches: list[MessageDetails]


class LookupService:
    def __init__(self, client: EmailSecurityClient) -> None:
        self.client = client

    async def find(self, text: str) -> Investigation:
        """The full picture of one id. Raises NotFound, or NeedsChoice when a bare postfix id
        names several copies."""
        return await _settled(text, self.investigate(text))

    async def one(self, text: str) -> MessageDetails:
        """The current state of one message (no evidence); raises like `find`."""
        return await _settled(text, self.message(text))

    async def current(self, ids: Sequence[str]) -> list[MessageDetails]:
        """The current state of every id, fetched at once, so that no stale card decides. Raises
        NotFound naming the missing ids, or NeedsChoice for the first ambiguous one."""
        found = await self.messages(ids)
        missing = [i for i, f in zip(ids, found, strict=True) if f is None]
        if missing:
            raise NotFound(", ".join(missing[:10]))
        for each in found:
            if isinstance(each, Ambiguous):
                raise NeedsChoice(each.postfix_id, each.matches)
        return [f for f in found if isinstance(f, MessageDetails)]

    async def investigate(self, text: str) -> Investigation | Ambiguous:
        """The full picture for one id; NotFoundError if nothing matches."""
        parsed = parse_message_id(text)
        if parsed is None:
            raise ValueError(f"not a message id: {text[:40]!r}")
        if parsed.investigate_id:
            return await self._evidence(parsed.investigate_id, None)
        found = await self.resolve_postfix(parsed.postfix_id)
        if isinstance(found, Ambiguous):
            return found
        return await self._evidence(found.id, found)

    async def message(self, text: str) -> MessageDetails | Ambiguous:
        """Just the message (for actions that need its state, not its evidence)."""
        parsed = parse_message_id(text)
        if parsed is None:
            raise ValueError(f"not a message id: {text[:40]!r}")
        if parsed.investigate_id:
            return await self.client.get_message(parsed.investigate_id)
        return await self.resolve_postfix(parsed.postfix_id)

    async def messages(self, ids: Sequence[str]) -> list[MessageDetails | Ambiguous | None]:
        """Each id's message, at once; None for an id that matches nothing."""
        with first_error():
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._message_or_none(i)) for i in ids]
        return [task.result() for task in tasks]

    async def _message_or_none(self, text: str) -> MessageDetails | Ambiguous | None:
        try:
            return await self.message(text)
        except NotFoundError:
            return None

    async def resolve_postfix(self, postfix_id: str) -> MessageDetails | Ambiguous:
        """Direct GET and a search at once: the GET answers one message, the search finds every
        recipient's copy (CONTRACT.md §1: a bare postfix id may or may not work in paths)."""
        with first_error():
            async with asyncio.TaskGroup() as group:
                get = group.create_task(self._get_or_none(postfix_id))
                search = group.create_task(self._search_postfix(postfix_id))
        direct, searched = get.result(), search.result()
        if len(searched) > 1:
            return Ambiguous(postfix_id, searched[:MAX_CHOICES])
        if searched:
            return searched[0]
        if direct is not None:
            return direct
        raise NotFoundError(f"not found ({postfix_id})", status=404)

    async def _get_or_none(self, message_id: str) -> MessageDetails | None:
        try:
            return await self.client.get_message(message_id)
        except NotFoundError:
            return None

    async def _search_postfix(self, postfix_id: str) -> list[MessageDetails]:
        found = self.client.search(query=postfix_id, detections_only=False, per_page=100)
        return [m async for m in found if m.postfix_id == postfix_id]

    async def _evidence(self, message_id: str, known: MessageDetails | None) -> Investigation:
        with first_error():
            async with asyncio.TaskGroup() as group:
                message = group.create_task(self._fetched(message_id, known))
                detections = group.create_task(self._detections(message_id))
                actions = group.create_task(self._actions(message_id))
        return Investigation(message.result(), detections.result(), actions.result())

    async def _fetched(self, message_id: str, known: MessageDetails | None) -> MessageDetails:
        return known if known is not None else await self.client.get_message(message_id)

    async def _detections(self, message_id: str) -> Detections | None:
        try:
            return await self.client.get_detections(message_id)
        except NotFoundError:
            return None

    async def _actions(self, message_id: str) -> list[ActionEntry]:
        try:
            return await self.client.get_action_log(message_id)
        except NotFoundError:
            return []


async def _settled(text: str, lookup: Awaitable[T | Ambiguous]) -> T:
    """`lookup`'s one answer, or the refusal a person reads: not found, or a choice to make."""
    try:
        found = await lookup
    except NotFoundError:
        raise NotFound(text) from None
    if isinstance(found, Ambiguous):
        raise NeedsChoice(found.postfix_id, found.matches)
    return found


@contextlib.contextmanager
def first_error() -> Iterator[None]:
    """Around a TaskGroup: its first failure cancels the other calls (no retries left running
    for nobody) and is raised as itself, so callers catch NotFoundError, not a group."""
    try:
        yield
    except BaseExceptionGroup as group:
        error: BaseException = group
        while isinstance(error, BaseExceptionGroup):
            error = error.exceptions[0]
        raise error from None
