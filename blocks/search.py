"""Search results and the postfix-id chooser: one short section per message, with "Open"."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import ActionsBlock, Block, ContextBlock, SectionBlock

from blocks import parts
from blocks.ids import ActionId
from blocks.parts import mrkdwn, safe_or
from blocks.safety import Kind
from bot.cloudflare.models import MessageDetails
from bot.commands import SEARCH_PAGE

# Matches of one postfix id shown (one per recipient), each ~400 characters.
CHOOSER_SHOWN = 15
NO_MATCH_HINT = (
    "Try fewer words, a longer window (`since:30d`), or one filter at a time "
    '(`from:`, `to:`, `subject:"…"`, `disposition:`); `help` shows the syntax.'
)


def search_results(
    messages: Sequence[MessageDetails],
    *,
    description: str,
    more_key: str | None,
    shown_before: int = 0,
    bulk_key: str | None = None,
) -> list[Block]:
    """One page of results. `description` is what the user typed (so it is made safe);
    `more_key` is our opaque key of the next page, on a "More results" button when set;
    `bulk_key` (the whole search's key) adds "Release all" / "Move all" for every match."""
    what = safe_or(description, 200, "your search")
    if not messages:
        return [
            SectionBlock(text=mrkdwn(f"No messages match {what}.")),
            ContextBlock(elements=[mrkdwn(NO_MATCH_HINT)]),
        ]
    hits = messages[:SEARCH_PAGE]
    if shown_before or more_key:
        title = f"*Results {shown_before + 1}-{shown_before + len(hits)}* for {what}"
    else:
        title = f"*{len(hits)} result{'' if len(hits) == 1 else 's'}* for {what}"
    blocks: list[Block] = [SectionBlock(text=mrkdwn(title))]
    blocks += [_row(message, _hit_text(message)) for message in hits]
    if len(messages) > len(hits):
        note = f"{len(messages) - len(hits)} more not shown here: narrow the search."
        blocks.append(ContextBlock(elements=[mrkdwn(note)]))
    buttons = []
    for key in (more_key, bulk_key):
        if key is not None and len(key) > 2000:
            raise ValueError("keys must fit a button value (2000 characters)")
    if more_key:
        buttons.append(parts.button("More results", ActionId.SEARCH_MORE, more_key))
    if bulk_key:
        buttons.append(parts.button("Release all matching…", ActionId.RELEASE_ALL, bulk_key))
        buttons.append(parts.button("Move all matching…", ActionId.MOVE_ALL, bulk_key))
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))
    return blocks


def chooser(matches: Sequence[MessageDetails], postfix_id: str) -> list[Block]:
    """Several messages share a postfix id (one per recipient): pick one to open."""
    pid = safe_or(postfix_id, 80, kind=Kind.LITERAL)
    if not matches:
        return [SectionBlock(text=mrkdwn(f"No messages have postfix id {pid}."))]
    head = f"*{len(matches)} messages share postfix id* {pid} (one per recipient): pick one"
    blocks: list[Block] = [SectionBlock(text=mrkdwn(head))]
    blocks += [_row(m, _choice_text(m)) for m in matches[:CHOOSER_SHOWN]]
    if len(matches) > CHOOSER_SHOWN:
        note = f"…and {len(matches) - CHOOSER_SHOWN} more: look one up by its investigate id."
        blocks.append(ContextBlock(elements=[mrkdwn(note)]))
    return blocks


def _row(message: MessageDetails, text: str) -> SectionBlock:
    """A section with an "Open" button carrying the investigate id (none for a malformed id).
    Every row's button has the same action_id: Slack wants it unique per block only."""
    accessory = (
        parts.button("Open", ActionId.OPEN, message.id) if parts.actionable(message.id) else None
    )
    return SectionBlock(text=mrkdwn(text), accessory=accessory)


def _hit_text(message: MessageDetails) -> str:
    subject = safe_or(message.subject, 150, "(no subject)")
    moment = parts.when(message.scanned_at or message.sent_at)
    state = parts.quarantine(message.is_quarantined, message.delivery_status)
    return (
        f"{parts.disposition(message.final_disposition)}  *{subject}*\n"
        f"From {parts.sender(message)} · {moment}\n"
        f"To {parts.recipients(message, 1)} · {state}\n"
        f"{safe_or(message.id, 120, kind=Kind.LITERAL)}"
    )


def _choice_text(message: MessageDetails) -> str:
    moment = parts.when(message.scanned_at or message.sent_at)
    return (
        f"To {parts.recipients(message, 2)} · {moment}\n"
        f"{parts.disposition(message.final_disposition)} · "
        f"{parts.quarantine(message.is_quarantined, message.delivery_status)}\n"
        f"{safe_or(message.id, 120, kind=Kind.LITERAL)}"
    )
