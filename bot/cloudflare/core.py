"""What every area of the client shares: the URL of an operation, one call through the transport,
reading a result into a model, page-paginated lists, and the table of endpoints each public method
sends to.

The areas (investigate.py, actions.py, reports.py, collections.py, bulkjobs.py) build on
`ClientCore`; `EmailSecurityClient` (client.py) joins them and owns the one `Transport`.

`@endpoint(method, path)` marks the API operation(s) a method sends, as the path template under
`/accounts/{account_id}/email-security/`. `endpoints(client)` gathers them, so a test can hold the
client against the OpenAPI file operation by operation, and docs/client.md can be checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from bot.cloudflare.pages import all_pages
from bot.cloudflare.parsing import parse
from bot.cloudflare.transport import Transport, decode_envelope

M = TypeVar("M")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
ENDPOINTS_ATTR = "__api_endpoints__"


@dataclass(frozen=True)
class Endpoint:
    """One operation a client method sends: `GET investigate/{id}/raw`."""

    method: str
    path: str


def endpoint(method: str, path: str) -> Callable[[F], F]:
    """Mark a method as sending `method path` (stackable: a method may use several)."""

    def mark(function: F) -> F:
        found = (*getattr(function, ENDPOINTS_ATTR, ()), Endpoint(method, path))
        setattr(function, ENDPOINTS_ATTR, found)
        return function

    return mark


def marked(owner: object, prefix: str = "") -> dict[str, tuple[Endpoint, ...]]:
    """`{"name": endpoints}` for every method of `owner` marked with `@endpoint`."""
    table: dict[str, tuple[Endpoint, ...]] = {}
    for name in dir(type(owner)):
        found = getattr(getattr(type(owner), name, None), ENDPOINTS_ATTR, None)
        if found:
            table[f"{prefix}{name}"] = tuple(found)
    return table


def check_id(identifier: str) -> str:
    """Reject ids that cannot be an API id before they reach a URL."""
    if not identifier or len(identifier) > 128 or not identifier.isprintable() or " " in identifier:
        raise ValueError(f"not an id: {identifier[:40]!r}")
    return identifier


def unique(ids: Iterable[str]) -> list[str]:
    """Ids in first-seen order without repeats: acting twice on one message is never wanted."""
    return list(dict.fromkeys(check_id(i) for i in ids))


def chunks(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


@dataclass(frozen=True)
class ListPage(Generic[T]):
    """One page of a page-paginated list, with the totals the API reported for it."""

    items: list[T]
    page: int
    per_page: int
    total_count: int | None


class ClientCore:
    """The plumbing each area of the client calls; the transport is set up by client.py."""

    _transport: Transport
    _prefix: str

    def _url(self, *parts: str) -> str:
        return "/".join([self._prefix, *(quote(p, safe="") for p in parts)])

    async def _call(
        self,
        method: str,
        parts: Sequence[str],
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> tuple[dict[str, Any], httpx.Response]:
        what = f"{method} {'/'.join(parts)}"
        response = await self._transport.request(
            method, self._url(*parts), params=params, json=json, what=what
        )
        return decode_envelope(response, what), response

    async def _result(
        self, model: type[BaseModel] | TypeAdapter[Any], method: str, *parts: str, **kw: Any
    ) -> Any:
        body, _ = await self._call(method, parts, **kw)
        return parse(model, body.get("result"), f"{method} {'/'.join(parts)}")

    async def _all_pages(
        self, adapter: TypeAdapter[list[M]], endpoint: str, params: Mapping[str, str]
    ) -> list[M]:
        """Every item of a page-paginated list (bounded: see pages.py)."""
        parts = endpoint.split("/")

        async def fetch(query: dict[str, str]) -> dict[str, Any]:
            body, _ = await self._call("GET", parts, params=_query(params, query))
            return body

        return await all_pages(fetch, adapter, endpoint, _single(params))

    async def _one_page(
        self, adapter: TypeAdapter[list[M]], endpoint: str, params: Mapping[str, str]
    ) -> ListPage[M]:
        """The page `params` names (`page`, `per_page`), with its reported totals."""
        body, _ = await self._call("GET", endpoint.split("/"), params=params)
        items: list[M] = parse(adapter, body.get("result") or [], endpoint)
        info = body.get("result_info")
        info = info if isinstance(info, dict) else {}
        total = info.get("total_count")
        return ListPage(
            items=items,
            page=int(params.get("page", "1")),
            per_page=_int(info.get("per_page"), int(params.get("per_page", "20"))),
            total_count=total if isinstance(total, int) else None,
        )


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _single(params: Mapping[str, str]) -> dict[str, str]:
    """The parameters pages.py may set and read (a repeated one is carried aside)."""
    if isinstance(params, httpx.QueryParams):
        return {k: v for k, v in params.items() if len(params.get_list(k)) == 1}
    return dict(params)


def _query(original: Mapping[str, str], page: dict[str, str]) -> Mapping[str, str]:
    """`page`'s parameters plus the original's repeated ones (`domain=a&domain=b`)."""
    if not isinstance(original, httpx.QueryParams):
        return page
    repeated = [(k, v) for k, v in original.multi_items() if len(original.get_list(k)) > 1]
    return httpx.QueryParams([*page.items(), *repeated])
