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
    """Related messages within the grouping window, in one channel (campaigns.py says which
    messages are related: a fingerprint, sender domain and subject, a link domain or an
    attachment).

    Passed to every `AlertSender` call as it will be once that call succeeds: `count` and
    `recipients` include the messages of the call (post_root: 1 and the first's recipients)."""

    key: str  # the campaign's id (alerts:campaign:<key>)
    channel: str
    sender: str | None  # the first message's, as shown
    subject: str | None
    disposition: str | None = None  # every message of a campaign has this one
    keys: list[str] = []  # its match keys (campaigns.match_keys), capped at campaigns.KEYS_KEEP
    root_ts: str | None = None  # the root card, once posted
    count: int = 0  # messages posted in it so far
    recipients: list[str] = []  # distinct recipients, capped at campaigns.RECIPIENTS_KEEP
    first_seen: datetime  # scan time of its first message (the window starts here)
    last_seen: datetime  # latest scan time of its messages


class Digest(BaseModel):
    """Lower-severity alerts of one channel gathered into one card, once the channel's rate of
    single alerts is used up (digests.py). Passed to the sender as it will be once the call
    succeeds (`count` includes the call's alerts)."""

    id: str
    channel: str
    ts: str | None = None  # the card, once posted
    opened: datetime  # the card collects what comes within `window_seconds` of this
    latest: datetime
    window_seconds: float
    count: int = 0
    dispositions: dict[str, int] = {}  # count per final disposition
    senders: int = 0  # distinct senders


class DigestEntry(BaseModel):
    """One alert of a digest, as its list shows it (and "Open" looks it up)."""

    id: str  # the investigate id
    subject: str | None = None
    sender: str | None = None
    disposition: str | None = None
    recipient: str | None = None  # the first of this copy's recipients
    at: datetime | None = None


@dataclass(frozen=True)
class DigestListing:
    """One page of a digest's list: `entries` from `start`, of `kept` entries kept."""

    digest: Digest
    entries: list[DigestEntry]
    start: int
    kept: int


class AlertSender(Protocol):
    """What the poller needs from Slack. Each call either succeeds or raises; a raise leaves the
    work in the outbox for the next attempt. Raise `AlertRejected` when Slack refused this very
    post for good, so that it is set aside instead of retried forever, and `AlertNotPosted`
    when Slack answered that it did not take the post (so that nobody looks for it later).

    Every post carries `alert_id` (in its message metadata), so that a post whose answer never
    came back can be found in the channel (`find_posted`) rather than posted again."""

    async def post_root(self, campaign: Campaign, first: MessageDetails, alert_id: str) -> str:
        """Post a campaign's root card (the first message's compact card); returns its ts."""
        ...

    async def update_root(self, campaign: Campaign, latest: MessageDetails) -> None:
        """Redraw the root card with the campaign's counter and recipients."""
        ...

    async def post_in_thread(
        self, campaign: Campaign, messages: Sequence[MessageDetails], alert_id: str
    ) -> None:
        """Post more messages of the campaign into the root's thread (one post; few cards)."""
        ...

    async def post_report(self, channel: str, report: PhishGuardReport, alert_id: str) -> None:
        """Post a PhishGuard report alert."""
        ...

    async def post_digest(self, digest: Digest, alert_id: str) -> str:
        """Post a digest card (counts, senders, a button to list them); returns its ts."""
        ...

    async def update_digest(self, digest: Digest) -> None:
        """Redraw a digest card with its new counts."""
        ...

    async def find_posted(
        self,
        channel: str,
        alert_id: str,
        thread_ts: str | None,
        since: datetime,
        message_ids: Sequence[str],
    ) -> str | None:
        """The ts of the post carrying `alert_id` in `channel` (in the thread of `thread_ts`)
        made since `since`, or None when there is none. A post found is taken on as if it had
        just been made (its cards, `message_ids`, follow their messages)."""
        ...


class AlertRejected(Exception):  # noqa: N818 - a verdict, like the API's errors
    """Raised by an AlertSender when Slack refused this particular post and retrying cannot help
    (invalid_blocks, msg_too_long, ...). The poller moves the alert to the `alerts:rejected`
    stream (a batch is first retried one message at a time) so it does not hold up its channel
    and the watermark forever. Any other exception means "try again next cycle"."""


class AlertNotPosted(Exception):  # noqa: N818 - a verdict too
    """Raised by an AlertSender when Slack answered and did not take the post (rate limited,
    not in the channel, ...): retried next cycle, and never looked for in the channel. Any
    other exception (a timeout, a broken connection) may hide a post Slack took."""


class PollReport(BaseModel):
    """What one cycle did (for logs and tests)."""

    fetched: int = 0  # detections with ALERT_DISPOSITIONS, and reports, in the window
    new: int = 0  # of those, never seen before: queued
    posted: int = 0  # alerts posted to Slack (messages and reports, leftovers included)
    campaigns_created: int = 0
    errors: list[str] = []
    rejected: int = 0  # alerts Slack refused for good (set aside in alerts:rejected)
    digested: int = 0  # of the posted, those gathered into a digest card
    recovered: int = 0  # posts found already in Slack (made before a crash): not posted again
    pending: int = 0  # alerts still queued after the cycle (posted by a later one)
    window_start: datetime | None = None
    window_end: datetime | None = None
    watermark: datetime | None = None  # as it is after the cycle
    watermark_moved: bool = False


class Halt(Exception):  # noqa: N818 - internal control flow
    """The cycle must stop at once: the lock was lost, or the poller is stopping."""


class LockLost(Halt):
    """A script found `{alerts}:lock` held by another owner: that replica carries on."""


# -- what travels between the poller, the outbox and the grouping -----------------------------


class Evidence(BaseModel):
    """What a message's detections say that groups it with others (evidence.py)."""

    link_domains: list[str] = []
    attachment_hashes: list[str] = []


@dataclass
class Item:
    """One queued alert, read back from the outbox: a message or a PhishGuard report."""

    id: str  # "m:<message id>" or "r:<report id>"
    message: MessageDetails | None = None
    report: PhishGuardReport | None = None
    evidence: Evidence | None = None
    rank: int = 0  # its disposition's severity (dispositions.severity_rank): the outbox order


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
    """An alert to put in the outbox: kind ('m' message, 'r' report), id, channel, payload,
    and its severity rank (the outbox is ordered by rank, then by arrival)."""

    kind: Literal["m", "r"]
    id: str
    channel: str
    payload: str
    rank: int = 0


class InFlight(BaseModel):
    """A post under way in a channel (`alerts:inflight:<channel>`), kept from just before the
    Slack call until the script that commits it: what a successor needs to find the post in the
    channel and commit it, should the poller die (or lose the answer) in between."""

    key: str  # the post's alert id, in its metadata
    kind: Literal["root", "thread", "report", "digest"]
    ids: list[str]  # the outbox items the post carries
    thread_ts: str | None = None
    at: datetime
    campaign: Campaign | None = None  # root and thread: as committed (root_ts filled in then)
    digest: Digest | None = None
    counted: bool = False  # a lower-severity single: counts against the channel's rate


# -- JSON as kept in Redis ---------------------------------------------------------------------


def item_payload(item: MessageDetails | PhishGuardReport, evidence: Evidence | None = None) -> str:
    """An outbox item's payload: {"kind", "data"[, "evidence"]}."""
    kind = "message" if isinstance(item, MessageDetails) else "report"
    data = item.model_dump(mode="json", by_alias=True, exclude_none=True)
    body: dict[str, Any] = {"kind": kind, "data": data}
    if evidence is not None and (evidence.link_domains or evidence.attachment_hashes):
        body["evidence"] = evidence.model_dump(mode="json")
    return json.dumps(body, separators=(",", ":"))


def parse_item(item_id: str, payload: bytes | str, rank: int = 0) -> Item:
    """ValueError when the payload cannot be read back."""
    try:
        body = json.loads(payload)
        if body["kind"] == "message":
            evidence = Evidence.model_validate(body["evidence"]) if "evidence" in body else None
            message = MessageDetails.model_validate(body["data"])
            return Item(item_id, message=message, evidence=evidence, rank=rank)
        if body["kind"] == "report":
            report = PhishGuardReport.model_validate(body["data"])
            return Item(item_id, report=report, rank=rank)
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
