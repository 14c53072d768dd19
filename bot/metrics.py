"""The bot's Prometheus metrics: one registry per process, built once and held by `Services`.

What is counted where: Slack requests and their outcome when the listener finishes
(handlers.observe), the ack in the HTTP handler (bot.server) or, in Socket Mode, around Bolt's
dispatch; API calls, retries and 429s in the transport (through `CallObserver`); alert posts in
the Slack alert sender; Redis failures in the Redis client's retry (`CountingRetry`). The gauges
that live in Redis (approvals, alert outbox) are read when /metrics is scraped.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from redis.asyncio.retry import Retry
from redis.backoff import AbstractBackoff

from bot.services.alerts import outbox_depth
from bot.services.approvals import ApprovalStore
from bot.store import StoreUnavailable
from bot.store.plumbing import FAILURES as STORE_FAILURES

log = logging.getLogger("bot.metrics")
T = TypeVar("T")

# Acks should take a few milliseconds; Slack gives up at 3 s. Fine-grained below 100 ms.
ACK_BUCKETS = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1,
    0.25, 0.5, 1.0, 2.0, 3.0, 5.0,
)  # fmt: skip
API_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
GAUGE_FAILURES: tuple[type[Exception], ...] = (TimeoutError, StoreUnavailable, *STORE_FAILURES)
SCRAPE_REDIS_TIMEOUT = 1.0  # seconds /metrics waits for Redis before answering without it


class Metrics:
    """Every metric of the bot, in its own registry (never the process-global default)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "emailbot_requests", "Slack requests handled, by kind and outcome",
            ["kind", "outcome"], registry=r,
        )  # fmt: skip
        self.ack_seconds = Histogram(
            "emailbot_ack_seconds", "Time from a Slack request's arrival to its ack",
            buckets=ACK_BUCKETS, registry=r,
        )  # fmt: skip
        self.api_calls = Counter(
            "emailbot_api_calls", "Email Security API attempts, by endpoint template and status",
            ["endpoint", "status"], registry=r,
        )  # fmt: skip
        self.api_seconds = Histogram(
            "emailbot_api_call_seconds", "Email Security API attempt duration",
            ["endpoint"], buckets=API_BUCKETS, registry=r,
        )  # fmt: skip
        self.api_retries = Counter(
            "emailbot_api_retries", "Email Security API retries, by reason",
            ["reason"], registry=r,
        )  # fmt: skip
        self.api_rate_limited = Counter(
            "emailbot_api_rate_limited", "Email Security API answers of 429", registry=r
        )
        self.approvals = Gauge(
            "emailbot_approvals", "Approval requests by state (read at scrape time)",
            ["state"], registry=r,
        )  # fmt: skip
        self.alert_queue_depth = Gauge(
            "emailbot_alert_queue_depth", "Alerts in the outboxes, waiting to be posted",
            registry=r,
        )  # fmt: skip
        self.alert_posts = Counter(
            "emailbot_alert_posts", "Alert posts to Slack, by outcome", ["outcome"], registry=r
        )
        self.redis_errors = Counter(
            "emailbot_redis_errors", "Redis operations that failed (after the client's retries)",
            registry=r,
        )  # fmt: skip

    # -- bot.cloudflare.transport.CallObserver ---------------------------------------------------

    def on_api_call(self, endpoint: str, status: str, seconds: float) -> None:
        self.api_calls.labels(endpoint, status).inc()
        self.api_seconds.labels(endpoint).observe(seconds)

    def on_api_retry(self, reason: str) -> None:
        self.api_retries.labels(reason).inc()

    def on_rate_limited(self) -> None:
        self.api_rate_limited.inc()

    # -- the rest ----------------------------------------------------------------------------------

    def redis_error(self) -> None:
        self.redis_errors.inc()

    async def refresh(self, approvals: ApprovalStore, store: aioredis.Redis) -> None:
        """Read the gauges that live in Redis. A slow or dead Redis leaves their last values
        (the scrape still answers) and counts a Redis error."""
        try:
            counts = await self._bounded(approvals.counts())
            depth = await self._bounded(outbox_depth(store))
        except GAUGE_FAILURES as exc:
            if isinstance(exc, TimeoutError):  # the client's own failures are counted there
                self.redis_error()
            log.warning("metrics: Redis gauges not refreshed (%s)", type(exc).__name__)
            return
        for state, count in counts.items():
            self.approvals.labels(state).set(count)
        self.alert_queue_depth.set(depth)

    @staticmethod
    async def _bounded(awaitable: Awaitable[T]) -> T:
        return await asyncio.wait_for(awaitable, SCRAPE_REDIS_TIMEOUT)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class CountingRetry(Retry):
    """The Redis client's retry (connection errors and timeouts), which also counts each
    operation that still failed after its retries."""

    def __init__(
        self, backoff: AbstractBackoff, retries: int, on_error: Callable[[], None]
    ) -> None:
        super().__init__(backoff, retries)
        self._on_error = on_error

    def __deepcopy__(self, memo: dict[int, Any]) -> CountingRetry:
        # Each Redis connection deep-copies its retry; the copies count into the same metric.
        clone = CountingRetry(copy.deepcopy(self._backoff, memo), self._retries, self._on_error)
        clone._supported_errors = self._supported_errors
        return clone

    async def call_with_retry(
        self,
        do: Callable[[], Awaitable[T]],
        fail: Any,
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        try:
            return await super().call_with_retry(do, fail, is_retryable, with_failure_count)
        except (aioredis.ConnectionError, aioredis.TimeoutError):
            self._on_error()
            raise
