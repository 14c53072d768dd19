"""The outbound clients, each with its timeouts and retries: the Email Security API (or the
local simulator when no Cloudflare credentials are set), Slack's Web API, and Redis.

Timeouts, so that no outbound call can hang: the Email Security API API_TIMEOUT_SECONDS per
attempt (connect 10 s; GETs retried 3 times, 202 polling 60 s, a 429 waited at most 300 s,
3 times); the Slack Web API SLACK_TIMEOUT_SECONDS per call (file uploads included; a failed
connection retried once, a 429 waited up to 5 times); Redis 5 s to connect and per command
(3 quick retries), 0.5 s for the repeat check on the path that answers Slack, and 1 s without
retries for the shared rate limit (its fallback takes over).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

import redis.asyncio as redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.ratelimit import Limiter
from bot.cloudflare.transport import CallObserver
from bot.config import SIMULATOR_ACCOUNT_ID, SIMULATOR_TOKEN, Settings
from bot.metrics import CountingRetry
from bot.store.plumbing import FAILURES

log = logging.getLogger("bot.clients")

API_TIMEOUT_SECONDS = 30.0
SLACK_TIMEOUT_SECONDS = 30
LIMITER_TIMEOUT_SECONDS = 1.0
LIMITER_CONNECTIONS = 40  # twice SharedBudget's calls at once: pauses and give-backs too


def secret(value: object) -> str | None:
    get = getattr(value, "get_secret_value", None)
    return str(get()) if get else None


def email_client(
    settings: Settings, observer: CallObserver | None = None, limiter: Limiter | None = None
) -> EmailSecurityClient:
    """The API client; `limiter` (the shared budget's) replaces its own per-process one."""
    if not settings.uses_cloudflare:
        return EmailSecurityClient(
            SIMULATOR_ACCOUNT_ID, api_token=SIMULATOR_TOKEN, base_url=settings.simulator_url,
            rate_limit=settings.rate_limit, timeout=API_TIMEOUT_SECONDS, observer=observer,
            limiter=limiter,
        )  # fmt: skip
    assert settings.cloudflare_account_id is not None
    return EmailSecurityClient(
        settings.cloudflare_account_id,
        api_token=secret(settings.cloudflare_api_token),
        email=settings.cloudflare_email,
        api_key=secret(settings.cloudflare_api_key),
        base_url=settings.cloudflare_api_url,
        rate_limit=settings.rate_limit,
        timeout=API_TIMEOUT_SECONDS,
        observer=observer,
        limiter=limiter,
    )


async def on_cluster(url: str) -> bool:
    """Whether REDIS_URL leads to a Redis Cluster node (INFO's cluster_enabled), asked once at
    start. A Redis that does not answer is taken for a single server, as before clusters were
    supported, and the log says so: the bot starts (its readiness says Redis is unreachable)
    rather than wait for it."""
    probe = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        found = await probe.info("cluster")
    except FAILURES as exc:
        log.warning(
            "Redis at REDIS_URL did not answer at start (%s): taken for a single server, not a "
            "Redis Cluster; if it is a cluster, restart the bot once it answers",
            type(exc).__name__,
        )
        return False
    finally:
        await probe.aclose()
    cluster = bool(found.get("cluster_enabled"))
    log.info("Redis at REDIS_URL: %s", "a Redis Cluster" if cluster else "a single server")
    return cluster


def _connect(url: str, cluster: bool, **options: Any) -> redis.Redis:
    if not cluster:
        return redis.Redis.from_url(url, **options)
    # The cluster client answers every command the stores use (scripts, pipelines, single-slot
    # transactions) with the same signatures, so the stores are typed for one client only.
    return cast("redis.Redis", RedisCluster.from_url(url, **options))


def redis_client(
    url: str, on_error: Callable[[], None] | None = None, *, cluster: bool = False
) -> redis.Redis:
    """Redis that reconnects by itself: after a restart or a failover the next command gets a
    fresh connection (a few quick retries) instead of failing on the dead one. `on_error` is
    told of each operation that failed all the same (the metrics count them). `cluster`: the
    cluster client (`on_cluster`)."""
    return _connect(
        url,
        cluster,
        socket_timeout=5,
        socket_connect_timeout=5,
        health_check_interval=15,
        retry=CountingRetry(
            ExponentialBackoff(cap=1.0, base=0.05), retries=3, on_error=on_error or _nothing
        ),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )


def limiter_redis(url: str, *, cluster: bool = False) -> redis.Redis:
    """Redis for the shared rate limit (bot/store/ratelimit.py), which is asked before every
    API call: no retries and a short timeout, since the limiter has a fallback of its own
    rather than a reason to hold the call back."""
    return _connect(
        url,
        cluster,
        # SharedBudget queues its calls (20 at a time, in order) before they reach the pool,
        # which would refuse a burst past its size rather than let it wait (per node on a
        # cluster, where the budget's keys all live on one).
        max_connections=LIMITER_CONNECTIONS,
        socket_timeout=LIMITER_TIMEOUT_SECONDS,
        socket_connect_timeout=LIMITER_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )


def slack_client(settings: Settings) -> AsyncWebClient:
    return AsyncWebClient(
        token=secret(settings.slack_bot_token),
        base_url=settings.slack_api_url,
        timeout=SLACK_TIMEOUT_SECONDS,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=5),
        ],
    )


def _nothing() -> None:
    pass
