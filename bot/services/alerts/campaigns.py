"""Campaign grouping as pure functions: which queued message starts a campaign, which goes into
the thread of a campaign already posted, and what a campaign looks like once a post adds
messages to it.

No Redis and no I/O: the poller loads the campaign records the batch needs, calls `plan` and
posts what it answers, so the grouping rule is tested without a store (tests/test_campaigns.py).

A campaign: same channel, same sender address (the header From, else the envelope sender;
trimmed and lower-cased), same subject (runs of whitespace collapsed to one space, case kept),
and the message's scan time (else its sent time) within `window_seconds` of the campaign's
first message. A message outside that window starts a new campaign under the same key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from bot.cloudflare.models import MessageDetails
from bot.services.alerts.models import Campaign, Item, Plan, StoredCampaign

RECIPIENTS_KEEP = 50  # distinct recipients kept on a campaign


def message_time(message: MessageDetails, default: datetime) -> datetime:
    """When the message counts as seen: its scan time, else its sent time, else `default`."""
    return message.scanned_at or message.sent_at or default


def campaign_sender(message: MessageDetails) -> str | None:
    sender = (message.from_ or message.envelope_from or "").strip().lower()
    return sender or None


def campaign_subject(message: MessageDetails) -> str | None:
    subject = " ".join((message.subject or "").split())
    return subject or None


def campaign_key(channel: str, message: MessageDetails) -> str:
    """Same channel, sender address and subject: the same key."""
    parts = [channel, campaign_sender(message) or "", campaign_subject(message) or ""]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def recipients_of(message: MessageDetails) -> list[str]:
    """The message's distinct recipients (header To, else client recipients, else envelope),
    trimmed and lower-cased, in order."""
    found = message.to or message.client_recipients or message.envelope_to or []
    return list(dict.fromkeys(r.strip().lower() for r in found if r and r.strip()))


def merged_recipients(known: Sequence[str], more: Sequence[str]) -> list[str]:
    """`known` then the new ones of `more`, distinct, at most RECIPIENTS_KEEP."""
    return list(dict.fromkeys([*known, *more]))[:RECIPIENTS_KEEP]


def campaign_keys(channel: str, items: Iterable[Item]) -> list[str]:
    """The campaign keys of the messages among `items`, each once, in order (the records the
    caller must load before calling `plan`)."""
    return list(dict.fromkeys(campaign_key(channel, i.message) for i in items if i.message))


def plan(
    channel: str,
    items: Sequence[Item],
    known: Mapping[str, StoredCampaign],
    *,
    window_seconds: float,
    now: datetime,
) -> list[Plan]:
    """Group the queued messages of one channel by campaign, in queue order.

    `known` maps campaign keys to the records of campaigns whose root is already posted. A
    message joins the current campaign of its key (a known one, or one started earlier in this
    batch) when its time is at most `window_seconds` after that campaign's first message, and
    goes into its thread (`follow`); otherwise it is the `root` of a new campaign, which later
    messages of its key then join. Reports among `items` are ignored. Every plan returned has a
    root to post or messages to thread, and the plans come in the order their campaign first
    appears (a known campaign: where its first message of the batch is)."""
    current: dict[str, Plan] = {}
    plans: list[Plan] = []
    for item in items:
        message = item.message
        if message is None:
            continue
        key = campaign_key(channel, message)
        at = message_time(message, now)
        found = current.get(key)
        if found is None and key in known:
            found = Plan(known[key].campaign, None, latest=known[key].latest)
            current[key] = found
            plans.append(found)
        if found is not None and at.timestamp() <= (
            found.campaign.first_seen.timestamp() + window_seconds
        ):
            found.follow.append(item)
            continue
        campaign = Campaign(
            key=key,
            channel=channel,
            sender=campaign_sender(message),
            subject=campaign_subject(message),
            first_seen=at,
            last_seen=at,
        )
        current[key] = Plan(campaign, item)
        plans.append(current[key])
    return [p for p in plans if p.root is not None or p.follow]


def as_root(campaign: Campaign, first: MessageDetails, now: datetime) -> Campaign:
    """The campaign as its root post shows it: `first` is its one message (and starts the
    window); not posted yet. `campaign` itself is left as it is."""
    at = message_time(first, now)
    return campaign.model_copy(
        update={
            "count": 1,
            "recipients": recipients_of(first)[:RECIPIENTS_KEEP],
            "first_seen": at,
            "last_seen": at,
            "root_ts": None,
        }
    )


def grown(campaign: Campaign, messages: Sequence[MessageDetails], now: datetime) -> Campaign:
    """The campaign once `messages` are added to its thread: counted, their recipients merged
    (capped), `last_seen` moved to the latest of them. `campaign` itself is left as it is."""
    result = campaign.model_copy(deep=True)
    result.count += len(messages)
    for message in messages:
        result.recipients = merged_recipients(result.recipients, recipients_of(message))
        result.last_seen = max(result.last_seen, message_time(message, now))
    return result
