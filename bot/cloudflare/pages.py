"""Page-paginated lists (submissions, settings) read with bounded work.

A server's totals are not trusted to keep the loop going: against a mock serving the spec's
example page (`total_count` 2000, the same page for every `page`), a loop that read until
`total_count` sent 1,190 requests and spent the whole rate-limit budget, starving every other
request for five minutes. So the loop only ever stops early: on a short or empty page, once
`total_count` items are read, on a page equal to an earlier one (a server that ignores `page`),
and at MAX_LIST_PAGES pages; the last two are logged, once each.

The budget: a list call sends at most MAX_LIST_PAGES = 10 page requests, 0.8% of the 1200 that
Cloudflare allows per 5 minutes (CONTRACT.md §4); a page's GET is retried at most 3 times on a
5xx, so 40 requests (3.3%) at the very worst. Pages ask for the API's maximum of 1000 items, so
a list of up to 10,000 entries is read in full.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import TypeAdapter

from bot.cloudflare.parsing import parse

log = logging.getLogger("bot.cloudflare")

MAX_LIST_PAGES = 10
LIST_PER_PAGE = 1000

M = TypeVar("M")
Fetch = Callable[[dict[str, str]], Awaitable[dict[str, Any]]]


async def all_pages(
    fetch: Fetch, adapter: TypeAdapter[list[M]], endpoint: str, params: dict[str, str]
) -> list[M]:
    """Every item `fetch` (one GET of `endpoint` with these query parameters, answering the
    envelope) gives from page 1 on, within the bounds above."""
    query = {"per_page": str(LIST_PER_PAGE), **params}
    asked = int(query["per_page"])
    items: list[M] = []
    seen: set[bytes] = set()
    for page in range(1, MAX_LIST_PAGES + 1):
        query["page"] = str(page)
        body = await fetch(dict(query))
        result = body.get("result") or []
        digest = hashlib.sha256(json.dumps(result, sort_keys=True).encode()).digest()
        if digest in seen:
            log.warning(
                "list %s: page %d repeats an earlier page, so the API is not paging; stopped "
                "with the %d items read", endpoint, page, len(items),
            )  # fmt: skip
            return items
        seen.add(digest)
        items.extend(parse(adapter, result, endpoint))
        info = body.get("result_info")
        info = info if isinstance(info, dict) else {}
        served, total = info.get("per_page"), info.get("total_count")
        # A server may serve fewer than asked per page: a page is short only against that.
        size = min(asked, served) if isinstance(served, int) and served > 0 else asked
        read_all = isinstance(total, int) and 0 < total <= len(items)
        if len(result) < size or read_all:
            return items
    log.warning(
        "list %s: stopped at %d pages (%d items) with more announced; the rest is not read, "
        "to keep one list within a small share of the API's rate limit",
        endpoint, MAX_LIST_PAGES, len(items),
    )  # fmt: skip
    return items
