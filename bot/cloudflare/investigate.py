"""Reading mail: search by cursor (following a 202's Location), and one message's details,
detections, raw EML, trace, action log and preview.

Bounded work: a raw EML is streamed to the caller's file under a size cap (rawjson.py), never
held whole; a 202 search is polled on the API's own origin only, within `search_poll_timeout`.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar, Unpack
from urllib.parse import urljoin, urlsplit

import httpx
from pydantic import TypeAdapter

from bot.cloudflare import shapes
from bot.cloudflare.core import ClientCore, check_id, endpoint
from bot.cloudflare.errors import (
    NotFoundError,
    TooLargeError,
    UnavailableError,
    UnexpectedResponseError,
)
from bot.cloudflare.filters import SearchFilterArgs, SearchFilters
from bot.cloudflare.ids import parse_message_id
from bot.cloudflare.models import ActionEntry, Detections, MessageDetails, MessageMatch, Trace
from bot.cloudflare.parsing import parse, png
from bot.cloudflare.rawjson import RawEmlWriter
from bot.cloudflare.shapes import BodyShape, Shape
from bot.cloudflare.transport import decode_envelope, parse_retry_after

M = TypeVar("M", bound=MessageMatch)
RAW_MAX_BYTES = 40 * 1024**2  # get_raw's default cap; the bot's is BOT_RAW_MAX_MB


@dataclass(frozen=True)
class SearchPage:
    messages: list[MessageDetails]
    next_cursor: str | None


class InvestigateApi(ClientCore):
    base_url: str
    _poll_interval: float
    _poll_timeout: float
    _preview_shape: BodyShape

    # -- search ---------------------------------------------------------------------------------

    @endpoint("GET", "investigate")
    async def search_page(
        self, cursor: str | None = None, **filters: Unpack[SearchFilterArgs]
    ) -> SearchPage:
        """One page of search results; pass `next_cursor` back for the next page."""
        messages, next_cursor = await self._search_page(_MESSAGES, cursor, filters)
        return SearchPage(messages, next_cursor)

    @endpoint("GET", "investigate")
    def search(
        self, *, limit: int | None = None, **filters: Unpack[SearchFilterArgs]
    ) -> AsyncGenerator[MessageDetails, None]:
        """Every message matching `filters`, page after page by cursor (up to `limit`). A
        generator: a caller that stops early closes it (`contextlib.aclosing`)."""
        return self._search(_MESSAGES, limit, filters)

    @endpoint("GET", "investigate")
    def search_matches(
        self, *, limit: int | None = None, **filters: Unpack[SearchFilterArgs]
    ) -> AsyncGenerator[MessageMatch, None]:
        """Like `search`, each result read as the few fields bulk work needs (`MessageMatch`)."""
        return self._search(_MATCHES, limit, filters)

    async def _search_page(
        self, adapter: TypeAdapter[list[M]], cursor: str | None, filters: Mapping[str, Any]
    ) -> tuple[list[M], str | None]:
        params = SearchFilters.model_validate(filters).params()
        if cursor:
            params["cursor"] = cursor
        body, response = await self._call("GET", ["investigate"], params=params)
        if response.status_code == 202:
            body = await self._poll_search(response)
        messages: list[M] = parse(adapter, body.get("result"), "search")
        info = body.get("result_info") or {}
        next_cursor = info.get("next") if isinstance(info, dict) else None
        return messages, next_cursor or None

    async def _search(
        self, adapter: TypeAdapter[list[M]], limit: int | None, filters: Mapping[str, Any]
    ) -> AsyncGenerator[M, None]:
        seen_cursors: set[str] = set()
        cursor: str | None = None
        count = 0
        while True:
            messages, next_cursor = await self._search_page(adapter, cursor, filters)
            for message in messages:
                yield message
                count += 1
                if limit is not None and count >= limit:
                    return
            # Not held while the next page is read and parsed: 1,000 messages are about 5 MB.
            del messages
            if next_cursor is None:
                return
            if next_cursor in seen_cursors:
                # A server repeating a cursor would otherwise loop us forever (CONTRACT.md §3).
                raise UnexpectedResponseError("search: the API returned the same cursor twice")
            seen_cursors.add(next_cursor)
            cursor = next_cursor

    async def _poll_search(self, accepted: httpx.Response) -> dict[str, Any]:
        """Follow a 202's Location until the search is ready (bounded by search_poll_timeout)."""
        location = self._same_origin(accepted)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._poll_timeout
        interval = self._poll_interval
        response = accepted
        while response.status_code == 202:
            wait = parse_retry_after(response.headers.get("Retry-After")) or interval
            if loop.time() + wait > deadline:
                raise UnavailableError(
                    f"search still running after {self._poll_timeout:.0f}s; "
                    "narrow the search (shorter date range, more filters) or try again"
                )
            await asyncio.sleep(wait)
            interval = min(interval * 1.5, 5.0)
            response = await self._transport.request("GET", location, what="GET search (poll)")
            location = self._same_origin(response) if response.status_code == 202 else location
        return decode_envelope(response, "GET search (poll)")

    def _same_origin(self, response: httpx.Response) -> str:
        """The absolute Location URL, refused unless it is on the API's own origin: our
        credentials are sent with the poll and must never go to another host."""
        location = response.headers.get("Location")
        if not location:
            raise UnexpectedResponseError("search answered 202 without a Location header")
        url = urljoin(str(response.request.url), str(location))
        base = urlsplit(self.base_url)
        target = urlsplit(url)
        if (target.scheme, target.netloc) != (base.scheme, base.netloc):
            raise UnexpectedResponseError("search answered 202 with a Location on another host")
        return url

    # -- one message ----------------------------------------------------------------------------

    @endpoint("GET", "investigate/{investigate_id}")
    async def get_message(self, message_id: str, submission: bool = False) -> MessageDetails:
        params = {"submission": "true"} if submission else None
        result: MessageDetails = await self._result(
            MessageDetails, "GET", "investigate", check_id(message_id), params=params
        )
        return result

    @endpoint("GET", "investigate/{investigate_id}/detections")
    async def get_detections(self, message_id: str) -> Detections:
        result: Detections = await self._result(
            Detections, "GET", "investigate", check_id(message_id), "detections"
        )
        return result

    @endpoint("GET", "investigate/{investigate_id}/raw")
    async def get_raw(self, message_id: str, *, max_bytes: int = RAW_MAX_BYTES) -> str:
        """The message's EML as text (at most `max_bytes` of UTF-8, else `TooLargeError`)."""
        sink = io.BytesIO()
        await self.save_raw(message_id, sink, max_bytes=max_bytes)
        return sink.getvalue().decode("utf-8")

    @endpoint("GET", "investigate/{investigate_id}/raw")
    async def save_raw(self, message_id: str, sink: BinaryIO, *, max_bytes: int) -> int:
        """Write the message's EML (UTF-8) to `sink`, a seekable file, as it arrives; returns
        its size. Past `max_bytes` reading stops with `TooLargeError`, and `sink` holds a part:
        discard it."""
        parts = ["investigate", check_id(message_id), "raw"]

        async def consume(response: httpx.Response) -> int:
            sink.seek(0)
            sink.truncate()
            writer = RawEmlWriter(sink, max_bytes)
            # The JSON carries the EML escaped: up to 6 characters for one (\u0001); stop a
            # body that cannot fit before reading it.
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > 6 * max_bytes + 65536:
                raise TooLargeError("the raw message's answer is too large", limit=max_bytes)
            async for chunk in response.aiter_bytes():
                writer.feed(chunk)
            return writer.close()

        what = f"GET {'/'.join(parts)}"
        return await self._transport.stream(self._url(*parts), what=what, consume=consume)

    @endpoint("GET", "investigate/{investigate_id}/trace")
    async def get_trace(self, message_id: str) -> Trace:
        result: Trace = await self._result(
            Trace, "GET", "investigate", check_id(message_id), "trace"
        )
        return result

    @endpoint("GET", "investigate/{investigate_id}/action_log")
    async def get_action_log(self, message_id: str) -> list[ActionEntry]:
        result: list[ActionEntry] = await self._result(
            _ACTIONS, "GET", "investigate", check_id(message_id), "action_log"
        )
        return result

    @endpoint("GET", "investigate/{investigate_id}/preview")
    @endpoint("POST", "investigate/preview")
    async def get_preview(self, message_id: str, *, is_detection: bool | None = None) -> bytes:
        """The message rendered as PNG bytes (checked to be a PNG).

        Detections have `GET …/{id}/preview`; other messages are rendered on demand by
        `POST /investigate/preview`. With `is_detection` unknown, GET is tried first and a 404
        falls back to the POST.
        """
        check_id(message_id)
        if is_detection is not False:
            try:
                body, _ = await self._call("GET", ["investigate", message_id, "preview"])
                return png(body)
            except NotFoundError:
                if is_detection:
                    raise
        parsed = parse_message_id(message_id)
        postfix_id = parsed.postfix_id if parsed else message_id

        async def attempt(shape: Shape) -> dict[str, Any]:
            sent = shapes.preview_body(postfix_id, message_id, shape)
            body, _ = await self._call("POST", ["investigate", "preview"], json=sent)
            return body

        return png(await self._preview_shape.send(attempt))


_MESSAGES = TypeAdapter(list[MessageDetails])
_MATCHES = TypeAdapter(list[MessageMatch])
_ACTIONS = TypeAdapter(list[ActionEntry])
