"""What the services need from the surface that shows their work, as interfaces.

Services decide and act; they never import Slack. Where a flow must show something as part of
what it does (a card redrawn after an action, an approval request's card that must exist before
anyone can approve it, an execution's progress), the service calls one of these boards, which
the composition root gives it (the Slack implementations are in `bot/slack/`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.cloudflare.models import MessageDetails, Trace
from bot.services.lookup import Investigation
from bot.services.outcomes import CardOutcome


@dataclass(frozen=True)
class CardRef:
    """One card of one message: the post it is in (several cards may share a post) and the
    message it shows."""

    channel: str
    ts: str
    message_id: str
    thread_ts: str | None = None  # the thread the post is in, if it is a reply itself


@dataclass(frozen=True)
class Origin:
    """Where an action was asked for: the card it was clicked on (if any) and the channel
    where new cards and approval requests go (None: nowhere to post, e.g. the App Home)."""

    channel: str | None = None
    card: CardRef | None = None


class NotShown(Exception):  # noqa: N818 - a verdict of the surface, like the API's errors
    """The surface would not show something where it was asked: the bot is not in that
    conversation, or cannot see it (Slack's not_in_channel, channel_not_found). `where` names
    the conversation; `why` is the surface's own reason. Inviting the bot changes it; no retry
    does."""

    def __init__(self, where: str, why: str) -> None:
        super().__init__(f"cannot show it in {where} ({why})")
        self.where = where
        self.why = why


@dataclass(frozen=True)
class Evidence:
    """Something asked for about a message, for its card's thread."""

    what: Literal["preview", "raw", "trace"]
    message: MessageDetails
    png: bytes = b""
    # The raw EML: an open temporary file, removed once attached.
    eml: io.BufferedIOBase | None = None
    trace: Trace | None = None


class CardBoard(Protocol):
    async def post(
        self, channel: str, found: Investigation, history: Sequence[CardOutcome]
    ) -> CardRef:
        """Post a new card of `found` (with `history`'s outcomes) in `channel`."""

    async def update(
        self,
        card: CardRef,
        found: Investigation | None,
        history: Sequence[CardOutcome],
        new: CardOutcome | None,
    ) -> None:
        """Redraw that one card from `found` (None: the message is gone; only the thread is
        told) and `history`; say `new` in its thread. Other cards of the same post stay as they
        are."""

    async def attach(self, card: CardRef, evidence: Evidence, actor: str) -> None:
        """Add `evidence` to the card's thread."""
