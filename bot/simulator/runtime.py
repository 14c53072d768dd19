"""One running simulator: its store, faults, credentials and the request/call logs.

Everything mutable hangs off a `Simulator` held by the aiohttp app, never off a module.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.simulator.faults import Faults, FaultSettings
from bot.simulator.state import Dataset, Store

BEARER_CALLER = "api-token"  # `requested_by` for calls made with an API token


@dataclass(frozen=True)
class Credentials:
    """What the API accepts. With nothing configured, any non-empty credential passes."""

    token: str | None = None
    email: str | None = None
    key: str | None = None

    @property
    def configured(self) -> bool:
        return any((self.token, self.email, self.key))

    def actor(self, headers: Mapping[str, str]) -> str | None:
        """Who is calling (for `requested_by`), or None if the credentials are refused.

        A Bearer token wins when both kinds are sent, as Cloudflare's API does: a wrong token
        is refused even next to a good email + key.
        """
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return BEARER_CALLER if self._accepts_token(token.strip()) else None
        email, key = headers.get("X-Auth-Email", ""), headers.get("X-Auth-Key", "")
        if email and key and self._accepts_key(email, key):
            return email
        return None

    def _accepts_token(self, token: str) -> bool:
        if not self.configured:
            return True
        return self.token is not None and hmac.compare_digest(token, self.token)

    def _accepts_key(self, email: str, key: str) -> bool:
        if not self.configured:
            return True
        if self.email is None or self.key is None:
            return False
        return hmac.compare_digest(email, self.email) and hmac.compare_digest(key, self.key)


@dataclass
class Simulator:
    store: Store
    faults: Faults
    credentials: Credentials
    requests: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def create(
        cls, dataset: Dataset, seed: int, faults: FaultSettings, credentials: Credentials
    ) -> Simulator:
        return cls(Store(dataset, seed), Faults(faults, seed), credentials)

    def reset(self) -> None:
        """Back to the start-up data and the CLI's fault flags, with empty logs."""
        self.store.reset()
        self.faults.reset()
        self.requests.clear()
        self.calls.clear()


def now() -> datetime:
    return datetime.now(UTC)
