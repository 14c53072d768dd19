"""Lists shown a page at a time with a "More" button for the next: the blocked senders, the
allow policies and trusted domains, the VIP list, the reclassify submissions. One place for the
page size, the value a More button carries and how it is read back, and whether a page has a
next one, so that every list pages the same way.

A page key is `<page>:<filter>`: the page's number and what the list was filtered by (a search
text; the submissions' window and status), so the next page needs nothing kept in Redis. The
filter is the list's own and opaque here; a key is read back bounded, since a click's value
comes from whoever sent the click.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bot.cloudflare.core import ListPage
from bot.errors import InvalidInput

PAGE = 10  # entries a page shows (with More), as a search page
MAX_PAGE = 1000  # a later page than this is refused (no button of ours names one)
E = TypeVar("E")
# A number in a key: ASCII digits, few enough for int() (str.isdigit also takes "²", which
# int() refuses, and int() refuses more than 4,300 digits).
DIGITS = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True)
class Page(Generic[E]):
    """One page of a list: `text` is what it was filtered by ("" for all); `key` names this
    page (a Remove redraws it), `more` the next one (None on the last)."""

    entries: list[E]
    text: str
    shown_before: int
    total: int | None
    key: str
    more: str | None


def page_key(number: int, text: str) -> str:
    """The value of a "More" button: the page to show and the list's filter."""
    return f"{number}:{text}"


def read_key(key: str, max_text: int, unreadable: str) -> tuple[int, str]:
    """The page and the filter a key names; `unreadable` is the sentence a person reads when
    it names neither (it says which command to run again)."""
    number, _, text = key.partition(":")
    if not DIGITS.fullmatch(number) or not 1 <= int(number) <= MAX_PAGE or len(text) > max_text:
        raise InvalidInput(unreadable)
    return int(number), text


def page_of(found: ListPage[E], number: int, text: str) -> Page[E]:
    """Page `number` of a list as the API answered it (`PAGE` a page): a next page while
    this one is full and the reported total (when there is one) is not reached."""
    first = (number - 1) * PAGE
    entries = list(found.items)
    total = found.total_count
    more = len(entries) == PAGE and (total is None or first + len(entries) < total)
    return Page(
        entries=entries, text=text, shown_before=first, total=total,
        key=page_key(number, text), more=page_key(number + 1, text) if more else None,
    )  # fmt: skip


async def searched_page(
    read: Callable[..., Awaitable[ListPage[E]]], number: int, text: str, **order: Any
) -> Page[E]:
    """Page `number` of a settings collection (`read`: its `page`), searched for `text` when
    there is one, in the collection's `order` (order=, direction=)."""
    filters = {"search": text} if text else {}
    return page_of(await read(number, PAGE, **order, **filters), number, text)
