"""The HTTP core of the Email Security client: auth, the v4 envelope, typed errors, retries.

Retry rules (issue #2, DESIGN.md "Failure behaviour"):
- 429, any method: wait Retry-After (at most `max_retry_after`, cancellable) and try again; the
  wait also pauses every other request of this client's limiter (the shared one: of every
  replica), since Cloudflare blocks them all.
- GET: 5xx, timeouts and connection errors are retried with jittered exponential backoff.
- POST/PATCH/DELETE: never retried once the request may have reached the server; only a failure
  to connect at all (nothing was sent) is retried.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx

from bot.cloudflare.errors import (
    ApiError,
    AuthError,
    CloudflareMessage,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
    UnexpectedResponseError,
)
from bot.cloudflare.ratelimit import Limiter
from bot.cloudflare.waits import WAIT_NOTICE

log = logging.getLogger("bot.cloudflare")

T = TypeVar("T")
Consumer = Callable[[httpx.Response], Awaitable[T]]
IDEMPOTENT = frozenset({"GET", "HEAD"})
# Failures that prove the request never left this host, so even a POST may be sent again.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)


class CallObserver(Protocol):
    """Told about every attempt, retry and 429 (the bot's metrics implement it)."""

    def on_api_call(self, endpoint: str, status: str, seconds: float) -> None: ...

    def on_api_retry(self, reason: str) -> None: ...

    def on_rate_limited(self) -> None: ...


# The literal words of the API's paths under /accounts/{account_id}/email-security/; any other
# segment is an id. Metrics and logs name endpoints by template, so their labels stay few.
PATH_WORDS = frozenset(
    {
        "investigate", "bulk", "cancel", "messages", "move", "preview", "release", "action_log",
        "detections", "raw", "reclassify", "trace", "phishguard", "reports", "submissions",
        "settings", "allow_policies", "batch", "block_senders", "domains", "verification",
        "impersonation_registry", "sending_domain_restrictions", "trusted_domains",
        "url_ignore_patterns",
    }
)  # fmt: skip


def endpoint_of(url: str) -> str:
    """`investigate/{id}/raw` for `…/email-security/investigate/4Njp…-1234abcd/raw?x=y`."""
    path = urlsplit(url).path
    _, found, rest = path.partition("/email-security/")
    if not found:
        return "other"
    parts = [p if p in PATH_WORDS else "{id}" for p in rest.strip("/").split("/") if p]
    return "/".join(parts) or "other"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # tries in all for a GET that fails with 5xx or a network error
    backoff_base: float = 0.25
    backoff_cap: float = 8.0
    max_retry_after: float = 300.0
    rate_limit_retries: int = 3
    # 429 without Retry-After: Cloudflare's block lasts 5 minutes, so wait a while, not a blink.
    default_retry_after: float = 5.0

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for the `attempt`-th retry (1-based)."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


def auth_headers(api_token: str | None, email: str | None, api_key: str | None) -> dict[str, str]:
    """Headers for Bearer-token auth or the legacy global-key pair; a token wins if both are set."""
    if api_token:
        log.info("Email Security API auth: API token (Authorization: Bearer)")
        return {"Authorization": f"Bearer {api_token}"}
    if email and api_key:
        log.info("Email Security API auth: legacy global API key (X-Auth-Email, X-Auth-Key)")
        return {"X-Auth-Email": email, "X-Auth-Key": api_key}
    if email or api_key:
        raise ValueError("legacy auth needs both CLOUDFLARE_EMAIL and CLOUDFLARE_API_KEY")
    raise ValueError(
        "no Cloudflare credentials: set CLOUDFLARE_API_TOKEN "
        "(or CLOUDFLARE_EMAIL and CLOUDFLARE_API_KEY)"
    )


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def envelope_errors(response: httpx.Response) -> list[CloudflareMessage]:
    """The `errors` of a v4 failure envelope; empty when the body is not one."""
    try:
        body = response.json()
    except ValueError:
        return []
    items = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return []
    return [
        CloudflareMessage(code=int(item.get("code", 0)), message=str(item.get("message", "")))
        for item in items
        if isinstance(item, dict)
    ]


def error_for(response: httpx.Response, what: str) -> ApiError:
    status = response.status_code
    errors = envelope_errors(response)
    summary = f"Email Security API answered {status} to {what}"
    if status == 404:
        return NotFoundError(f"not found ({what})", status=status, errors=errors)
    if status in (400, 422):
        return InvalidRequestError(f"request rejected ({what})", status=status, errors=errors)
    if status in (401, 403):
        return AuthError(
            f"credentials refused ({what}): check CLOUDFLARE_API_TOKEN and its "
            "'Cloud Email Security' permissions",
            status=status,
            errors=errors,
        )
    if status == 429:
        return RateLimitedError(
            f"rate limited ({what})",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            errors=errors,
        )
    if status >= 500:
        return UnavailableError(f"{summary}; try again shortly", status=status, errors=errors)
    return ApiError(summary, status=status, errors=errors)


class Transport:
    """Sends one logical request, with the retry rules above, and returns the decoded envelope."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        limiter: Limiter,
        retry: RetryPolicy,
        max_in_flight: int = 20,
        observer: CallObserver | None = None,
    ) -> None:
        self.http = http
        self.limiter = limiter
        self.retry = retry
        self.observer = observer
        # Calls beyond this wait here, cheaply, instead of queueing inside httpcore's pool,
        # whose scheduling cost grows with the square of its queue and starves the event loop
        # (measured: acks at 4.7 s p99 under load with 2 s API latency; bench/ack.py).
        self.in_flight = asyncio.Semaphore(max_in_flight)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        what: str,
    ) -> httpx.Response:
        """Send until success or a final error; returns the 2xx response, read."""
        response, _ = await self._exchange(method, url, params, json, what, None)
        return response

    async def stream(self, url: str, *, what: str, consume: Consumer[T]) -> T:
        """GET `url` with the same rules, handing a 2xx answer's body to `consume` as it
        arrives instead of reading it into memory. `consume` may be called again (a retry
        after a 5xx or a broken connection), so it starts its output afresh each time."""
        _, consumed = await self._exchange("GET", url, None, None, what, consume)
        assert consumed is not None
        return consumed[0]

    async def _exchange(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        json: Any,
        what: str,
        consume: Consumer[T] | None,
    ) -> tuple[httpx.Response, tuple[T] | None]:
        failures = 0
        rate_limited = 0
        endpoint = endpoint_of(url)
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            try:
                async with self.limiter.turn(self.in_flight):
                    started = time.monotonic()
                    response, consumed = await self._send(method, url, params, json, consume)
            except httpx.TransportError as exc:
                self._called(method, endpoint, type(exc).__name__, started, attempt)
                failures += 1
                retriable = method in IDEMPOTENT or isinstance(exc, NOT_SENT)
                if not retriable or failures >= self.retry.attempts:
                    raise UnavailableError(self._unreachable(exc, method, what)) from exc
                await self._backoff(failures, what, type(exc).__name__, "network")
                continue
            self._called(method, endpoint, response.status_code, started, attempt)
            if response.status_code == 429:
                rate_limited += 1
                if self.observer is not None:
                    self.observer.on_rate_limited()
                await self._wait_rate_limit(response, rate_limited, what)
                continue
            if response.status_code >= 500 and method in IDEMPOTENT:
                failures += 1
                if failures < self.retry.attempts:
                    await self._backoff(failures, what, str(response.status_code), "server_error")
                    continue
            if response.status_code >= 400:
                raise error_for(response, what)
            return response, consumed

    async def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        json: Any,
        consume: Consumer[T] | None,
    ) -> tuple[httpx.Response, tuple[T] | None]:
        """One attempt. A 2xx body goes to `consume` if there is one; any other body is read
        whole (error envelopes are small; their `errors` are needed)."""
        request = self.http.build_request(method, url, params=params, json=json)
        response = await self.http.send(request, stream=True)
        try:
            if consume is not None and 200 <= response.status_code < 300:
                return response, (await consume(response),)
            await response.aread()
            return response, None
        finally:
            await response.aclose()

    def _called(
        self, method: str, endpoint: str, status: int | str, started: float, attempt: int
    ) -> None:
        """One attempt's log line and metrics: the endpoint by template, never a query string
        or a body. DEBUG when it worked, INFO otherwise."""
        seconds = time.monotonic() - started
        ok = isinstance(status, int) and status < 400
        log.log(
            logging.DEBUG if ok else logging.INFO,
            "api call %s %s -> %s",
            method,
            endpoint,
            status,
            extra={
                "method": method, "endpoint": endpoint, "status": status,
                "ms": round(seconds * 1000, 1), "attempt": attempt,
            },
        )  # fmt: skip
        if self.observer is not None:
            label = str(status) if isinstance(status, int) else "network_error"
            self.observer.on_api_call(endpoint, label, seconds)

    async def _backoff(self, attempt: int, what: str, reason: str, kind: str) -> None:
        delay = self.retry.backoff(attempt)
        log.warning("retrying %s after %s in %.2fs (retry %d)", what, reason, delay, attempt)
        if self.observer is not None:
            self.observer.on_api_retry(kind)
        await asyncio.sleep(delay)

    def _unreachable(self, exc: httpx.TransportError, method: str, what: str) -> str:
        """What a failed attempt means for the person who asked, and what they can do."""
        name = type(exc).__name__
        if isinstance(exc, NOT_SENT):
            return (
                f"could not reach the Email Security API ({what}): {name}; "
                "check CLOUDFLARE_API_URL and the network, then try again"
            )
        late = isinstance(exc, httpx.TimeoutException)
        limit = self.http.timeout.read if late else None
        answer = f"no answer within {limit:g} s" if limit else f"no answer ({name})"
        if method in IDEMPOTENT:
            return (
                f"the Email Security API gave {answer} ({what}); it may be overloaded or "
                "unreachable: try again in a minute"
            )
        return (
            f"the Email Security API gave {answer} ({what}), so the request may or may not "
            "have been carried out: check the message's current state before trying again"
        )

    async def _wait_rate_limit(self, response: httpx.Response, count: int, what: str) -> None:
        header = parse_retry_after(response.headers.get("Retry-After"))
        wait = self.retry.default_retry_after if header is None else header
        # Every request this limiter governs waits too (with the shared limiter: every replica's).
        await self.limiter.pause(min(wait, self.retry.max_retry_after))
        if wait > self.retry.max_retry_after or count > self.retry.rate_limit_retries:
            error = error_for(response, what)
            assert isinstance(error, RateLimitedError)
            raise error
        log.warning("rate limited on %s: waiting %.1fs (Retry-After)", what, wait)
        if self.observer is not None:
            self.observer.on_api_retry("rate_limited")
        # The limiter's pause makes the next acquire() wait; the person waiting hears why.
        notice = WAIT_NOTICE.get()
        if notice is not None:
            await notice(wait)


def decode_envelope(response: httpx.Response, what: str) -> dict[str, Any]:
    """The JSON body of a 2xx answer, checked to be a successful v4 envelope."""
    try:
        body = response.json()
    except ValueError as exc:
        raise UnexpectedResponseError(f"{what}: the answer is not JSON") from exc
    if not isinstance(body, dict) or body.get("success") is not True:
        raise UnexpectedResponseError(
            f"{what}: the answer is not a successful Cloudflare envelope",
            errors=envelope_errors(response),
        )
    return body
