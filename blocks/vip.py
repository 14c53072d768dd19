"""The VIP list (the impersonation registry) a page at a time, each entry added by hand with a
Remove button and each synced one saying which directory owns it; the confirmation of
`vip add`; and what an addition or removal did. Names and notes are free text (through `safe`
as attacker text); addresses and ids are the tenant's literals (code spans)."""

from __future__ import annotations

import json
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
from blocks.ids import ActionId
from blocks.parts import mrkdwn, page_heading, plain, safe_or, when
from blocks.safety import Kind, safe
from bot.cloudflare.settings_models import ImpersonationEntry

NAME_CHARS = 200
EMAIL_CHARS = 300
COMMENT_CHARS = 300
VIP_NOTE = (
    "Mail from outside that uses one of these names (or looks like these addresses) is "
    "flagged as impersonation."
)


def _remove_confirm() -> ConfirmObject:
    return ConfirmObject(
        title=plain("Remove from the VIP list?"),
        text=plain(
            "Mail using this person's name is no longer checked for impersonation by this entry."
        ),
        confirm=plain("Remove"),
        deny=plain("Cancel"),
        style="danger",
    )


def remove_button(entry: ImpersonationEntry) -> ButtonElement:
    return parts.button(
        "Remove", ActionId.VIP_REMOVE, entry.id, style="danger", confirm=_remove_confirm()
    )


def _address(entry: ImpersonationEntry) -> str:
    shown = safe_or(entry.email, EMAIL_CHARS, kind=Kind.LITERAL)
    return f"{shown} (regex)" if entry.is_email_regex else shown


def _entry_text(entry: ImpersonationEntry) -> str:
    lines = [f"*{safe_or(entry.name, NAME_CHARS)}* · {_address(entry)}"]
    if entry.comments:
        lines.append(safe(entry.comments, COMMENT_CHARS))
    directory = entry.synced_from
    origin = f"synced from {directory}: change it there" if directory else "added by hand"
    lines.append(f"{origin} · since {when(entry.created_at)}")
    return "\n".join(lines)


def vip_list(
    entries: Sequence[ImpersonationEntry],
    *,
    text: str,
    shown_before: int,
    total: int | None,
    more: str | None,
) -> list[Block]:
    """One page of the VIP list (at most PAGE entries, bot/services/paging.py)."""
    what = f" matching {safe_or(text, 100)}" if text else ""
    if not entries:
        return [SectionBlock(text=mrkdwn(f"No one on the VIP list{what}."))]
    heading = page_heading(
        "people on the VIP list", "The VIP list", total, what, shown_before, len(entries)
    )
    blocks: list[Block] = [heading]
    for entry in entries:
        manual = entry.synced_from is None
        blocks.append(
            SectionBlock(
                text=mrkdwn(_entry_text(entry)),
                accessory=remove_button(entry) if manual else None,
            )
        )
    if more is not None:
        if len(more) > 2000:
            raise ValueError("the page key must fit a button value (2000 characters)")
        blocks.append(ActionsBlock(elements=[parts.button("More", ActionId.VIP_MORE, more)]))
    blocks.append(ContextBlock(elements=[mrkdwn(VIP_NOTE)]))
    return blocks


def add_value(email: str, name: str) -> str:
    """The Add button's value: what to add, as the command gave it (≤ 2000 characters)."""
    return json.dumps({"email": email, "name": name}, separators=(",", ":"))


def read_add_value(value: str) -> tuple[str, str]:
    """The email and name an Add button carries; ValueError when it is not ours."""
    data = json.loads(value)
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), str) for k in ("email", "name")
    ):
        raise ValueError("not an Add button's value")
    return data["email"], data["name"]


def add_confirmation(email: str, name: str) -> list[Block]:
    """`vip add`'s question: who would be added, and the Add button that does it."""
    who = f"*{safe_or(name, NAME_CHARS)}* · {safe_or(email, EMAIL_CHARS, kind=Kind.LITERAL)}"
    return [
        SectionBlock(text=mrkdwn(f"Add to the VIP list?\n{who}\n{VIP_NOTE}")),
        ActionsBlock(
            elements=[
                parts.button("Add", ActionId.VIP_ADD, add_value(email, name), style="primary")
            ]
        ),
    ]


def vip_added_text(entry: ImpersonationEntry, *, unaudited: bool = False) -> str:
    line = (
        f"Added {safe_or(entry.name, NAME_CHARS)} ({_address(entry)}) to the VIP list; id "
        f"{safe_or(entry.id, 60, kind=Kind.LITERAL)}."
    )
    return line + (parts.UNAUDITED if unaudited else "")


def vip_removed_text(entry: ImpersonationEntry, *, unaudited: bool = False) -> str:
    line = (
        f"Removed {safe_or(entry.name, NAME_CHARS)} ({_address(entry)}) from the VIP list: "
        "mail using that name is no longer checked against this entry."
    )
    return line + (parts.UNAUDITED if unaudited else "")
