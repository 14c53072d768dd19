"""Alert cards: a campaign's root (the first message's compact card, with the campaign's counter
and recipients), follow-ups in its thread, and PhishGuard reports."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ContextBlock, DividerBlock, SectionBlock

from blocks.card import fallback_text, message_card
from blocks.parts import disposition, mrkdwn, safe_or, when
from blocks.posts import JsonBlock
from blocks.safety import Kind, clamp, safe
from bot.cloudflare.models import MessageDetails, PhishGuardReport
from bot.services.alerts.models import Campaign

THREAD_BATCH = 8  # compact cards per thread post: 4 blocks each, well inside Slack's 50
RECIPIENTS_SHOWN = 10


HEADLINE_BLOCK = "campaign-headline"
REPORT_PREFIX = "PhishGuard report: "  # a report post's text starts so (the console finds them)


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
        f"🚨 *Campaign: {campaign.count} messages* with this sender and subject since "
        f"{when(campaign.first_seen)} (latest {when(campaign.last_seen)}), to {to}. "
        "The first is below; every other one is in the thread.",
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


def report_card(report: PhishGuardReport) -> list[Block]:
    fields = report.fields
    to = ", ".join(safe(t, 120, kind=Kind.LITERAL) for t in fields.to[:5]) or "—"
    lines = [
        f"🎣 *PhishGuard report* · {disposition(report.disposition)} · priority "
        f"{safe_or(report.priority, 20)}",
        f"*{safe_or(report.title, 200)}*",
        f"From {safe_or(fields.from_, 200)} to {to} · "
        f"{when(fields.occurred_at or report.created_at)}",
    ]
    blocks: list[Block] = [SectionBlock(text=mrkdwn(clamp("\n".join(lines), 2900)))]
    if report.content:
        blocks.append(ContextBlock(elements=[mrkdwn(safe(report.content, 2900))]))
    if fields.postfix_id:
        postfix = safe(fields.postfix_id, 80, kind=Kind.LITERAL)
        command = safe(f"lookup {fields.postfix_id}", 90, kind=Kind.LITERAL)
        hint = f"Postfix id {postfix}: look it up with {command}"
        blocks.append(ContextBlock(elements=[mrkdwn(hint)]))
    return blocks
