"""Repeated deliveries do no work twice.

Slack delivers an Events API callback again (with `X-Slack-Retry-Num` and
`X-Slack-Retry-Reason`, over HTTP and in Socket Mode alike) when it thinks the first delivery
was not acknowledged in time. This global middleware runs after Bolt has checked the signature.

- Events are the same delivery when their `event_id` is: each is marked seen in Redis on
  arrival (one `SET NX EX`, kept an hour; Slack retries within minutes), and one seen before is
  acknowledged with an empty 200, running nothing.
- Commands, clicks, shortcuts and modal submissions are never retried by Slack (each carries its
  own `trigger_id`), so one that carries a retry header is a replay and is acknowledged the same
  way; the others go on without a Redis round trip on the acknowledgement path (measured: that
  round trip cost a quarter of the bot's throughput under load, bench/ack.py). A person's double
  click is two requests; destructive actions are guarded against it where they run
  (bot/services/actions.py, and the approval store's scripts).
- Redis unreachable (or slow past `Once.timeout`): a first delivery of an event is still served,
  since dropping it would lose it; a retry is acknowledged and skipped, since its original most
  probably arrived and we cannot tell.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.store import StoreUnavailable
from bot.store.once import Once

log = logging.getLogger("bot.handlers")

EVENT_TTL_SECONDS = 3600


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
        body = req.body if isinstance(req.body, dict) else {}
        event_id = body.get("event_id")
        if not (isinstance(event_id, str) and event_id):
            return await next() if retry is None else self._skipped(req, "a replayed request")
        key = f"slack:event:{event_id}"
        try:
            first = await self.once.first(key, EVENT_TTL_SECONDS)
        except StoreUnavailable as exc:
            if retry is None:
                return await next()
            return self._skipped(req, f"{key} (unverifiable: {exc})")
        return await next() if first else self._skipped(req, key)

    def _skipped(self, req: AsyncBoltRequest, what: str) -> BoltResponse:
        log.info(
            "repeated Slack delivery skipped: %s (retry %s, reason %s)",
            what,
            _header(req, "x-slack-retry-num") or "none",
            _header(req, "x-slack-retry-reason") or "none",
        )
        return BoltResponse(status=200, body="")

    @property
    def name(self) -> str:
        return "SkipRepeats"
