"""Alert cards: a campaign's root (the first message's compact card, with the campaign's counter
and recipients), follow-ups in its thread, PhishGuard reports, and digests (lesser alerts past a
channel's rate, counted on one card, listed a page at a time by its button)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from slack_sdk.models.blocks import ActionsBlock, Block, ContextBlock, DividerBlock, SectionBlock

from blocks import parts
from blocks.card import NO_SUBJECT, fallback_text, message_card
from blocks.ids import ActionId
from blocks.parts import disposition, mrkdwn, safe_or, when
from blocks.posts import JsonBlock
from blocks.safety import Kind, clamp, safe
from bot.cloudflare.dispositions import URGENT, severity_rank
from bot.cloudflare.models import MessageDetails, PhishGuardReport
from bot.services.alerts.models import Campaign, Digest, DigestEntry, DigestListing

THREAD_BATCH = 8  # compact cards per thread post: 4 blocks each, well inside Slack's 50
RECIPIENTS_SHOWN = 10


HEADLINE_BLOCK = "campaign-headline"
REPORT_PREFIX = "PhishGuard report: "  # a report post's text starts so (the console finds them)
DIGEST_PREFIX = "Alert digest: "  # and a digest's


def campaign_root(campaign: Campaign, first: MessageDetails) -> list[Block]:
    """The root card: what was detected, and for a campaign how big it has grown."""
    return [campaign_headline(campaign), *message_card(first, None, [], compact=True)]


def campaign_headline(campaign: Campaign) -> ContextBlock:
    return ContextBlock(block_id=HEADLINE_BLOCK, elements=[mrkdwn(_headline(campaign))])


def with_headline(post: Sequence[JsonBlock], campaign: Campaign) -> list[JsonBlock] | None:
    """A root post as it is (its first message's card, outcomes and all) under the campaign's
    new headline; None when the post has no headline to replace."""
    if not any(block.get("block_id") == HEADLINE_BLOCK for block in post):
        return None
    headline = campaign_headline(campaign).to_dict()
    return [headline if b.get("block_id") == HEADLINE_BLOCK else b for b in post]


def _headline(campaign: Campaign) -> str:
    if campaign.count <= 1:
        return "🚨 *New detection*"
    shown = [safe(r, 120, kind=Kind.LITERAL) for r in campaign.recipients[:RECIPIENTS_SHOWN]]
    more = len(campaign.recipients) - len(shown)
    to = ", ".join(shown) + (f" and {more} more" if more > 0 else "")
    return clamp(
        f"🚨 *Campaign: {campaign.count} messages* sharing a sender and subject, fingerprint, "
        f"link or attachment, since {when(campaign.first_seen)} (latest "
        f"{when(campaign.last_seen)}), to {to}. The first is below; every other one is in the "
        "thread.",
        2900,
    )


def thread_cards(messages: Sequence[MessageDetails]) -> list[Block]:
    """Follow-ups of a campaign: compact cards, a divider between them."""
    blocks: list[Block] = []
    for message in messages[:THREAD_BATCH]:
        if blocks:
            blocks.append(DividerBlock())
        blocks += message_card(message, None, [], compact=True)
    return blocks


def root_text(campaign: Campaign, first: MessageDetails) -> str:
    prefix = f"Campaign ({campaign.count}): " if campaign.count > 1 else "New detection: "
    return clamp(prefix + fallback_text(first), 300)


def report_text(report: PhishGuardReport) -> str:
    """The notification text of a report: its title is the reporter's words, made safe like
    every block (a notification shows `text`, where a mention or a link would work too)."""
    return REPORT_PREFIX + safe_or(report.title, 250, "(untitled)")


def report_card(report: PhishGuardReport, *, compact: bool = False) -> list[Block]:
    """A report's card; `compact` (several in one answer) keeps its texts shorter, so that
    eight fit within a message's text budget."""
    head, body = (800, 400) if compact else (2900, 2900)
    fields = report.fields
    to = ", ".join(safe(t, 120, kind=Kind.LITERAL) for t in fields.to[:5]) or "—"
    lines = [
        f"🎣 *PhishGuard report* · {disposition(report.disposition)} · priority "
        f"{safe_or(report.priority, 20)}",
        f"*{safe_or(report.title, 200)}*",
        f"From {safe_or(fields.from_, 200)} to {to} · "
        f"{when(fields.occurred_at or report.created_at)}",
    ]
    tags = [f"{safe(t.category, 40)}: {safe(t.value, 80)}" for t in (report.tags or [])[:10]]
    if tags:
        lines.append("Tags: " + " · ".join(tags))
    blocks: list[Block] = [SectionBlock(text=mrkdwn(clamp("\n".join(lines), head)))]
    if report.content:
        blocks.append(ContextBlock(elements=[mrkdwn(safe(report.content, body))]))
    if fields.postfix_id:
        postfix = safe(fields.postfix_id, 80, kind=Kind.LITERAL)
        command = safe(f"lookup {fields.postfix_id}", 90, kind=Kind.LITERAL)
        hint = f"Postfix id {postfix}: look it up with {command}"
        blocks.append(ContextBlock(elements=[mrkdwn(hint)]))
        if parts.actionable(fields.postfix_id):
            # Open: the message's card, for the one who clicked only (as a search hit's).
            open_button = parts.button("Open", ActionId.HIT_OPEN, fields.postfix_id)
            blocks.append(ActionsBlock(elements=[open_button]))
    return blocks


# -- digests -----------------------------------------------------------------------------------

_DIGEST_PAGE = re.compile(r"^digest:([0-9a-f]{1,64}):(\d{1,6})$")
URGENT_NAMES = " and ".join(d.value for d in reversed(URGENT))


@dataclass(frozen=True)
class DigestPage:
    """A page of a digest's list: what "List them" and "Next page" carry."""

    digest: str
    start: int = 0

    def dump(self) -> str:
        return f"digest:{self.digest}:{self.start}"

    @classmethod
    def load(cls, value: str) -> DigestPage:
        """The page a button's value names; ValueError for anything else."""
        match = _DIGEST_PAGE.match(value)
        if match is None:
            raise ValueError(f"not a page of an alert digest: {value[:40]!r}")
        return cls(match[1], int(match[2]))


def digest_summary(digest: Digest) -> str:
    """`12 SUSPICIOUS and 2 SPOOF from 9 senders in the last 5 min` (the most severe first)."""
    counts = sorted(digest.dispositions.items(), key=lambda kv: (severity_rank(kv[0]), kv[0]))
    named = [f"{n} {safe_or(name, 40)}" for name, n in counts if n > 0] or [f"{digest.count}"]
    listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
    senders = f"{digest.senders} sender{'' if digest.senders == 1 else 's'}"
    minutes = max(1, round(digest.window_seconds / 60))
    return f"{listed} from {senders} in the last {minutes} min"


def digest_card(digest: Digest) -> list[Block]:
    """The digest: its counts, when, why its alerts are not posted one by one, "List them"."""
    why = (
        f"Lower-severity alerts past this channel's rate, gathered in one card (first "
        f"{when(digest.opened)}, latest {when(digest.latest)}). {URGENT_NAMES} alerts are "
        "always posted one by one."
    )
    button = parts.button("List them", ActionId.DIGEST_LIST, DigestPage(digest.id).dump())
    return [
        SectionBlock(text=mrkdwn(clamp(f"📥 *{digest_summary(digest)}*", 2900))),
        ContextBlock(elements=[mrkdwn(why)]),
        ActionsBlock(elements=[button]),
    ]


def digest_text(digest: Digest) -> str:
    return clamp(DIGEST_PREFIX + digest_summary(digest), 300)


def digest_list(listing: DigestListing) -> list[Block]:
    """One page of a digest's alerts (LIST_PAGE), each with Open (its card, privately), and
    "Next page" while more follow (on the last page, "First page")."""
    digest, entries, start, kept = listing.digest, listing.entries, listing.start, listing.kept
    end = start + len(entries)
    head = f"*{digest_summary(digest)}*"
    if entries:
        head += f" · {start + 1}-{end} of {kept}"
    if digest.count > kept:
        head += f" (the first {kept} are listed)"
    blocks: list[Block] = [SectionBlock(text=mrkdwn(clamp(head, 2900)))]
    blocks += [_entry(entry) for entry in entries]
    if end < kept:
        following = DigestPage(digest.id, end)
        blocks.append(_footer(f"{kept - end} more on the next pages.", "Next page", following))
    elif start > 0:
        blocks.append(_footer(f"That is all {kept}.", "First page", DigestPage(digest.id)))
    return blocks


def _entry(entry: DigestEntry) -> SectionBlock:
    to = safe(entry.recipient, 120, kind=Kind.LITERAL) or "—"
    line = (
        f"{disposition(entry.disposition)} · *{safe_or(entry.subject, 200, NO_SUBJECT)}*\n"
        f"from {safe_or(entry.sender, 150)} to {to} · {when(entry.at)}"
    )
    accessory = (
        parts.button("Open", ActionId.HIT_OPEN, entry.id) if parts.actionable(entry.id) else None
    )
    return SectionBlock(text=mrkdwn(clamp(line, 2900)), accessory=accessory)


def _footer(text: str, label: str, target: DigestPage) -> SectionBlock:
    button = parts.button(label, ActionId.DIGEST_LIST, target.dump())
    return SectionBlock(text=mrkdwn(text), accessory=button)
