"""Typed errors of the Email Security client.

Each says what happened in words a person can act on; `str(error)` never carries a secret, a
message body or a stack trace, so callers may show it to a Slack user as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class CloudflareMessage:
    """One entry of the v4 envelope's `errors` array."""

    code: int
    message: str


class ApiError(Exception):
    """The API refused or failed a request. Base of every error the client raises."""

    def __init__(
        self,
        summary: str,
        *,
        status: int | None = None,
        errors: Sequence[CloudflareMessage] = (),
    ) -> None:
        self.summary = summary
        self.status = status
        self.errors = tuple(errors)
        super().__init__(self._text())

    def _text(self) -> str:
        detail = "; ".join(f"{e.message} (code {e.code})" for e in self.errors)
        return f"{self.summary}: {detail}" if detail else self.summary


class NotFoundError(ApiError):
    """404: the message, pattern or policy does not exist (or is not visible to this account)."""


class InvalidRequestError(ApiError):
    """400/422: Cloudflare rejected the request's parameters; `errors` carries its code/message."""


class AuthError(ApiError):
    """401/403: the credentials were refused or lack the Email Security permission needed."""


class RateLimitedError(ApiError):
    """429 that the client did not wait out (Retry-After too long, or retries used up)."""

    def __init__(
        self,
        summary: str,
        *,
        retry_after: float | None,
        status: int | None = 429,
        errors: Sequence[CloudflareMessage] = (),
    ) -> None:
        self.retry_after = retry_after
        super().__init__(summary, status=status, errors=errors)


class UnavailableError(ApiError):
    """5xx, timeout or connection failure: the API could not be reached or did not finish."""


class UnexpectedResponseError(ApiError):
    """The API answered 2xx with a body that does not have the documented shape."""


class TooLargeError(ApiError):
    """An answer larger than the caller's cap (a raw EML): reading stopped there."""

    def __init__(self, summary: str, *, limit: int) -> None:
        self.limit = limit
        super().__init__(summary)


class PartialBulkError(ApiError):
    """A chunked bulk action stopped part-way: `done` holds the results of the finished chunks and
    `not_attempted` the ids that were never sent, so nothing is left half-done silently."""

    def __init__(
        self,
        cause: ApiError,
        *,
        done: Sequence[object],
        not_attempted: Sequence[str],
    ) -> None:
        self.cause = cause
        self.done = list(done)
        self.not_attempted = list(not_attempted)
        super().__init__(
            f"stopped after {len(self.done)} results, {len(self.not_attempted)} ids not sent "
            f"({cause})",
            status=cause.status,
            errors=cause.errors,
        )
