"""Search results (a tick box and "Open" per hit), the card a hit opens privately, and the
postfix-id chooser."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    CheckboxesElement,
    ConfirmObject,
    ContextBlock,
    Option,
    SectionBlock,
)

from blocks import parts
from blocks.card import message_card
from blocks.ids import ActionId, BlockPrefix, card_block
from blocks.parts import mrkdwn, plain, safe_or
from blocks.safety import Kind
from bot.cloudflare.models import ActionEntry, Detections, MessageDetails
from bot.commands import SEARCH_PAGE

# Matches of one postfix id shown (one per recipient), each ~400 characters.
CHOOSER_SHOWN = 15
NO_MATCH_HINT = (
    "Try fewer words, a longer window (`since:30d`), or one filter at a time "
    '(`from:`, `to:`, `subject:"…"`, `disposition:`); `help` shows the syntax.'
)
PICK_HINT = (
    "Tick hits, then *Release selected* or *Move selected…*: one action, or one approval "
    "request when the approval rules say so."
)
SHARE_NOTE = (
    "Only you can see this card. *Share in channel* posts it there; an action taken here "
    "posts its outcome in the channel too."
)
MAX_OPTION_VALUE = 150


def search_results(
    messages: Sequence[MessageDetails],
    *,
    description: str,
    more_key: str | None,
    shown_before: int = 0,
    bulk_key: str | None = None,
    has_more: bool = False,
) -> list[Block]:
    """One page of results. `description` is what the user typed (so it is made safe);
    `more_key` is our opaque key of the next page, on a "More results" button when set;
    `has_more` says the API has more pages (also when there is no key to page with);
    `bulk_key` (the whole search's key) adds "Release all" / "Move all" for every match.

    The API gives no total (`result_info.total_count` is always 0), so the count is exact on a
    search's last page and "more than N" before it. Each hit has a tick box: "Release
    selected" / "Move selected…" act on the ticked hits, which Slack sends as the page's state
    with the click (nothing is kept by the bot)."""
    what = safe_or(description, 200, "your search")
    if not messages:
        return [
            SectionBlock(text=mrkdwn(f"No messages match {what}.")),
            ContextBlock(elements=[mrkdwn(NO_MATCH_HINT)]),
        ]
    hits = messages[:SEARCH_PAGE]
    more = more_key is not None or has_more
    title = f"*{matched(shown_before + len(messages), more=more)}* {what}"
    if shown_before or more or len(messages) > len(hits):
        title += f" · showing {shown_before + 1}-{shown_before + len(hits)}"
    blocks: list[Block] = [SectionBlock(text=mrkdwn(title))]
    for index, message in enumerate(hits, shown_before + 1):
        blocks += _hit(message, index)
    if len(messages) > len(hits):
        note = f"{len(messages) - len(hits)} more not shown here: narrow the search."
        blocks.append(ContextBlock(elements=[mrkdwn(note)]))
    for key in (more_key, bulk_key):
        if key is not None and len(key) > 2000:
            raise ValueError("keys must fit a button value (2000 characters)")
    if any(_pickable(m) for m in hits):
        blocks += [ContextBlock(elements=[mrkdwn(PICK_HINT)]), _selected_buttons()]
    buttons = []
    if more_key:
        buttons.append(parts.button("More results", ActionId.SEARCH_MORE, more_key))
    if bulk_key:
        buttons.append(parts.button("Release all matching…", ActionId.RELEASE_ALL, bulk_key))
        buttons.append(parts.button("Move all matching…", ActionId.MOVE_ALL, bulk_key))
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))
    return blocks


def matched(seen: int, *, more: bool) -> str:
    """ "13 messages match", or "More than 10 messages match" while the API has more pages."""
    if more:
        return f"More than {seen:,} messages match"
    return f"{seen:,} message{' matches' if seen == 1 else 's match'}"


def _hit(message: MessageDetails, number: int) -> list[Block]:
    """A hit's text with its tick box beside it, and its "Open" below (none of either for an id
    that is not safe to act on). The block ids are unique within the page."""
    pick = None
    if _pickable(message):
        option = Option(value=message.id, text=plain("Select"))
        pick = CheckboxesElement(action_id=ActionId.HIT_PICK, options=[option])
    blocks: list[Block] = [
        SectionBlock(block_id=f"hit-{number}", text=mrkdwn(_hit_text(message)), accessory=pick)
    ]
    if parts.actionable(message.id):
        opener = parts.button("Open", ActionId.HIT_OPEN, message.id)
        blocks.append(ActionsBlock(block_id=f"hit-{number}-open", elements=[opener]))
    return blocks


def _pickable(message: MessageDetails) -> bool:
    """An option's value holds at most 150 characters; the API's ids are under 100."""
    return parts.actionable(message.id) and len(message.id) <= MAX_OPTION_VALUE


def _selected_buttons() -> ActionsBlock:
    confirm = ConfirmObject(
        title=plain("Release the ticked messages?"),
        text=plain(
            "Those still quarantined are delivered to their recipients, or an approver is "
            "asked first when the approval rules say so."
        ),
        confirm=plain("Release"),
        deny=plain("Cancel"),
        style="danger",
    )
    return ActionsBlock(
        block_id="picked",
        elements=[
            parts.button(
                "Release selected",
                ActionId.RELEASE_SELECTED,
                "ticked",
                style="danger",
                confirm=confirm,
            ),
            parts.button("Move selected…", ActionId.MOVE_SELECTED, "ticked"),
        ],
    )


def shareable_card(
    message: MessageDetails, detections: Detections | None, actions: Sequence[ActionEntry]
) -> list[Block]:
    """A hit's card as only the person who opened it sees it, with "Share in channel"."""
    blocks = message_card(message, detections, actions)
    share = parts.button("Share in channel", ActionId.SHARE, message.id, style="primary")
    return [
        *blocks,
        ContextBlock(elements=[mrkdwn(SHARE_NOTE)]),
        ActionsBlock(block_id=card_block(BlockPrefix.CARD, "share", message.id), elements=[share]),
    ]


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
