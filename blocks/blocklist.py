"""The blocked senders (a page at a time, an Unblock button each), what `unblock` removed, a
card's "Sender blocked" line, and the protected domains (read-only). A pattern and its comment
are attacker-controlled (a block made from a card copies the envelope sender), so they go
through `safe` as attacker text; entry ids as literals."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    SectionBlock,
)

from blocks import parts
from blocks.ids import ActionId, BlockPrefix, card_block
from blocks.parts import mrkdwn, page_heading, plain, safe_or, when
from blocks.safety import Kind, safe
from bot.cloudflare.settings_models import BlockedSender, ProtectedDomain

PATTERN_CHARS = 300
COMMENT_CHARS = 300
DOMAIN_CHARS = 120  # a longer domain name is cut: the line stays short
DOMAINS_SHOWN, DOMAINS_PER_SECTION = 30, 8  # 30 lines of ~300 characters: 9,000 in all
DASHBOARD_NOTE = (
    "Read-only: adding, removing or changing a protected domain stays in the Cloudflare "
    "dashboard (Email Security, Settings, Domain management)."
)
NO_DOMAINS = "No protected domains are set up for this account."
TYPE_LABELS = {"EMAIL": "address", "DOMAIN": "domain", "IP": "IP address"}


def _confirm() -> ConfirmObject:
    return ConfirmObject(
        title=plain("Unblock this sender?"),
        text=plain(
            "Mail from this sender is no longer blocked by this entry; it is checked like any "
            "other mail again."
        ),
        confirm=plain("Unblock"),
        deny=plain("Cancel"),
        style="danger",
    )


def unblock_button(entry: BlockedSender) -> ButtonElement:
    return parts.button("Unblock", ActionId.UNBLOCK, entry.id, style="danger", confirm=_confirm())


def _kind(entry: BlockedSender) -> str:
    label = TYPE_LABELS.get(entry.pattern_type, entry.pattern_type.lower())
    return f"{safe(label, 30)}{', regex' if entry.is_regex else ''}"


def _entry_text(entry: BlockedSender) -> str:
    pattern = safe_or(entry.pattern, PATTERN_CHARS)
    lines = [f"*{pattern}* ({_kind(entry)})"]
    if entry.comments:
        lines.append(safe(entry.comments, COMMENT_CHARS))
    lines.append(f"added {when(entry.created_at)} · id {safe_or(entry.id, 60, kind=Kind.LITERAL)}")
    return "\n".join(lines)


def blocked_list(
    entries: Sequence[BlockedSender],
    *,
    text: str,
    shown_before: int,
    total: int | None,
    more: str | None,
) -> list[Block]:
    """One page of blocked senders (at most `bot.services.paging.PAGE`); `text` is what the
    person filtered by; `more` the next page's button value, if any."""
    what = f" matching {safe_or(text, 100)}" if text else ""
    if not entries:
        return [SectionBlock(text=mrkdwn(f"No blocked senders{what}."))]
    blocks: list[Block] = [
        page_heading("blocked senders", "Blocked senders", total, what, shown_before, len(entries))
    ]
    for entry in entries:
        blocks.append(
            SectionBlock(text=mrkdwn(_entry_text(entry)), accessory=unblock_button(entry))
        )
    if more is not None:
        if len(more) > 2000:
            raise ValueError("the page key must fit a button value (2000 characters)")
        blocks.append(ActionsBlock(elements=[parts.button("More", ActionId.BLOCKED_MORE, more)]))
    return blocks


def unblocked_text(entry: BlockedSender, *, unaudited: bool = False) -> str:
    """What `unblock` removed, said to the person who asked."""
    line = (
        f"Unblocked {safe_or(entry.pattern, PATTERN_CHARS)} ({_kind(entry)}; id "
        f"{safe_or(entry.id, 60, kind=Kind.LITERAL)}): mail from it is no longer blocked by "
        "that entry."
    )
    if unaudited:
        line += parts.UNAUDITED
    return line


def sender_blocked(entry: BlockedSender, message_id: str) -> SectionBlock:
    """A card's line saying its sender is on the block list, with Unblock."""
    return SectionBlock(
        block_id=card_block(BlockPrefix.CARD, "blocked", message_id),
        text=mrkdwn(
            f":no_entry: Sender blocked: pattern {safe_or(entry.pattern, PATTERN_CHARS)} "
            f"({_kind(entry)})"
        ),
        accessory=unblock_button(entry),
    )


def _domain_text(domain: ProtectedDomain) -> str:
    modes = ", ".join(domain.allowed_delivery_modes) or "none"
    processed = domain.emails_processed
    if processed is not None and processed.timestamp is not None:
        count = processed.total_emails_processed or 0
        activity = f"{count:,} messages processed as of {when(processed.timestamp)}"
    else:
        activity = f"last changed {when(domain.modified_at)}"
    status = domain.status or "unknown"
    return (
        f"*{safe_or(domain.domain, DOMAIN_CHARS)}* · {safe(status, 20)} · delivery "
        f"{safe(modes, 60)} · {activity}"
    )


def domains_list(domains: Sequence[ProtectedDomain], total: int | None = None) -> list[Block]:
    """The protected domains (the first DOMAINS_SHOWN: a tenant has a handful; `total` how many
    there are), one line each of at most ~300 characters, DOMAINS_PER_SECTION to a section
    (3,000 characters each)."""
    if not domains:
        note = ContextBlock(elements=[mrkdwn(DASHBOARD_NOTE)])
        return [SectionBlock(text=mrkdwn(NO_DOMAINS)), note]
    shown = list(domains)[:DOMAINS_SHOWN]
    count = max(total or 0, len(domains))
    title = f"*{count} protected domains*"
    if count > len(shown):
        title += f" · the first {len(shown)} shown"
    blocks: list[Block] = [SectionBlock(text=mrkdwn(title))]
    for start in range(0, len(shown), DOMAINS_PER_SECTION):
        lines = [_domain_text(d) for d in shown[start : start + DOMAINS_PER_SECTION]]
        blocks.append(SectionBlock(text=mrkdwn("\n".join(lines))))
    blocks.append(ContextBlock(elements=[mrkdwn(DASHBOARD_NOTE)]))
    return blocks
