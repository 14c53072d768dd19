"""`EmailSecurityClient`: the thin async client of Cloudflare Email Security the bot uses.

Written by hand rather than on the cloudflare SDK (CONTRACT.md §6): search pages by cursor and
follows a 202's Location, 429 honours Retry-After up to 5 minutes, and request bodies are an
explicit, tested choice (see shapes.py).

One class joins the areas, each in its own module on one `Transport` (transport.py):
investigate.py (search and one message), actions.py (move, release, reclassify), reports.py
(submissions, PhishGuard), bulkjobs.py (`client.bulk_jobs`), and the settings collections
(settings_api.py: `client.allow_policies`, `client.protected_domains`, ...). `endpoints()` says
which API operation each public method sends (docs/client.md lists them).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import httpx

from bot.cloudflare.actions import MAX_BATCH, ActionsApi, ChunkCallback
from bot.cloudflare.bulkjobs import BulkJobs
from bot.cloudflare.core import Endpoint, marked
from bot.cloudflare.investigate import RAW_MAX_BYTES, InvestigateApi, SearchPage
from bot.cloudflare.ratelimit import Limiter, RequestLimiter
from bot.cloudflare.reports import ReportsApi
from bot.cloudflare.settings import collection_endpoints
from bot.cloudflare.settings_api import SettingsApi
from bot.cloudflare.shapes import BodyShape
from bot.cloudflare.transport import (
    CallObserver,
    RetryPolicy,
    Transport,
    auth_headers,
)

log = logging.getLogger("bot.cloudflare")

DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"
USER_AGENT = "email-security-slack-bot/0.1"

__all__ = [
    "DEFAULT_BASE_URL",
    "MAX_BATCH",
    "RAW_MAX_BYTES",
    "ChunkCallback",
    "EmailSecurityClient",
    "SearchPage",
]


@cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client of the process, as httpx would build it: building one
    reads the CA bundle (about 60 ms of CPU), and the bot has two clients (one for approved
    executions, with their share of the rate limit)."""
    return httpx.create_ssl_context()


class EmailSecurityClient(InvestigateApi, ActionsApi, ReportsApi, SettingsApi):
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
            verify=_tls(),
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
        self._open_collections()
        self.bulk_jobs = BulkJobs(self)

    async def __aenter__(self) -> EmailSecurityClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def endpoints(self) -> dict[str, tuple[Endpoint, ...]]:
        """Every public method (`search`, `allow_policies.edit`, ...) and the operations it
        sends, as `Endpoint(method, path under /email-security/)`."""
        table = marked(self)
        table.update(collection_endpoints(self.collections()))
        table.update(self.bulk_jobs.endpoints("bulk_jobs"))
        return table
