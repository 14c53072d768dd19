"""Small builders the renderers share: text objects, times, disposition cues, capped lists.

Helpers here never call `safe` on their own input unless their name says so (`safe_or`); callers
pass text that is already safe, so nothing is escaped twice."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from slack_sdk.models.blocks import (
    ButtonElement,
    ConfirmObject,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
)

from blocks.safety import Kind, safe
from bot.cloudflare.models import DESTINATIONS, RECLASSIFY_DISPOSITIONS, MessageDetails

# Shown where a value is missing, so no text object is ever empty (Slack rejects empty text).
MISSING = "—"
# Ends what a settings change said when it was done but Redis refused its audit entry.
UNAUDITED = " The audit trail could not record it (the bot's Redis is unreachable)."

# Colour cue per final disposition; anything else (UNKNOWN, new values) is white.
_CUES = {
    "MALICIOUS": "🔴",
    "MALICIOUS-BEC": "🔴",
    "SUSPICIOUS": "🟠",
    "SPOOF": "🟠",
    "SPAM": "🟡",
    "BULK": "🟡",
    "NONE": "🟢",
}
# Ids go into button values (max 2000) and come back to us; anything but a sane id is not
# offered as an action (the API's ids are `<postfix>-<timestamp>-<hex>`, under 100 chars).
_ACTIONABLE_ID = re.compile(r"^[A-Za-z0-9:._-]{1,200}$")  # fits a block_id with its prefix

# Human labels for the API's folder names (option values stay the API's names).
FOLDER_LABELS: dict[str, str] = {
    "Inbox": "Inbox",
    "JunkEmail": "Junk email",
    "DeletedItems": "Deleted items",
    "RecoverableItemsDeletions": "Recoverable items: deletions",
    "RecoverableItemsPurges": "Recoverable items: purges",
}


def mrkdwn(text: str) -> MarkdownTextObject:
    """mrkdwn with `verbatim` on: no auto-linking or automatic mention parsing of what we show
    (our own `<@U…>` mentions still work; attacker text has no `<` left)."""
    return MarkdownTextObject(text=text or MISSING, verbatim=True)


def plain(text: str) -> PlainTextObject:
    return PlainTextObject(text=text or MISSING, emoji=True)


def safe_or(
    text: str | None, limit: int, missing: str = MISSING, *, kind: Kind = Kind.ATTACKER
) -> str:
    """`safe(text, limit, kind=kind)`, or `missing` when nothing is left of it."""
    return safe(text, limit, kind=kind) or missing


def page_heading(
    counted: str, uncounted: str, total: int | None, what: str, shown_before: int, shown: int
) -> SectionBlock:
    """The first block of one page of a listing: how many there are (`counted` after the number,
    `uncounted` when the API gave no total), what was asked (`what`), which ones it shows."""
    count = f"{total:,} {counted}" if total is not None else uncounted
    span = f"showing {shown_before + 1}-{shown_before + shown}"
    return SectionBlock(text=mrkdwn(f"*{count}*{what} · {span}"))


def span(length: timedelta) -> str:
    """A listing's window as the person gave it (`since:30m`, `24h`, `7d`, `2w`): `7 days`,
    `24 hours`, `30 minutes`."""
    seconds = int(length.total_seconds())
    if seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} day{'s' if days != 1 else ''}"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hours"
    return f"{seconds // 60} minutes"


def when(moment: datetime | None) -> str:
    """A readable UTC time; naive datetimes are taken as UTC (the API speaks UTC)."""
    if moment is None:
        return MISSING
    try:
        utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return moment.isoformat()
    return utc.strftime("%Y-%m-%d %H:%M:%S UTC")


def disposition(value: str | None) -> str:
    """`🔴 MALICIOUS`: emoji cue plus the (safe) disposition name."""
    if not value:
        return "⚪ not given"
    return f"{_CUES.get(value.upper(), '⚪')} {safe_or(value, 40)}"


def quarantine(is_quarantined: bool, statuses: Sequence[str] | None) -> str:
    if is_quarantined:
        return "🔒 Quarantined"
    status = ", ".join(safe_or(s, 40) for s in (statuses or [])[:3])
    return f"Not quarantined ({status})" if status else "Not quarantined"


def capped(shown: Sequence[str], total: int, *, bullet: str = "• ", sep: str = "\n") -> str:
    """Already-safe `shown` items (the first of `total`), then "…and N more" for the rest."""
    lines = [bullet + item for item in shown]
    if total > len(shown):
        lines.append(f"…and {total - len(shown)} more")
    return sep.join(lines)


def actionable(message_id: str) -> bool:
    return bool(_ACTIONABLE_ID.match(message_id))


def button(
    label: str,
    action_id: str,
    value: str,
    *,
    style: str | None = None,
    confirm: ConfirmObject | None = None,
) -> ButtonElement:
    return ButtonElement(
        text=plain(label), action_id=action_id, value=value, style=style, confirm=confirm
    )


def option(label: str, value: str) -> Option:
    return Option(text=plain(label), value=value)


def folder_options() -> list[Option]:
    return [option(FOLDER_LABELS.get(folder, folder), folder) for folder in DESTINATIONS]


def disposition_options() -> list[Option]:
    return [option(value, value) for value in RECLASSIFY_DISPOSITIONS]


@functools.cache
def menu_options(kind: Literal["folders", "dispositions"]) -> tuple[dict[str, Any], ...]:
    """The card's menus, serialised once: they are the same on every card, and serialising
    eleven options (slack-sdk validates each on the way) was a fifth of a card's render cost."""
    options = folder_options() if kind == "folders" else disposition_options()
    return tuple(o.to_dict() for o in options)


def field(label: str, value: str) -> MarkdownTextObject:
    """A section field: our bold label over an already-safe value."""
    return mrkdwn(f"*{label}*\n{value or MISSING}")


def sender(message: MessageDetails) -> str:
    """`Name <address>` of the header From, safe."""
    name = safe(message.from_name, 80)
    address = safe(message.from_ or message.envelope_from, 150)
    if name and address:
        return f"{name} &lt;{address}&gt;"
    return name or address or MISSING


def recipients(message: MessageDetails, shown: int) -> str:
    """This copy's recipients (`MessageDetails.recipients`: the mailbox it went to, else the
    envelope, else the header To), the first `shown` as `Name <address>` where the header To
    names them, then "…and N more". The copies of one message (one per recipient) share the
    header To, so only this tells them apart. The tenant's own mailboxes: literal, as they are."""
    return _addresses(message.recipients, message, shown, Kind.LITERAL)


def header_to(message: MessageDetails, shown: int) -> str:
    """The header To when it names other addresses than this copy's recipients (a list, Bcc,
    a forged To), else "": what the sender claimed, beside where the copy went. The sender
    wrote it (it may name any host), so it is defanged like the sender's own address."""
    to = message.to or []
    if not to or {a.lower() for a in to} == {a.lower() for a in message.recipients}:
        return ""
    return _addresses(to, message, shown, Kind.ATTACKER)


def _addresses(addresses: Sequence[str], message: MessageDetails, shown: int, kind: Kind) -> str:
    """`Name <address>` (a literal: `Name` and the address's code span); the display name is
    the sender's header text, always defanged."""
    to, names = message.to or [], message.to_name or []
    named = {a.lower(): n for a, n in zip(to, names, strict=False) if n}
    items = []
    for address in addresses[:shown]:
        name = safe(named.get(address.lower()), 60)
        shown_address = safe_or(address, 120, kind=kind)
        if name and kind is Kind.LITERAL:
            items.append(f"{name} {shown_address}")
        else:
            items.append(f"{name} &lt;{shown_address}&gt;" if name else shown_address)
    return capped(items, len(addresses), bullet="", sep=", ") or MISSING
