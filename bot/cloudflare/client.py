"""`EmailSecurityClient`: the thin async client of Cloudflare Email Security the bot uses.

Written by hand rather than on the cloudflare SDK (CONTRACT.md §6): search pages by cursor and
follows a 202's Location, 429 honours Retry-After up to 5 minutes, and request bodies are an
explicit, tested choice (see shapes.py).

Bounded work: a raw EML is streamed to the caller's file under a size cap (rawjson.py), never
held whole; a page-paginated list never trusts the server's totals to keep going, and sends at
most a few requests (pages.py).
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, TypeVar, Unpack
from urllib.parse import quote, urljoin, urlsplit

import httpx
from pydantic import BaseModel, TypeAdapter

from bot.cloudflare import shapes
from bot.cloudflare.errors import (
    ApiError,
    NotFoundError,
    PartialBulkError,
    TooLargeError,
    UnavailableError,
    UnexpectedResponseError,
)
from bot.cloudflare.filters import (
    SearchFilterArgs,
    SearchFilters,
    list_params,
    rfc3339,
)
from bot.cloudflare.ids import parse_message_id
from bot.cloudflare.models import (
    DESTINATIONS,
    RECLASSIFY_DISPOSITIONS,
    ActionEntry,
    AllowPolicy,
    BlockedSender,
    Deleted,
    Destination,
    Detections,
    MessageDetails,
    MoveResult,
    PatternType,
    PhishGuardReport,
    ProtectedDomain,
    ReclassifyDisposition,
    ReleaseResult,
    Submission,
    Trace,
    TrustedDomain,
)
from bot.cloudflare.pages import all_pages
from bot.cloudflare.parsing import parse, png
from bot.cloudflare.ratelimit import Limiter, RequestLimiter
from bot.cloudflare.rawjson import RawEmlWriter
from bot.cloudflare.shapes import BodyShape, Shape
from bot.cloudflare.transport import (
    CallObserver,
    RetryPolicy,
    Transport,
    auth_headers,
    decode_envelope,
    parse_retry_after,
)

log = logging.getLogger("bot.cloudflare")

DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"
MAX_BATCH = 1000  # "Maximum batch size: 1000 messages per request" (docs/001)
USER_AGENT = "email-security-slack-bot/0.1"
RAW_MAX_BYTES = 40 * 1024**2  # get_raw's default cap; the bot's is BOT_RAW_MAX_MB

M = TypeVar("M", bound=BaseModel)
ChunkCallback = Callable[[list[Any]], Awaitable[None]]


@dataclass(frozen=True)
class SearchPage:
    messages: list[MessageDetails]
    next_cursor: str | None


def _check_id(message_id: str) -> str:
    """Reject ids that cannot be a message id before they reach a URL."""
    if not message_id or len(message_id) > 128 or not message_id.isprintable() or " " in message_id:
        raise ValueError(f"not a message id: {message_id[:40]!r}")
    return message_id


def _unique(ids: Iterable[str]) -> list[str]:
    """Ids in first-seen order without repeats: acting twice on one message is never wanted."""
    return list(dict.fromkeys(_check_id(i) for i in ids))


def _chunks(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


class EmailSecurityClient:
    """Async client for `/accounts/{account_id}/email-security`. Use as `async with`."""

    def __init__(
        self,
        account_id: str,
        api_token: str | None = None,
        email: str | None = None,
        api_key: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        *,
        rate_limit: tuple[int, float] = (1200, 300.0),
        retry: RetryPolicy | None = None,
        search_poll_interval: float = 1.0,
        search_poll_timeout: float = 60.0,
        max_in_flight: int = 20,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
        observer: CallObserver | None = None,
        limiter: Limiter | None = None,
    ) -> None:
        """`rate_limit` is this client's own limit (per process); `limiter`, when given,
        replaces it (the bot gives the one shared by every replica, bot/store/ratelimit.py)."""
        if len(account_id) != 32 or not account_id.isalnum():
            raise ValueError("CLOUDFLARE_ACCOUNT_ID must be the 32-character account id")
        self.account_id = account_id
        self.base_url = base_url.rstrip("/")
        self._prefix = f"{self.base_url}/accounts/{account_id}/email-security"
        self._poll_interval = search_poll_interval
        self._poll_timeout = search_poll_timeout
        self._http = httpx.AsyncClient(
            headers={**auth_headers(api_token, email, api_key), "User-Agent": USER_AGENT},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            event_hooks=dict(event_hooks or {}),
            follow_redirects=False,
            limits=httpx.Limits(
                max_connections=max_in_flight, max_keepalive_connections=max_in_flight
            ),
        )
        self._transport = Transport(
            self._http, limiter or RequestLimiter(*rate_limit), retry or RetryPolicy(),
            max_in_flight, observer,
        )  # fmt: skip
        self._release_shape = BodyShape("release", "a bare array of ids", '{"ids": [...]}')
        self._preview_shape = BodyShape("preview", '{"postfix_id": ...}', '{"id": ...}')

    async def __aenter__(self) -> EmailSecurityClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- plumbing -----------------------------------------------------------------------------

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
        self, model: type[M] | TypeAdapter[Any], method: str, *parts: str, **kw: Any
    ) -> Any:
        body, _ = await self._call(method, parts, **kw)
        return parse(model, body.get("result"), f"{method} {'/'.join(parts)}")

    # -- search ---------------------------------------------------------------------------------

    async def search_page(
        self, cursor: str | None = None, **filters: Unpack[SearchFilterArgs]
    ) -> SearchPage:
        """One page of search results; pass `next_cursor` back for the next page."""
        params = SearchFilters.model_validate(filters).params()
        if cursor:
            params["cursor"] = cursor
        body, response = await self._call("GET", ["investigate"], params=params)
        if response.status_code == 202:
            body = await self._poll_search(response)
        messages = parse(_MESSAGES, body.get("result"), "search")
        info = body.get("result_info") or {}
        next_cursor = info.get("next") if isinstance(info, dict) else None
        return SearchPage(messages, next_cursor or None)

    async def search(
        self, *, limit: int | None = None, **filters: Unpack[SearchFilterArgs]
    ) -> AsyncIterator[MessageDetails]:
        """Every message matching `filters`, page after page by cursor (up to `limit`)."""
        seen_cursors: set[str] = set()
        cursor: str | None = None
        count = 0
        while True:
            page = await self.search_page(cursor, **filters)
            for message in page.messages:
                yield message
                count += 1
                if limit is not None and count >= limit:
                    return
            if page.next_cursor is None:
                return
            if page.next_cursor in seen_cursors:
                # A server repeating a cursor would otherwise loop us forever (CONTRACT.md §3).
                raise UnexpectedResponseError("search: the API returned the same cursor twice")
            seen_cursors.add(page.next_cursor)
            cursor = page.next_cursor

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

    async def get_message(self, message_id: str, submission: bool = False) -> MessageDetails:
        params = {"submission": "true"} if submission else None
        result: MessageDetails = await self._result(
            MessageDetails, "GET", "investigate", _check_id(message_id), params=params
        )
        return result

    async def get_detections(self, message_id: str) -> Detections:
        result: Detections = await self._result(
            Detections, "GET", "investigate", _check_id(message_id), "detections"
        )
        return result

    async def get_raw(self, message_id: str, *, max_bytes: int = RAW_MAX_BYTES) -> str:
        """The message's EML as text (at most `max_bytes` of UTF-8, else `TooLargeError`)."""
        sink = io.BytesIO()
        await self.save_raw(message_id, sink, max_bytes=max_bytes)
        return sink.getvalue().decode("utf-8")

    async def save_raw(self, message_id: str, sink: BinaryIO, *, max_bytes: int) -> int:
        """Write the message's EML (UTF-8) to `sink`, a seekable file, as it arrives; returns
        its size. Past `max_bytes` reading stops with `TooLargeError`, and `sink` holds a part:
        discard it."""
        parts = ["investigate", _check_id(message_id), "raw"]

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

    async def get_trace(self, message_id: str) -> Trace:
        result: Trace = await self._result(
            Trace, "GET", "investigate", _check_id(message_id), "trace"
        )
        return result

    async def get_action_log(self, message_id: str) -> list[ActionEntry]:
        result: list[ActionEntry] = await self._result(
            _ACTIONS, "GET", "investigate", _check_id(message_id), "action_log"
        )
        return result

    async def get_preview(self, message_id: str, *, is_detection: bool | None = None) -> bytes:
        """The message rendered as PNG bytes (checked to be a PNG).

        Detections have `GET …/{id}/preview`; other messages are rendered on demand by
        `POST /investigate/preview`. With `is_detection` unknown, GET is tried first and a 404
        falls back to the POST.
        """
        _check_id(message_id)
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

    # -- actions ---------------------------------------------------------------------------------

    async def move(
        self,
        ids: Sequence[str],
        destination: Destination,
        *,
        on_chunk: ChunkCallback | None = None,
    ) -> list[MoveResult]:
        """Move messages to a mailbox folder: one id uses `…/{id}/move`, more use the bulk
        endpoint in chunks of at most 1000. `on_chunk` sees each chunk's results before the next
        chunk is sent (so a caller can store progress)."""
        if destination not in DESTINATIONS:
            raise ValueError(
                f"unknown folder {destination!r}; use one of {', '.join(DESTINATIONS)}"
            )
        unique = _unique(ids)
        # expected_disposition is not sent: "nonfunctional", EOL 2026-12-01 (CONTRACT.md §2).
        if len(unique) == 1:
            results: list[MoveResult] = await self._result(
                _MOVES, "POST", "investigate", unique[0], "move", json={"destination": destination}
            )
            if on_chunk:
                await on_chunk(results)
            return results

        async def send(chunk: list[str]) -> list[MoveResult]:
            moved: list[MoveResult] = await self._result(
                _MOVES,
                "POST",
                "investigate",
                "move",
                json={"destination": destination, "ids": chunk},
            )
            return moved

        return await self._in_chunks(unique, send, on_chunk)

    async def release(
        self, ids: Sequence[str], *, on_chunk: ChunkCallback | None = None
    ) -> list[ReleaseResult]:
        """Release messages from quarantine, in chunks of at most 1000. One result per id, in
        the order given; an id the API's answer left out comes back with `missing=True`."""

        async def send(chunk: list[str]) -> list[ReleaseResult]:
            async def attempt(shape: Shape) -> list[ReleaseResult]:
                body = shapes.release_body(chunk, shape)
                sent: list[ReleaseResult] = await self._result(
                    _RELEASES, "POST", "investigate", "release", json=body
                )
                return sent

            answered = await self._release_shape.send(attempt)
            by_id = {r.id: r for r in answered}
            return [by_id.get(i) or ReleaseResult(id=i, missing=True) for i in chunk]

        return await self._in_chunks(_unique(ids), send, on_chunk)

    async def _in_chunks(
        self,
        ids: list[str],
        send: Callable[[list[str]], Awaitable[list[Any]]],
        on_chunk: ChunkCallback | None,
    ) -> list[Any]:
        done: list[Any] = []
        chunks = _chunks(ids, MAX_BATCH)
        for index, chunk in enumerate(chunks):
            try:
                results = await send(chunk)
            except ApiError as exc:
                not_sent = [i for later in chunks[index:] for i in later]
                if not done:
                    raise
                raise PartialBulkError(exc, done=done, not_attempted=not_sent) from exc
            if on_chunk:
                await on_chunk(results)
            done.extend(results)
        return done

    async def reclassify(
        self,
        message_id: str,
        disposition: ReclassifyDisposition,
        eml_content: bytes | str | None = None,
        escalated_submission_id: str | None = None,
    ) -> None:
        """Submit a message for reclassification (asynchronous at Cloudflare: 202).
        `eml_content` is the EML itself (bytes or text); it is base64-encoded here."""
        if disposition not in RECLASSIFY_DISPOSITIONS:
            raise ValueError(
                f"cannot reclassify as {disposition!r}; use one of "
                f"{', '.join(RECLASSIFY_DISPOSITIONS)}"
            )
        body: dict[str, str] = {"expected_disposition": disposition}
        if eml_content is not None:
            raw = eml_content.encode() if isinstance(eml_content, str) else eml_content
            body["eml_content"] = base64.b64encode(raw).decode()
        if escalated_submission_id:
            body["escalated_submission_id"] = escalated_submission_id
        await self._call("POST", ["investigate", _check_id(message_id), "reclassify"], json=body)

    # -- lists -----------------------------------------------------------------------------------

    async def _pages(
        self, adapter: TypeAdapter[list[M]], endpoint: str, filters: dict[str, object]
    ) -> list[M]:
        """Every item of a page-paginated list (bounded: see pages.py); just one page when
        `page` is given."""
        params, parts = list_params(endpoint, filters), endpoint.split("/")

        async def fetch(query: dict[str, str]) -> dict[str, Any]:
            body, _ = await self._call("GET", parts, params=query)
            return body

        if "page" in params:
            items: list[M] = parse(adapter, (await fetch(params)).get("result") or [], endpoint)
            return items
        return await all_pages(fetch, adapter, endpoint, params)

    async def list_submissions(self, **filters: object) -> list[Submission]:
        return await self._pages(_SUBMISSIONS, "submissions", filters)

    async def list_phishguard_reports(
        self, start: datetime, end: datetime
    ) -> list[PhishGuardReport]:
        # start/end only: from_date/to_date are past their 2026-11-01 sunset.
        params = {"start": rfc3339(start), "end": rfc3339(end)}
        result: list[PhishGuardReport] = await self._result(
            _REPORTS, "GET", "phishguard", "reports", params=params
        )
        return result

    async def _create_setting(
        self,
        model: type[M],
        kind: str,
        pattern: str,
        body: dict[str, Any],
        comments: str | None,
    ) -> M:
        """POST a new settings entry: the pattern trimmed, comments within the 1024 limit."""
        if not pattern.strip():
            raise ValueError("the pattern is empty")
        body = {"pattern": pattern.strip(), **body}
        if comments:
            body["comments"] = comments[:1024]
        result: M = await self._result(model, "POST", "settings", kind, json=body)
        return result

    # -- settings --------------------------------------------------------------------------------

    async def block_sender(
        self,
        pattern: str,
        pattern_type: PatternType,
        is_regex: bool = False,
        comments: str | None = None,
    ) -> BlockedSender:
        if pattern_type not in ("EMAIL", "DOMAIN", "IP"):
            raise ValueError("pattern_type must be EMAIL, DOMAIN or IP (UNKNOWN is read-only)")
        body: dict[str, Any] = {"pattern_type": pattern_type, "is_regex": is_regex}
        result: BlockedSender = await self._create_setting(
            BlockedSender, "block_senders", pattern, body, comments
        )
        return result

    async def list_blocked_senders(self, **filters: object) -> list[BlockedSender]:
        return await self._pages(_BLOCKED, "settings/block_senders", filters)

    async def delete_blocked_sender(self, pattern_id: str) -> str:
        result: Deleted = await self._result(
            Deleted, "DELETE", "settings", "block_senders", _check_id(pattern_id)
        )
        return result.id

    async def create_allow_policy(
        self,
        pattern: str,
        pattern_type: PatternType,
        *,
        is_exempt_recipient: bool = False,
        is_trusted_sender: bool = False,
        is_acceptable_sender: bool = False,
        verify_sender: bool = True,
        is_regex: bool = False,
        comments: str | None = None,
    ) -> AllowPolicy:
        """Create an allow policy. Uses the current flag names only; `is_recipient`,
        `is_sender` and `is_spoof` reached end of life on 2026-07-01."""
        body: dict[str, Any] = {
            "pattern_type": pattern_type,
            "is_exempt_recipient": is_exempt_recipient,
            "is_trusted_sender": is_trusted_sender,
            "is_acceptable_sender": is_acceptable_sender,
            "verify_sender": verify_sender,
            "is_regex": is_regex,
        }
        result: AllowPolicy = await self._create_setting(
            AllowPolicy, "allow_policies", pattern, body, comments
        )
        return result

    async def list_allow_policies(self, **filters: object) -> list[AllowPolicy]:
        return await self._pages(_POLICIES, "settings/allow_policies", filters)

    async def list_trusted_domains(self, **filters: object) -> list[TrustedDomain]:
        return await self._pages(_TRUSTED, "settings/trusted_domains", filters)

    async def list_protected_domains(self, **filters: object) -> list[ProtectedDomain]:
        """The domains Email Security protects for this account (every page)."""
        return await self._pages(_PROTECTED, "settings/domains", filters)


_MESSAGES = TypeAdapter(list[MessageDetails])
_ACTIONS = TypeAdapter(list[ActionEntry])
_MOVES = TypeAdapter(list[MoveResult])
_RELEASES = TypeAdapter(list[ReleaseResult])
_SUBMISSIONS = TypeAdapter(list[Submission])
_REPORTS = TypeAdapter(list[PhishGuardReport])
_BLOCKED = TypeAdapter(list[BlockedSender])
_POLICIES = TypeAdapter(list[AllowPolicy])
_TRUSTED = TypeAdapter(list[TrustedDomain])
_PROTECTED = TypeAdapter(list[ProtectedDomain])
