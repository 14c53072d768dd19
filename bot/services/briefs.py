"""What a request for approval reads of each message, and the brief a request made from a
search keeps of each match instead of the whole message.

"Release all matching" reads up to BOT_BULK_SEARCH_LIMIT (10,000) matches before the request
exists. Holding them as `MessageDetails` made the bot's peak 140 MB; a `Brief` keeps only what
the approval rule (bot.services.guard), the approver's card and its thread's list
(approvals/summaries.py) read, so the matches are turned into briefs page by page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.cloudflare.models import MessageMatch

RECIPIENTS_KEPT = 3  # an approver sees this copy's first three recipients


class Described(Protocol):
    """A message as the approval rule and the request's summaries read it: a `MessageDetails`,
    a `MessageMatch` or a `Brief`."""

    @property
    def id(self) -> str: ...

    @property
    def final_disposition(self) -> str | None: ...

    @property
    def subject(self) -> str | None: ...

    @property
    def sender(self) -> str | None: ...

    @property
    def recipients(self) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True)
class Brief:
    """One match of a search, as a request made from it keeps it."""

    id: str
    final_disposition: str | None
    subject: str | None
    sender: str | None
    recipients: tuple[str, ...]

    @classmethod
    def of(cls, message: MessageMatch, seen: dict[str, str] | None = None) -> Brief:
        """The brief of `message`. With `seen` (one dict for all the matches of one search),
        a value repeated from an earlier match (a campaign's subject, sender, recipients) is
        kept once."""
        shared = seen if seen is not None else {}

        def once(value: str | None) -> str | None:
            return None if value is None else shared.setdefault(value, value)

        return cls(
            id=message.id,
            final_disposition=once(message.final_disposition),
            subject=once(message.subject),
            sender=once(message.sender),
            recipients=tuple(shared.setdefault(r, r) for r in message.recipients[:RECIPIENTS_KEPT]),
        )
