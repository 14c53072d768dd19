"""The alerts' vocabulary: what the poller hands to Slack and reports, the small types the other
alert modules pass to each other, and the JSON those types are kept as in Redis.

It imports no Redis on purpose: the renderers in `blocks/` read `Campaign` from here, and
blocks may never depend on the store.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple, Protocol

from pydantic import BaseModel, ValidationError

from bot.cloudflare.models import MessageDetails, PhishGuardReport


class Campaign(BaseModel):
    """Messages of one sender with one subject within the grouping window, in one channel.

    Passed to every `AlertSender` call as it will be once that call succeeds: `count` and
    `recipients` include the messages of the call (post_root: 1 and the first's recipients)."""

    key: str  # hash of (channel, sender, subject)
    channel: str
    sender: str | None
    subject: str | None
    root_ts: str | None = None  # the root card, once posted
    count: int = 0  # messages posted in it so far
    recipients: list[str] = []  # distinct recipients, capped at campaigns.RECIPIENTS_KEEP
    first_seen: datetime  # scan time of its first message (the window starts here)
    last_seen: datetime  # latest scan time of its messages


class AlertSender(Protocol):
    """What the poller needs from Slack. Each call either succeeds or raises; a raise leaves the
    work in the outbox for the next attempt. Raise `AlertRejected` when Slack refused this very
    post for good, so that it is set aside instead of retried forever."""

    async def post_root(self, campaign: Campaign, first: MessageDetails) -> str:
        """Post a campaign's root card (the first message's compact card); returns its ts."""
        ...

    async def update_root(self, campaign: Campaign, latest: MessageDetails) -> None:
        """Redraw the root card with the campaign's counter and recipients."""
        ...

    async def post_in_thread(self, campaign: Campaign, messages: Sequence[MessageDetails]) -> None:
        """Post more messages of the campaign into the root's thread (one post; few cards)."""
        ...

    async def post_report(self, channel: str, report: PhishGuardReport) -> None:
        """Post a PhishGuard report alert."""
        ...


class AlertRejected(Exception):  # noqa: N818 - a verdict, like the API's errors
    """Raised by an AlertSender when Slack refused this particular post and retrying cannot help
    (invalid_blocks, msg_too_long, ...). The poller moves the alert to the `alerts:rejected`
    stream (a batch is first retried one message at a time) so it does not hold up its channel
    and the watermark forever. Any other exception means "try again next cycle"."""


class PollReport(BaseModel):
    """What one cycle did (for logs and tests)."""

    fetched: int = 0  # detections with ALERT_DISPOSITIONS, and reports, in the window
    new: int = 0  # of those, never seen before: queued
    posted: int = 0  # alerts posted to Slack (messages and reports, leftovers included)
    campaigns_created: int = 0
    errors: list[str] = []
    rejected: int = 0  # alerts Slack refused for good (set aside in alerts:rejected)
    pending: int = 0  # alerts still queued after the cycle (posted by a later one)
    window_start: datetime | None = None
    window_end: datetime | None = None
    watermark: datetime | None = None  # as it is after the cycle
    watermark_moved: bool = False


class Halt(Exception):  # noqa: N818 - internal control flow
    """The cycle must stop at once: the lock was lost, or the poller is stopping."""


class LockLost(Halt):
    """A script found `alerts:lock` held by another owner: that replica carries on."""


# -- what travels between the poller, the outbox and the grouping -----------------------------


@dataclass
class Item:
    """One queued alert, read back from the outbox: a message or a PhishGuard report."""

    id: str  # "m:<message id>" or "r:<report id>"
    message: MessageDetails | None = None
    report: PhishGuardReport | None = None


@dataclass
class Plan:
    """One campaign's share of a drain: a new root to post (or an existing campaign) and the
    messages to thread under it."""

    campaign: Campaign
    root: Item | None
    follow: list[Item] = field(default_factory=list)
    latest: MessageDetails | None = None


@dataclass
class StoredCampaign:
    """A campaign record (`alerts:campaign:<key>`): the campaign and its latest message."""

    campaign: Campaign
    latest: MessageDetails


class Queued(NamedTuple):
    """An alert to put in the outbox: kind ('m' message, 'r' report), id, channel, payload."""

    kind: Literal["m", "r"]
    id: str
    channel: str
    payload: str


# -- JSON as kept in Redis ---------------------------------------------------------------------


def item_payload(item: MessageDetails | PhishGuardReport) -> str:
    """An outbox item's payload: {"kind", "data"}."""
    kind = "message" if isinstance(item, MessageDetails) else "report"
    data = item.model_dump(mode="json", by_alias=True, exclude_none=True)
    return json.dumps({"kind": kind, "data": data}, separators=(",", ":"))


def parse_item(item_id: str, payload: bytes | str) -> Item:
    """ValueError when the payload cannot be read back."""
    try:
        body = json.loads(payload)
        if body["kind"] == "message":
            return Item(item_id, message=MessageDetails.model_validate(body["data"]))
        if body["kind"] == "report":
            return Item(item_id, report=PhishGuardReport.model_validate(body["data"]))
    except (KeyError, TypeError, ValidationError) as exc:
        raise ValueError(f"unreadable outbox item {item_id}") from exc
    raise ValueError(f"unreadable outbox item {item_id}")


def record_data(campaign: Campaign, latest: MessageDetails) -> str:
    """A campaign record's `data` field."""
    return json.dumps(
        {
            "campaign": campaign.model_dump(mode="json"),
            "latest": latest.model_dump(mode="json", by_alias=True, exclude_none=True),
        },
        separators=(",", ":"),
    )


def parse_record(fields: dict[str, str]) -> StoredCampaign | None:
    """A campaign record's fields (text) read back; None when it cannot be."""
    if "data" not in fields:
        return None
    try:
        data: Any = json.loads(fields["data"])
        return StoredCampaign(
            Campaign.model_validate(data["campaign"]),
            MessageDetails.model_validate(data["latest"]),
        )
    except (ValueError, KeyError, TypeError, ValidationError):
        return None
