"""What `/email` text parses into: one typed command per verb family, the limits the parser
holds input to (shared with the services and renderers that page and check the same input),
and `UsageError`, which the parser raises for bad input (bot.commands)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from bot.cloudflare.dispositions import SEARCHABLE
from bot.cloudflare.filters import SearchDisposition
from bot.cloudflare.models import Destination, PatternType, ReclassifyDisposition
from bot.report_commands import PhishGuardCommand, SubmissionsCommand, VipCommand

SEARCH_PAGE = 10  # hits a search page asks the API for and shows
MAX_REASON = 500  # characters, as in the modals
MAX_FILTER = 200  # characters of `blocked <text>`
MAX_PATTERN = 1024  # characters of a blocked-sender pattern, as the API takes
MAX_IDS = 100  # per command; more than that goes through search ("Release all N matching")
SEARCH_DISPOSITIONS = tuple(d.value for d in SEARCHABLE)


class UsageError(Exception):
    """What was wrong with the input, and the usage of the verb (or of all verbs)."""

    def __init__(self, problem: str, verb: str | None = None) -> None:
        self.problem = problem
        self.verb = verb
        super().__init__(problem)


@dataclass(frozen=True)
class MessageCommand:
    """lookup / preview / raw / trace of one message."""

    verb: Literal["lookup", "preview", "raw", "trace"]
    message_id: str


@dataclass(frozen=True)
class SearchCommand:
    terms: str | None = None
    sender: str | None = None
    recipient: str | None = None
    subject: str | None = None
    disposition: SearchDisposition | None = None
    since: timedelta | None = None
    description: str = ""

    def filters(self, now: datetime) -> dict[str, object]:
        """Keyword filters for EmailSecurityClient.search."""
        found: dict[str, object] = {"detections_only": False}
        pairs = {
            "query": self.terms,
            "sender": self.sender,
            "recipient": self.recipient,
            "subject": self.subject,
            "final_disposition": self.disposition,
        }
        found.update({k: v for k, v in pairs.items() if v})
        if self.since:
            found["start"] = now - self.since
        return found


@dataclass(frozen=True)
class ReleaseCommand:
    message_ids: tuple[str, ...]
    reason: str = ""  # for the approver, when the release needs one


@dataclass(frozen=True)
class MoveCommand:
    message_ids: tuple[str, ...]
    folder: Destination
    reason: str = ""


@dataclass(frozen=True)
class ReclassifyCommand:
    message_id: str
    disposition: ReclassifyDisposition


@dataclass(frozen=True)
class BlockCommand:
    pattern: str
    pattern_type: PatternType


@dataclass(frozen=True)
class BlocklistCommand:
    """blocked [text] / unblock <pattern|id> / domains: `arg` is the text, the pattern or id."""

    verb: Literal["blocked", "unblock", "domains"]
    arg: str = ""


@dataclass(frozen=True)
class AllowCommand:
    pattern: str
    pattern_type: PatternType
    reason: str = ""


@dataclass(frozen=True)
class TrustCommand:
    domain: str
    recent: bool = True
    similarity: bool = True
    reason: str = ""


@dataclass(frozen=True)
class AllowlistCommand:
    """allowed|trusted [text] / disallow|untrust <pattern|id>: `arg` is the text or target."""

    verb: Literal["allowed", "trusted", "disallow", "untrust"]
    arg: str = ""


@dataclass(frozen=True)
class SimpleCommand:
    verb: Literal["help", "approvals", "audit"]
    args: tuple[str, ...] = field(default_factory=tuple)


Command = (
    MessageCommand
    | SearchCommand
    | ReleaseCommand
    | MoveCommand
    | ReclassifyCommand
    | BlockCommand
    | BlocklistCommand
    | VipCommand
    | SubmissionsCommand
    | PhishGuardCommand
    | AllowCommand
    | TrustCommand
    | AllowlistCommand
    | SimpleCommand
)
