"""Pasted input, made plain again: what the bot shows defanged (`hxxps://evil[.]example`,
`billing@invoices[.]example`), and the common notations analysts and other tools use for the
same (`[dot]`, `(.)`, `{.}`, `[@]`, `[at]`, `[:]`, `hxxp`, `fxp`), turned back into the address,
domain or URL they stand for, so that whatever the bot shows can be pasted into any command.

It only undoes notations; it never adds a scheme or guesses. `blocks.safety.defang` is its
inverse for what the bot writes, and uses it first, so that the API's `[dot]` and the bot's own
`[.]` come out in one notation."""

from __future__ import annotations

import re

_BRACKETED = re.compile(r"[\[\(\{]\s*(\.|dot|@|at|:)\s*[\]\)\}]", re.IGNORECASE)
_SCHEME = re.compile(r"\b(h)xx(ps?)(?=(?::|\[:\])//)|\b(f)x(ps?)(?=(?::|\[:\])//)", re.IGNORECASE)
_PLAIN = {".": ".", "dot": ".", "@": "@", "at": "@", ":": ":"}


def refang(text: str) -> str:
    """`text` with defanged dots, at-signs, colons and schemes made plain again."""
    # Each pattern needs its characters (`hxxp` and `fxp` both hold `xp`); most text has none,
    # and the bot's display runs every attacker string through here.
    if "xp" in text.lower():
        text = _SCHEME.sub(lambda m: f"{m[1]}tt{m[2]}" if m[1] else f"{m[3]}t{m[4]}", text)
    if "[" in text or "(" in text or "{" in text:
        text = _BRACKETED.sub(lambda m: _PLAIN[m[1].lower()], text)
    return text
