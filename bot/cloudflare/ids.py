"""Message identifiers: investigate ids and the bare postfix ids that older docs and users use."""

from __future__ import annotations

import re
from typing import NamedTuple

# `<postfix_id>-<YYYY-MM-DDTHH:MM:SS>-<8 hex>` (CONTRACT.md §1).
INVESTIGATE_ID = re.compile(
    r"^(?P<postfix>[A-Za-z0-9]{4,64})-(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})-(?P<hex>[0-9a-fA-F]{8})$"
)
POSTFIX_ID = re.compile(r"^[A-Za-z0-9]{4,64}$")


class MessageId(NamedTuple):
    """A parsed identifier: `investigate_id` is None when only a postfix id was given."""

    postfix_id: str
    investigate_id: str | None


def parse_message_id(text: str) -> MessageId | None:
    """Parse an investigate id or a bare postfix id; None if `text` is neither."""
    text = text.strip()
    if match := INVESTIGATE_ID.match(text):
        return MessageId(match["postfix"], text)
    if POSTFIX_ID.match(text):
        return MessageId(text, None)
    return None


# A word that may be a postfix id in free text: 10-20 letters and digits with both in it, so
# that ordinary words ("Hello", "2024") are not taken for ids.
_CANDIDATE = re.compile(r"[A-Za-z0-9][A-Za-z0-9:T-]{8,80}[A-Za-z0-9]")


def find_message_ids(text: str) -> list[str]:
    """Message ids found in free text, in order, without repeats."""
    found: list[str] = []
    for match in _CANDIDATE.finditer(text):
        word = match.group(0)
        if INVESTIGATE_ID.match(word) or (
            POSTFIX_ID.match(word)
            and 10 <= len(word) <= 20
            and any(c.isdigit() for c in word)
            and any(c.isalpha() for c in word)
        ):
            found.append(word)
    return list(dict.fromkeys(found))
