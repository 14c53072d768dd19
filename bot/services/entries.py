"""Naming one settings entry (a blocked sender, an allow policy, a trusted domain) for the
commands that remove one: by its id, or by its exact pattern.

A pattern that several entries have (a regex and a literal of the same text, or the same text
for two pattern types) names none of them: the person is told how many there are and their
ids, told apart, and nothing is removed. Removing the first of them would leave in place the
one they may have meant, and say it was done; removing all of them would remove entries they
never saw.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from bot.cloudflare import NotFoundError
from bot.errors import InvalidInput, NotFound

# The API's ids of settings entries are UUIDs; anything else a person names is a pattern.
ENTRY_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
NAMED_AT_MOST = 5  # ids a refusal lists when a pattern names several entries


class Listed(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def pattern(self) -> str: ...

    @property
    def is_regex(self) -> bool: ...


E = TypeVar("E", bound=Listed)


@dataclass(frozen=True)
class EntryWords:
    """How a list's entries are named in the sentences a person reads."""

    noun: str  # "allow policy"
    plural: str  # "allow policies"
    listing: str  # the command that lists and searches them: "allowed"
    verb: str  # what the person does with one: "remove", "unblock"


def quoted(text: str) -> str:
    """A person's input in our sentence: a code span it cannot close, shortened."""
    return "`" + text.replace("`", "'")[:80] + "`"


async def named_entry(
    target: str,
    words: EntryWords,
    *,
    by_id: Callable[[str], Awaitable[E]],
    by_pattern: Callable[[str], Awaitable[list[E]]],
) -> E:
    """The one entry `target` names: an id (`by_id`), else the one entry whose pattern is
    `target` whatever its case, among those `by_pattern` lists."""
    if ENTRY_ID.match(target):
        try:
            return await by_id(target)
        except NotFoundError:
            raise NotFound(
                target, f"No {words.noun} has id {quoted(target)}; `{words.listing}` lists them."
            ) from None
    exact = [e for e in await by_pattern(target) if e.pattern.lower() == target.lower()]
    if not exact:
        raise NotFound(
            target,
            f"No {words.noun} has the pattern {quoted(target)}; "
            f"{quoted(f'{words.listing} {target[:40]}')} finds those that contain it.",
        )
    if len(exact) > 1:
        ids = ", ".join(_told_apart(e) for e in exact[:NAMED_AT_MOST])
        raise InvalidInput(
            f"{len(exact)} {words.plural} have that pattern, so nothing was removed; "
            f"{words.verb} one by its id: {ids}."
        )
    return exact[0]


def _told_apart(entry: Listed) -> str:
    """An entry's id with what sets it apart from others of the same pattern."""
    kind = getattr(entry, "pattern_type", None)
    marks = [str(kind).lower()] if kind else []
    marks += ["regex"] if entry.is_regex else []
    return quoted(entry.id) + (f" ({', '.join(marks)})" if marks else "")
