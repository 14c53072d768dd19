"""Terminal columns: how wide text shows, and lines folded to fit an 80-column terminal.

The console prints every line through `fit`, so no screen (a card with a 300-character subject,
an address without a space to break at, a menu of five folders) runs past the terminal's edge.
"""

from __future__ import annotations

import re
import unicodedata

SCREEN_COLUMNS = 80
HANG = 2  # a folded line's continuation sits this much further in than its first line
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\ufe0e\ufe0f")
EMOJI_PRESENTATION = "\ufe0f"  # makes the character before it an emoji, two columns wide
PIECES = re.compile(r"( +)")


def char_columns(char: str) -> int:
    if char in ZERO_WIDTH or unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def columns(text: str) -> int:
    """How many terminal columns `text` takes: wide characters (most emoji, CJK) take two."""
    if text.isascii():
        return len(text)
    total = 0
    for index, char in enumerate(text):
        width = char_columns(char)
        # `⚠️` is a one-column character turned into a two-column emoji by U+FE0F.
        if width == 1 and text[index + 1 : index + 2] == EMOJI_PRESENTATION:
            width = 2
        total += width
    return total


def clip(text: str, width: int) -> str:
    """`text` cut to `width` columns, with `…` when something was cut."""
    if columns(text) <= width:
        return text
    kept, used = [], 0
    for char in text:
        used += columns(char)
        if used > width - 1:
            break
        kept.append(char)
    return "".join(kept) + "…"


def fit(line: str, width: int = SCREEN_COLUMNS) -> list[str]:
    """One line as lines of at most `width` columns: folded between words (the runs of
    spaces between them kept), a word longer than a line cut, continuations hanging under
    the first line's text."""
    if columns(line) <= width:
        return [line]
    body = line.lstrip(" ")
    lead = line[: len(line) - len(body)]
    hang = " " * min(len(lead) + HANG, width // 2)
    lines: list[str] = []
    current, start = lead, True  # `start`: nothing but indent on `current` yet
    for piece in PIECES.split(body):
        if not piece:
            continue
        if piece.startswith(" "):
            if not start:
                current += piece
            continue
        if not start and columns(current) + columns(piece) > width:
            lines.append(current.rstrip(" "))
            current, start = hang, True
        while columns(current) + columns(piece) > width:
            room = width - columns(current)
            head = _head(piece, room)
            lines.append(current + head)
            piece = piece[len(head) :]
            current = hang
        current += piece
        start = False
    lines.append(current.rstrip(" ") if not start else current)
    return [line for line in lines if line.strip()] or [lead]


def _head(word: str, room: int) -> str:
    """The longest start of `word` that fits in `room` columns (at least one character)."""
    used = 0
    for index, char in enumerate(word):
        used += columns(char)
        if used > room:
            return word[: max(index, 1)]
    return word
