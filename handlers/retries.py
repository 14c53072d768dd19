"""Repeated deliveries do no work twice.

Slack delivers an Events API callback again (with `X-Slack-Retry-Num` and
`X-Slack-Retry-Reason`, over HTTP and in Socket Mode alike) when it thinks the first delivery
was not acknowledged in time; a proxy may replay a request too. This global middleware, which
runs after Bolt has checked the signature, marks every delivery seen in Redis on arrival (one
`SET NX EX`) and acknowledges a delivery it has seen before with an empty 200, running nothing.

- Events are the same delivery when their `event_id` is; they are remembered an hour (Slack
  retries within minutes).
- Commands, clicks and modal submissions are not retried by Slack; each carries its own
  `trigger_id`, so the same body twice is a replay. They are remembered ten minutes (Bolt refuses
  a signature older than five).
- Redis unreachable (or slow past `Once.timeout`): a first delivery is still served, since
  dropping it would lose a person's request; a retry is acknowledged and skipped, since its
  original most probably arrived and we cannot tell.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable

from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.services.dedupe import Once
from bot.store import StoreUnavailable

log = logging.getLogger("bot.handlers")

EVENT_TTL_SECONDS = 3600
OTHER_TTL_SECONDS = 600


def delivery_key(request: AsyncBoltRequest) -> tuple[str, int]:
    """What identifies a delivery (the same for Slack's retries of it), and how long to keep it."""
    body = request.body if isinstance(request.body, dict) else {}
    event_id = body.get("event_id")
    if isinstance(event_id, str) and event_id:
        return f"slack:event:{event_id}", EVENT_TTL_SECONDS
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return f"slack:body:{hashlib.sha256(canonical.encode()).hexdigest()}", OTHER_TTL_SECONDS


def _header(request: AsyncBoltRequest, name: str) -> str | None:
    values = request.headers.get(name) or []
    return str(values[0]) if values else None


class SkipRepeats(AsyncMiddleware):
    def __init__(self, once: Once) -> None:
        self.once = once

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse:
        retry = _header(req, "x-slack-retry-num")
        key, ttl = delivery_key(req)
        try:
            first = await self.once.first(key, ttl)
        except StoreUnavailable as exc:
            if retry is None:
                return await next()
            log.warning(
                "Slack retry %s (%s) of %s acknowledged without running it: %s",
                retry, _header(req, "x-slack-retry-reason"), key, exc,
            )  # fmt: skip
            return BoltResponse(status=200, body="")
        if first:
            return await next()
        log.info(
            "repeated Slack delivery skipped: %s (retry %s, reason %s)",
            key, retry or "none", _header(req, "x-slack-retry-reason") or "none",
        )  # fmt: skip
        return BoltResponse(status=200, body="")

    @property
    def name(self) -> str:
        return "SkipRepeats"
