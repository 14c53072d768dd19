"""Digests: past a rate per channel, lower-severity alerts become one card instead of a post
each ("37 SUSPICIOUS from 12 senders in the last 5 min", with a button that lists them).

The rate (`ALERT_DIGEST_RATE`, N per SECONDS) counts the lower-severity alerts (any
disposition but those of `dispositions.URGENT`) a channel got one by one as new campaign roots
in the last SECONDS; campaign thread posts and PhishGuard reports are not counted and never
digested, nor is anything urgent. Once N are out, the next ones go into the channel's open
digest: a card posted for the first of them, redrawn with the new counts as more come, for
SECONDS after it was opened; then, if the flood goes on, a new digest opens.

The list behind the button (`DigestService.page`) is read from Redis, a page at a time, for
DIGEST_TTL (7 days); each entry has an Open button, the card of that message.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from bot.commands import role_for
from bot.errors import Gone
from bot.services.alerts.campaigns import message_time, recipients_of
from bot.services.alerts.models import (
    AlertRejected,
    AlertSender,
    Digest,
    DigestEntry,
    DigestListing,
    InFlight,
    Item,
    PollReport,
)
from bot.services.alerts.outbox import Outbox
from bot.services.alerts.scripts import AlertScripts
from bot.services.alerts.sending import Sending
from bot.services.policy import Policy

log = logging.getLogger("bot.alerts")

LIST_PAGE = 10  # alerts per page of a digest's list: a section with an Open button each
GONE = "That digest is no longer kept (digests are kept for 7 days); search for the alerts instead."


@dataclass(frozen=True)
class DigestRate:
    """At most `limit` lower-severity alerts one by one per channel in `seconds`."""

    limit: int
    seconds: float


def entry_of(item: Item, now: datetime) -> DigestEntry:
    message = item.message
    assert message is not None
    to = recipients_of(message)
    return DigestEntry(
        id=message.id, subject=message.subject, sender=(message.sender or "").lower() or None,
        disposition=(message.final_disposition or "").upper() or None,
        recipient=to[0] if to else None, at=message_time(message, now),
    )  # fmt: skip


def digest_id(channel: str, first: Item) -> str:
    return hashlib.sha256(f"digest\n{channel}\n{first.id}".encode()).hexdigest()[:24]


class Digests:
    """The drain's side: how many lower-severity alerts may still go one by one, and putting
    the others into the channel's digest."""

    def __init__(
        self,
        rate: DigestRate | None,
        sender: AlertSender,
        outbox: Outbox,
        scripts: AlertScripts,
        sending: Sending,
        clock: Callable[[], datetime],
    ) -> None:
        self.rate = rate
        self.sender = sender
        self.outbox = outbox
        self.scripts = scripts
        self.sending = sending
        self.clock = clock

    async def singles_left(self, channel: str) -> int | None:
        """Lower-severity alerts `channel` may still get one by one now (None: no limit)."""
        if self.rate is None:
            return None
        since = self.clock() - timedelta(seconds=self.rate.seconds)
        return max(self.rate.limit - await self.outbox.singles_since(channel, since), 0)

    async def add(self, channel: str, items: Sequence[Item], report: PollReport) -> None:
        """Put `items` (messages) into the channel's digest: the open one redrawn, else a new
        card. A crash before the commit leaves them queued: a redraw is simply done again, a
        new card is found in the channel by its alert id (sending.py)."""
        assert self.rate is not None
        now = self.clock()
        entries = [entry_of(i, now) for i in items]
        ids = [i.id for i in items]
        current = await self.outbox.open_digest(channel)
        if current is not None and (now - current.opened).total_seconds() <= self.rate.seconds:
            senders = await self.outbox.new_senders(current.id, [e.sender or "" for e in entries])
            digest = grown(current, entries, senders, now)
            try:
                await self.sending.guard.send(
                    "update_digest", partial(self.sender.update_digest, digest)
                )
            except AlertRejected as exc:  # the card keeps its old counts; the list is right
                log.error("alerts: Slack refused to redraw digest %s: %s", digest.id, exc)
            await self.scripts.digested(digest, entries, ids, new=False)
        else:
            digest = grown(
                Digest(id=digest_id(channel, items[0]), channel=channel, opened=now,
                       latest=now, window_seconds=self.rate.seconds),
                entries, len({e.sender for e in entries if e.sender}), now,
            )  # fmt: skip
            mark = InFlight(
                key=f"digest:{digest.id}", kind="digest", ids=ids, at=now, digest=digest
            )
            post = partial(self.sender.post_digest, digest, mark.key)
            try:
                digest.ts = await self.sending.post(channel, mark, post)
            except AlertRejected as exc:
                await self.scripts.set_aside(channel, ids, str(exc), now)
                report.rejected += len(ids)
                log.error("alerts: Slack refused digest %s (%d alerts set aside): %s",
                          digest.id, len(ids), exc)  # fmt: skip
                return
            await self.scripts.digested(digest, entries, ids, new=True, flight=mark.key)
        report.posted += len(ids)
        report.digested += len(ids)

    async def recover(self, channel: str, mark: InFlight, ts: str, report: PollReport) -> None:
        """The digest card of `mark` is in Slack (at `ts`): commit what it carries."""
        assert mark.digest is not None
        queued = await self.outbox.items(channel, mark.ids)
        items = [queued[i] for i in mark.ids if i in queued and queued[i].message is not None]
        now = self.clock()
        digest = mark.digest.model_copy(update={"ts": ts})
        await self.scripts.digested(
            digest, [entry_of(i, now) for i in items], [i.id for i in items], new=True,
            flight=mark.key,
        )  # fmt: skip
        report.posted += len(items)
        report.digested += len(items)
        report.recovered += 1


def grown(digest: Digest, entries: Sequence[DigestEntry], senders: int, now: datetime) -> Digest:
    """`digest` once `entries` (with `senders` new distinct senders) are added to it."""
    result = digest.model_copy(deep=True)
    result.count += len(entries)
    result.senders += senders
    result.latest = max(result.latest, now)
    for entry in entries:
        name = entry.disposition or "UNKNOWN"
        result.dispositions[name] = result.dispositions.get(name, 0) + 1
    return result


class DigestService:
    """Reading a digest's list: what its "List them" button shows, a page at a time."""

    def __init__(self, outbox: Outbox, policy: Policy) -> None:
        self.outbox = outbox
        self.policy = policy

    async def page(self, actor: str, digest: str, start: int) -> DigestListing:
        """The alerts of `digest` from `start` (LIST_PAGE of them); a lookup's role."""
        await self.policy.require(actor, role_for("lookup"), "list alerts")
        found = await self.outbox.digest(digest)
        if found is None:
            raise Gone(GONE)
        entries, kept = await self.outbox.entries(digest, max(start, 0), LIST_PAGE)
        if not entries and kept:  # past the end (a stale button): its last page
            start = (kept - 1) // LIST_PAGE * LIST_PAGE
            entries, kept = await self.outbox.entries(digest, start, LIST_PAGE)
        return DigestListing(found, entries, max(start, 0), kept)
