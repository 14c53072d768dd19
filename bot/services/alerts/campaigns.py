"""Campaign grouping as pure functions: which queued message starts a campaign, which goes into
the thread of a campaign already posted, and what a campaign looks like once a post adds
messages to it.

No Redis and no I/O: the drain loads the campaign records the batch's match keys point to,
calls `plan` and posts what it answers, so the grouping rule is tested without a store
(tests/test_campaigns.py).

Related messages: in one channel, with one final disposition (a BEC never hides in the thread
of a lesser campaign), sharing any of these match keys (`match_keys`):

- the message's fingerprint (`edf_hash`, when the API gives one: every copy of one mail);
- its sender's domain (the header From, else the envelope sender; the whole address for a
  public mailbox provider, where a domain says nothing) and its subject, normalised: case
  folded, "Re:"/"Fwd:" prefixes dropped, every word holding a digit made `#`, so "Invoice
  4711" and "Invoice 4712" are one subject;
- a domain its links point to, or the hash of an attachment (from the message's detections,
  `evidence.py`; a message looked up for none has no such keys).

A message joins the campaign of the first of its keys whose campaign (posted before, or
started earlier in this batch) began at most `window_seconds` before it; its other keys then
lead to that campaign too. Otherwise it starts a new campaign under all its keys.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from bot.cloudflare.models import MessageDetails
from bot.services.alerts.models import Campaign, Evidence, Item, Plan, StoredCampaign
from bot.services.blocking import PUBLIC_PROVIDERS

RECIPIENTS_KEEP = 50  # distinct recipients kept on a campaign
KEYS_KEEP = 32  # match keys kept on a campaign (a message has a handful)
_REPLY = re.compile(r"^(?:\s*(?:re|fwd?|aw|wg|sv|vs|tr|rv)\s*(?:\[\d+\])?\s*:)+", re.IGNORECASE)


def message_time(message: MessageDetails, default: datetime) -> datetime:
    """When the message counts as seen: its scan time, else its sent time, else `default`."""
    return message.scanned_at or message.sent_at or default


def campaign_sender(message: MessageDetails) -> str | None:
    """The sender address shown (header From, else envelope sender; trimmed, lower case)."""
    sender = (message.from_ or message.envelope_from or "").strip().lower()
    return sender or None


def campaign_subject(message: MessageDetails) -> str | None:
    """The subject shown (runs of whitespace collapsed, case kept)."""
    subject = " ".join((message.subject or "").split())
    return subject or None


def normal_subject(subject: str | None) -> str:
    """The subject as grouping compares it: case folded, reply/forward prefixes dropped, each
    word with a digit in it made `#` (ticket numbers, amounts, dates, tracking codes)."""
    text = _REPLY.sub("", unicodedata.normalize("NFKC", subject or "").casefold())
    return " ".join("#" if any(c.isdigit() for c in word) else word for word in text.split())


def sender_identity(message: MessageDetails) -> str | None:
    """The sender's domain, or its whole address at a public mailbox provider."""
    sender = (campaign_sender(message) or "").strip("<>")
    if "@" not in sender:
        return sender or None
    domain = sender.rpartition("@")[2].rstrip(".")
    return sender if domain in PUBLIC_PROVIDERS else domain or None


def match_keys(channel: str, message: MessageDetails, evidence: Evidence | None) -> list[str]:
    """The keys a message groups by, strongest first (the module docstring)."""
    found: list[str] = []
    if message.edf_hash and message.edf_hash.strip():
        found.append("fingerprint:" + message.edf_hash.strip().lower())
    identity = sender_identity(message)
    if identity is not None:
        found.append(f"sender:{identity}\nsubject:{normal_subject(message.subject)}")
    if evidence is not None:
        found += [f"link:{d}" for d in evidence.link_domains]
        found += [f"attachment:{h}" for h in evidence.attachment_hashes]
    disposition = (message.final_disposition or "").upper()
    return list(dict.fromkeys(_hashed(channel, disposition, k) for k in found))


def _hashed(channel: str, disposition: str, key: str) -> str:
    return hashlib.sha256(f"{channel}\n{disposition}\n{key}".encode()).hexdigest()[:32]


def campaign_id(channel: str, root: Item) -> str:
    """A new campaign's id: its channel and first message (the same however often planned)."""
    return hashlib.sha256(f"{channel}\n{root.id}".encode()).hexdigest()[:32]


def recipients_of(message: MessageDetails) -> list[str]:
    """This copy's distinct recipients (`MessageDetails.recipients`: client recipients, else
    the envelope, else the header To), trimmed and lower-cased, in order."""
    return list(dict.fromkeys(r.strip().lower() for r in message.recipients if r and r.strip()))


def merged_recipients(known: Sequence[str], more: Sequence[str]) -> list[str]:
    """`known` then the new ones of `more`, distinct, at most RECIPIENTS_KEEP."""
    return list(dict.fromkeys([*known, *more]))[:RECIPIENTS_KEEP]


def campaign_keys(channel: str, items: Iterable[Item]) -> list[str]:
    """The match keys of the messages among `items`, each once, in order (the caller loads the
    records they lead to before calling `plan`)."""
    return list(
        dict.fromkeys(
            key
            for i in items
            if i.message is not None
            for key in match_keys(channel, i.message, i.evidence)
        )
    )


def plan(
    channel: str,
    items: Sequence[Item],
    known: Mapping[str, StoredCampaign],
    *,
    window_seconds: float,
    now: datetime,
) -> list[Plan]:
    """Group the queued messages of one channel by campaign, in queue order.

    `known` maps match keys to the records of campaigns whose root is already posted. A message
    joins the campaign of its first key whose campaign (known, or started earlier in this
    batch) began at most `window_seconds` before it, and goes into its thread (`follow`);
    otherwise it is the `root` of a new campaign. Reports among `items` are ignored. Every plan
    returned has a root to post or messages to thread, and the plans come in the order their
    campaign first appears (a known campaign: where its first message of the batch is)."""
    by_key: dict[str, Plan] = {}  # match key -> the plan it leads to now
    by_campaign: dict[str, Plan] = {}  # campaign id -> its plan
    plans: list[Plan] = []
    for item in items:
        message = item.message
        if message is None:
            continue
        keys = match_keys(channel, message, item.evidence)
        at = message_time(message, now)
        found = None
        for key in keys:
            candidate = by_key.get(key) or _known(known.get(key), by_campaign, plans)
            if candidate is not None and at.timestamp() <= (
                candidate.campaign.first_seen.timestamp() + window_seconds
            ):
                found = candidate
                break
        if found is not None:
            found.follow.append(item)
            for key in keys:  # its other keys lead to this campaign too, if free
                by_key.setdefault(key, found)
            continue
        campaign = Campaign(
            key=campaign_id(channel, item),
            channel=channel,
            sender=campaign_sender(message),
            subject=campaign_subject(message),
            disposition=message.final_disposition,
            keys=keys[:KEYS_KEEP],
            first_seen=at,
            last_seen=at,
        )
        started = Plan(campaign, item)
        by_campaign[campaign.key] = started
        plans.append(started)
        for key in keys:
            by_key[key] = started
    return [p for p in plans if p.root is not None or p.follow]


def _known(
    stored: StoredCampaign | None, by_campaign: dict[str, Plan], plans: list[Plan]
) -> Plan | None:
    """The plan of a posted campaign (made the first time one of its keys comes up)."""
    if stored is None:
        return None
    found = by_campaign.get(stored.campaign.key)
    if found is None:
        found = Plan(stored.campaign, None, latest=stored.latest)
        by_campaign[stored.campaign.key] = found
        plans.append(found)
    return found


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


def grown(
    campaign: Campaign,
    messages: Sequence[MessageDetails],
    now: datetime,
    keys: Iterable[str] = (),
) -> Campaign:
    """The campaign once `messages` (with match keys `keys`) are added to its thread: counted,
    their recipients and keys merged (capped), `last_seen` moved to the latest of them.
    `campaign` itself is left as it is."""
    result = campaign.model_copy(deep=True)
    result.count += len(messages)
    result.keys = list(dict.fromkeys([*result.keys, *keys]))[:KEYS_KEEP]
    for message in messages:
        result.recipients = merged_recipients(result.recipients, recipients_of(message))
        result.last_seen = max(result.last_seen, message_time(message, now))
    return result
