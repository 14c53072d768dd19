"""Cloudflare Email Security API client (see client.py)."""

from bot.cloudflare.client import EmailSecurityClient, SearchPage
from bot.cloudflare.errors import (
    ApiError,
    AuthError,
    InvalidRequestError,
    NotFoundError,
    PartialBulkError,
    RateLimitedError,
    TooLargeError,
    UnavailableError,
    UnexpectedResponseError,
)
from bot.cloudflare.transport import RetryPolicy

__all__ = [
    "ApiError",
    "AuthError",
    "EmailSecurityClient",
    "InvalidRequestError",
    "NotFoundError",
    "PartialBulkError",
    "RateLimitedError",
    "RetryPolicy",
    "SearchPage",
    "TooLargeError",
    "UnavailableError",
    "UnexpectedResponseError",
]
