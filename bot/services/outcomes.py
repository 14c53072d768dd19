"""What happened to a message, as data: the records a card gathers and shows ("Released by …
at …"), and what an action call returns to its caller.

Services decide and return these; `blocks/outcomes.py` composes every sentence from them, so
the wording lives in one place and any surface can show the same facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter

from bot.cloudflare.models import MessageDetails, PatternType, ReleaseResult
from bot.services.approvals.models import ApprovalRequest


def now_utc() -> datetime:
    return datetime.now(UTC)


class _Record(BaseModel):
    actor: str  # a Slack user id
    at: datetime = Field(default_factory=now_utc)


class Released(_Record):
    kind: Literal["released"] = "released"
    result: ReleaseResult


class Moved(_Record):
    kind: Literal["moved"] = "moved"
    folder: str
    done: int
    failed: int


class Reclassified(_Record):
    kind: Literal["reclassified"] = "reclassified"
    disposition: str
    reason: str | None = None


class Blocked(_Record):
    kind: Literal["blocked"] = "blocked"
    pattern: str
    pattern_type: str
    comment: str | None = None


class Unblocked(_Record):
    """A block list entry naming the sender removed, from the card's "Sender blocked" line."""

    kind: Literal["unblocked"] = "unblocked"
    pattern: str
    pattern_type: str


class NotQuarantined(_Record):
    """A release found the message out of quarantine already: nothing was sent."""

    kind: Literal["not_quarantined"] = "not_quarantined"


class Approved(_Record):
    """The message was acted on by an approval request (`actor`: the approver whose approval
    ran it)."""

    kind: Literal["approved"] = "approved"
    request_id: str
    requester: str
    action: Literal["release", "move", "allow", "trust"]
    folder: str | None = None
    result: Literal["done", "failed", "undelivered", "skipped"]


class JobActed(_Record):
    """A message of a request approved as a query, when the Cloudflare bulk job that ran it
    ended (`actor`: the approver whose approval ran it; `at`: when the bot saw the job last, so
    that the record is the same each time a run redoes the end). `job`: how the job ended, the
    API's status in lower case (completed, cancelled, failed). `result`: failed when the
    message is among the job's failures (`reason`: the API's), done when the job completed
    without failing it, unsure when it completed with more failures than it lists, stopped
    when the job ended before completing (what it did to this message is not known)."""

    kind: Literal["job_acted"] = "job_acted"
    request_id: str
    requester: str
    action: Literal["release", "move"]
    folder: str | None = None
    job: str
    result: Literal["done", "failed", "unsure", "stopped"]
    reason: str | None = None


class SubmissionDecided(_Record):
    """Cloudflare decided a reclassify submission made from the bot (`actor` asked for it, at
    `at`): `outcome` is its word ("Reclassified", "No change"), `verdict` the disposition it
    settled on."""

    kind: Literal["submission_decided"] = "submission_decided"
    submission_id: str
    requested: str
    outcome: str | None = None
    verdict: str | None = None


class Requested(_Record):
    """An action on (or from) this message became an approval request: a release under the
    usual rules, or an allow policy for its sender (bot.services.allowlist)."""

    kind: Literal["requested"] = "requested"
    request_id: str
    action: str  # the request's action: release, allow, ...
    pattern: str | None = None  # allow: the pattern it would allow


class RequestEnded(_Record):
    """An approval request on this message ended without running (`actor`: who rejected or
    cancelled it, or "bot" for an expiry or a refusal), so the card that said it was asked
    (`Requested`) does not keep saying so. `reason`: the rejection's, or the bot's refusal's."""

    kind: Literal["request_ended"] = "request_ended"
    request_id: str
    action: str
    how: Literal["rejected", "cancelled", "expired", "refused"]
    pattern: str | None = None
    reason: str | None = None


CardOutcome = Annotated[
    Released
    | Moved
    | Reclassified
    | Blocked
    | Unblocked
    | NotQuarantined
    | Approved
    | JobActed
    | SubmissionDecided
    | Requested
    | RequestEnded,
    Field(discriminator="kind"),
]
_OUTCOME: TypeAdapter[CardOutcome] = TypeAdapter(CardOutcome)


def dump_outcome(outcome: CardOutcome) -> str:
    return outcome.model_dump_json()


def load_outcome(text: str) -> CardOutcome | None:
    """One stored record; None for one this version cannot read (kept, not shown)."""
    try:
        return _OUTCOME.validate_json(text)
    except ValueError:
        return None


def load_outcomes(texts: Sequence[str]) -> list[CardOutcome]:
    return [o for o in (load_outcome(t) for t in texts) if o is not None]


@dataclass(frozen=True)
class MessageOutcome:
    """One message's outcome of an action."""

    message_id: str
    outcome: CardOutcome


@dataclass(frozen=True)
class ActionResult:
    """What an action did. `outcomes` were shown on the message's card (or a new card);
    `requested` is the approval request made instead of acting (its card is posted);
    `unaudited` says the action ran but Redis refused its audit entry."""

    outcomes: list[MessageOutcome] = field(default_factory=list)
    requested: ApprovalRequest | None = None
    # Asked with `ask_reason`: the action needs approval and nothing was asked yet; these are
    # the messages and the rule to show where the person gives their reason.
    needs_reason: str | None = None
    awaiting: list[MessageDetails] = field(default_factory=list)
    approvers: str = ""  # who may approve, when `requested`
    unaudited: bool = False
    # Done, but no card shows it: the surface would not post a new card in `unshown_in` (the
    # bot is not in that channel); the person is told these outcomes instead.
    unshown: list[MessageOutcome] = field(default_factory=list)
    unshown_in: str | None = None


# -- what a block would do (bot/services/blocking.py), for its confirm modal --------------------

RECENT_DAYS = 30  # the window the confirm modal counts matches in


@dataclass(frozen=True)
class BlockChoice:
    """One pattern the confirm modal offers, with its recent matches and its risk."""

    pattern_type: PatternType
    pattern: str
    matched: int  # messages from it in the last RECENT_DAYS days (up to COUNT_PAGE)
    more: bool  # the search had more than `matched`
    risk: str | None  # why blocking it needs approval (None: it does not)


@dataclass(frozen=True)
class BlockPreview:
    """What the confirm modal shows: the choices, and the header From when it differs from the
    envelope sender the patterns come from (the header From can be forged)."""

    choices: list[BlockChoice]
    header_from: str | None = None
