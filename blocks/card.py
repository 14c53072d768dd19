"""The message card (lookup, alert, "Open" on a search hit): verdict, evidence and actions.

Every list is capped (first N, then "…and N more") and every value has a length, so that a card
built from the largest, most hostile message still fits Slack's 50 blocks and ~12,000 characters
of block text, with room left for the outcome lines a card gathers as people act on it."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    InteractiveElement,
    SectionBlock,
    StaticSelectElement,
    TextObject,
)

from blocks import parts
from blocks.blocklist import sender_blocked
from blocks.ids import ActionId, BlockPrefix, card_block
from blocks.limits import MESSAGE_TEXT_BUDGET, text_size
from blocks.parts import MISSING, field, mrkdwn, plain, safe_or
from blocks.safety import Kind, clamp, safe, text_width
from bot.cloudflare.models import ActionEntry, Detections, MessageDetails
from bot.cloudflare.settings_models import BlockedSender

NO_SUBJECT = "(no subject)"
# (items shown, characters per item). Worst case, all of them full: about 8,500 characters.
REASONS_SHOWN, REASON_CHARS = 10, 150
CATEGORIES_SHOWN, CATEGORY_CHARS = 10, 50
LINKS_SHOWN, LINK_TEXT_CHARS, LINK_HREF_CHARS = 10, 50, 120
ATTACHMENTS_SHOWN, FILENAME_CHARS = 10, 70
RECIPIENTS_SHOWN = 3
HISTORY_SHOWN = 5
COMPACT_REASONS = 3
# Outcome lines: each clamped, the newest kept while blocks and text budget last.
OUTCOME_CHARS = 500
MAX_BLOCKS = 50
CARD_TEXT_BUDGET = MESSAGE_TEXT_BUDGET - 1_000  # headroom: Slack's real limit is undocumented
HIDDEN_OUTCOMES = "hidden"  # the card part saying that earlier outcomes are in the thread


def message_card(
    message: MessageDetails,
    detections: Detections | None,
    actions: Sequence[ActionEntry],
    *,
    outcomes: Sequence[str] = (),
    compact: bool = False,
    blocked: BlockedSender | None = None,
) -> list[Block]:
    """The card of one message. `outcomes` are lines composed by `blocks.outcomes` (they may
    mention users); they are only clamped, one context block each. `blocked`: the block list
    entry naming its sender, said in one line with Unblock. Every block's id names the
    message (`blocks.ids.card_block`), so one card of a post that holds several can be found
    and redrawn alone, and its menus know their message."""
    blocks = _compact_body(message) if compact else _full_body(message, detections, actions)
    if blocked is not None:
        blocks.append(sender_blocked(blocked, message.id))
    blocks.append(_ids(message))
    controls = _controls(message)
    if controls is not None:
        blocks.append(controls)
    if outcomes:
        blocks += _outcomes(outcomes, len(blocks), text_size(blocks), message.id)
    style = "c" if compact else "f"
    for index, block in enumerate(blocks):
        if block.block_id is None:
            block.block_id = card_block(BlockPrefix.CARD, f"{style}{index}", message.id)
    return blocks


def private_card(
    message: MessageDetails,
    detections: Detections | None,
    actions: Sequence[ActionEntry],
    note: str,
) -> list[Block]:
    """The card, for the person who asked only, where the bot cannot post it (a channel it is
    not in, a DM between people); `note` says why (composed by `blocks.outcomes`)."""
    blocks = message_card(message, detections, actions)
    note_id = card_block(BlockPrefix.CARD, "private", message.id)
    return [*blocks, ContextBlock(block_id=note_id, elements=[mrkdwn(clamp(note, 2000))])]


def fallback_text(message: MessageDetails) -> str:
    """The notification / fallback `text` of a card: disposition, subject and sender."""
    subject = safe_or(message.subject, 160, NO_SUBJECT)
    source = safe_or(message.sender, 80)
    return clamp(f"{parts.disposition(message.final_disposition)}: {subject} from {source}", 300)


def _full_body(
    message: MessageDetails, detections: Detections | None, actions: Sequence[ActionEntry]
) -> list[Block]:
    blocks: list[Block] = [
        HeaderBlock(text=plain(safe_or(message.subject, 150, NO_SUBJECT))),
        SectionBlock(fields=_facts(message, detections, actions)),
    ]
    sections = (
        ("Detection reasons", _reasons(message.detection_reasons, REASONS_SHOWN)),
        ("Threat categories", _categories(message, detections)),
        ("Links", _links(detections)),
        ("Attachments", _attachments(detections)),
    )
    for label, text in sections:
        if text:
            blocks.append(SectionBlock(text=mrkdwn(f"*{label}*\n{text}")))
    return blocks


def _compact_body(message: MessageDetails) -> list[Block]:
    subject = safe_or(message.subject, 200, NO_SUBJECT)
    facts = [
        field("From", parts.sender(message)),
        field("Disposition", parts.disposition(message.final_disposition)),
        field("Quarantine", parts.quarantine(message.is_quarantined, message.delivery_status)),
        field("Scanned", parts.when(message.scanned_at or message.sent_at)),
    ]
    blocks: list[Block] = [SectionBlock(text=mrkdwn(f"*{subject}*"), fields=facts)]
    reasons = _reasons(message.detection_reasons, COMPACT_REASONS)
    if reasons:
        blocks.append(ContextBlock(elements=[mrkdwn(reasons)]))
    return blocks


def _facts(
    message: MessageDetails, detections: Detections | None, actions: Sequence[ActionEntry]
) -> list[TextObject]:
    validation = detections.validation if detections else message.validation
    auth = " · ".join(
        f"{name} {safe_or(getattr(validation, name.lower(), None), 20)}"
        for name in ("SPF", "DKIM", "DMARC")
    )
    disposition = message.final_disposition or (
        detections.final_disposition if detections else None
    )
    return [
        field("From", _from_lines(message)),
        field("To", _to_lines(message)),
        field("Sent", parts.when(message.sent_at)),
        field("Scanned", parts.when(message.scanned_at)),
        field("Disposition", parts.disposition(disposition)),
        field("Quarantine", parts.quarantine(message.is_quarantined, message.delivery_status)),
        field("SPF / DKIM / DMARC", auth),
        field("Actions taken", _history(message, actions)),
    ]


def _from_lines(message: MessageDetails) -> str:
    """Header From, plus the envelope sender and Reply-To when they differ (spoofing, BEC)."""
    lines = [parts.sender(message)]
    header = (message.from_ or message.envelope_from or "").lower()
    for label, other in (("envelope", message.envelope_from), ("reply-to", message.replyto)):
        if other and other.lower() != header:
            lines.append(f"{label}: {safe_or(other, 150)}")
    return "\n".join(lines)


def _to_lines(message: MessageDetails) -> str:
    """This copy's recipients, plus the header To when it names others (a list, Bcc)."""
    lines = [parts.recipients(message, RECIPIENTS_SHOWN)]
    claimed = parts.header_to(message, RECIPIENTS_SHOWN)
    if claimed:
        lines.append(f"header: {claimed}")
    return "\n".join(lines)


def _history(message: MessageDetails, actions: Sequence[ActionEntry]) -> str:
    if actions:
        shown = [_action_line(entry) for entry in actions[:HISTORY_SHOWN]]
        return parts.capped(shown, len(actions))
    operations = message.post_delivery_operations or []
    shown = [safe_or(op, 30) for op in operations[:HISTORY_SHOWN]]
    return parts.capped(shown, len(operations), bullet="", sep=", ") or "None"


def _action_line(entry: ActionEntry) -> str:
    words = [safe_or(entry.operation, 30), safe(entry.status, 20)]
    if entry.success is False:
        words.append("(failed)")
    folder = entry.properties.folder if entry.properties else None
    if folder:
        words.append(f"→ {safe(folder, 40)}")
    moment = entry.completed_at or entry.started_at
    if moment is not None:
        words.append(parts.when(moment))
    requester = entry.properties.requested_by if entry.properties else None
    if requester:
        words.append(f"by {safe(requester, 60, kind=Kind.LITERAL)}")  # the tenant's analyst
    return " ".join(word for word in words if word)


def _reasons(reasons: Sequence[str], shown: int) -> str:
    return parts.capped([safe_or(r, REASON_CHARS) for r in reasons[:shown]], len(reasons))


def _categories(message: MessageDetails, detections: Detections | None) -> str:
    if detections and detections.threat_categories:
        names = [c.name or MISSING for c in detections.threat_categories]
    else:
        names = list(message.threat_categories or [])
    shown = [safe_or(name, CATEGORY_CHARS) for name in names[:CATEGORIES_SHOWN]]
    return parts.capped(shown, len(names), bullet="", sep=", ")


def _links(detections: Detections | None) -> str:
    """Link text and target, both defanged: a text that names another host is the tell."""
    links = detections.links if detections else []
    shown = []
    for link in links[:LINKS_SHOWN]:
        href = safe_or(link.href, LINK_HREF_CHARS)
        text = safe(link.text, LINK_TEXT_CHARS)
        shown.append(f"{text} → {href}" if text and link.text != link.href else href)
    return parts.capped(shown, len(links))


def _attachments(detections: Detections | None) -> str:
    attachments = detections.attachments if detections else []
    shown = []
    for item in attachments[:ATTACHMENTS_SHOWN]:
        details = [safe(item.content_type, 40), _size(item.size)]
        if item.detection:
            details.append(safe(item.detection, 20))
        if item.encrypted:
            details.append("encrypted")
        name = safe_or(item.filename or item.name, FILENAME_CHARS, "(unnamed)", kind=Kind.LITERAL)
        shown.append(f"{name} ({', '.join(d for d in details if d)})")
    return parts.capped(shown, len(attachments))


def _size(size: int) -> str:
    if size < 0:
        return "size unknown"
    if size >= 1024**4:
        return "1 TB or more"
    value, unit = float(size), "B"
    for bigger in ("KB", "MB", "GB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"


def _ids(message: MessageDetails) -> ContextBlock:
    words = [
        f"Investigate id {safe_or(message.id, 122, kind=Kind.LITERAL)}",
        f"Postfix id {safe_or(message.postfix_id, 82, kind=Kind.LITERAL)}",
    ]
    if message.message_id:
        words.append(f"Message-ID {safe(message.message_id, 202, kind=Kind.LITERAL)}")
    if not parts.actionable(message.id):
        words.append("malformed id: no actions offered")
    return ContextBlock(elements=[mrkdwn(" · ".join(words))])


def _controls(message: MessageDetails) -> ActionsBlock | None:
    """Buttons and menus; each carries the investigate id. Those that cannot apply are absent:
    Release unless quarantined, Block without a sender, all of them for a malformed id."""
    if not parts.actionable(message.id):
        return None
    mid = message.id
    elements: list[InteractiveElement] = [
        parts.button("Preview", ActionId.PREVIEW, mid),
        parts.button("Raw", ActionId.RAW, mid),
        parts.button("Trace", ActionId.TRACE, mid),
    ]
    if message.is_quarantined:
        confirm = _release_confirm(message)
        elements.append(
            parts.button("Release", ActionId.RELEASE, mid, style="danger", confirm=confirm)
        )
    elements += [
        StaticSelectElement(
            action_id=ActionId.MOVE,
            placeholder=plain("Move…"),
            options=parts.menu_options("folders"),
        ),
        StaticSelectElement(
            action_id=ActionId.RECLASSIFY,
            placeholder=plain("Reclassify…"),
            options=parts.menu_options("dispositions"),
        ),
    ]
    source = message.sender
    if source:
        confirm = _block_confirm(source)
        elements.append(
            parts.button("Block sender", ActionId.BLOCK, mid, style="danger", confirm=confirm)
        )
        # Both open a modal; an allow policy is always an approval request (blocks/allowlist.py).
        elements.append(parts.button("Allow sender…", ActionId.ALLOW, mid))
    if message.final_disposition != "NONE":
        elements.append(parts.button("False positive…", ActionId.FALSE_POSITIVE, mid))
    # The menus' choice is their option; the message they act on is this block's id.
    return ActionsBlock(block_id=card_block(BlockPrefix.CARD, "actions", mid), elements=elements)


def _release_confirm(message: MessageDetails) -> ConfirmObject:
    subject = safe_or(message.subject, 120, NO_SUBJECT)
    return ConfirmObject(
        title=plain("Release this message?"),
        text=plain(f"“{subject}” will be delivered from quarantine to its recipients."),
        confirm=plain("Release"),
        deny=plain("Cancel"),
        style="danger",
    )


def _block_confirm(source: str) -> ConfirmObject:
    return ConfirmObject(
        title=plain("Block this sender?"),
        text=plain(
            f"Block future mail from {safe_or(source, 150)}? "
            "Next you choose the address or its whole domain."
        ),
        confirm=plain("Continue"),
        deny=plain("Cancel"),
        style="danger",
    )


def _outcomes(
    outcomes: Sequence[str], blocks_used: int, text_used: int, message_id: str
) -> list[Block]:
    """The newest outcomes that fit; block ids keep each line's index in `outcomes`."""
    room_blocks = MAX_BLOCKS - blocks_used - 1  # one kept for the "earlier ones" note
    room_text = CARD_TEXT_BUDGET - text_used - 100
    shown: list[Block] = []
    for index in range(len(outcomes) - 1, -1, -1):
        line = clamp(outcomes[index], OUTCOME_CHARS).strip() or MISSING
        if len(shown) >= room_blocks or text_width(line) > room_text:
            break
        block_id = card_block(BlockPrefix.OUTCOME, str(index), message_id)
        shown.append(ContextBlock(block_id=block_id, elements=[mrkdwn(line)]))
        room_text -= text_width(line)
    shown.reverse()
    hidden = len(outcomes) - len(shown)
    if hidden:
        note = mrkdwn(f"{hidden} earlier outcome line(s) not shown here: see the thread.")
        block_id = card_block(BlockPrefix.CARD, HIDDEN_OUTCOMES, message_id)
        shown.insert(0, ContextBlock(block_id=block_id, elements=[note]))
    return shown
