"""Fault injection: one-shot failures, a sliding-window rate limit, random 503s and latency; and
two ways the real API may differ from the spec: which release/preview body shape it accepts
(`body_shapes`), and list pages whose totals cannot be trusted (`repeat_pages`). Bulk jobs: the
pace they run at (`bulk_rate`, messages a second) and whether the account has them at all
(`bulk_jobs`: false answers their creation 403, as an account without the feature would), and
creations that fail on the server's side (`bulk_create_errors`: the next N are answered 503 and
make nothing, or, with `bulk_create_lands`, make the job and answer 502, as a gateway that lost
the answer would; counted down by the create route, settings_routes.py).

All of it is off unless a CLI flag or `POST /__simulator/faults` turns it on. The middleware
asks `Faults.check` in this order, after auth: one-shot failures, rate limit, error rate; then
it sleeps `latency` before the handler runs. A request refused here changes no state.
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

from bot.simulator.errors import AUTH_ERROR, RATE_LIMITED, UNAVAILABLE, ApiError


@dataclass
class FailRule:
    """Answer the next `count` matching API requests with `status`."""

    status: int
    count: int
    method: str | None = None
    path_contains: str | None = None
    retry_after: int | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return not self.path_contains or self.path_contains in path

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "count": self.count,
            "method": self.method,
            "path_contains": self.path_contains,
            "retry_after": self.retry_after,
        }


# CONTRACT.md §2: the spec's release body is a bare array and its preview body
# `{"postfix_id"}`; the SDK's are `{"ids": [...]}` and `{"id"}`. "both" accepts either.
BodyShapes = Literal["both", "spec", "sdk"]
BODY_SHAPES: tuple[BodyShapes, ...] = ("both", "spec", "sdk")


@dataclass
class FaultSettings:
    latency_ms: int = 0
    error_rate: float = 0.0
    rate_limit: str | None = None
    search_202: int = 0
    fail_next: list[FailRule] = field(default_factory=list)
    body_shapes: BodyShapes = "both"
    # Page-paginated lists ignore `page` (every page is the first) and report the spec
    # example's total_count: a server whose totals a client must not trust.
    repeat_pages: bool = False
    bulk_jobs: bool = True
    bulk_rate: float = 1000.0
    bulk_create_errors: int = 0
    bulk_create_lands: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "error_rate": self.error_rate,
            "rate_limit": self.rate_limit,
            "search_202": self.search_202,
            "fail_next": [rule.to_json() for rule in self.fail_next],
            "body_shapes": self.body_shapes,
            "repeat_pages": self.repeat_pages,
            "bulk_jobs": self.bulk_jobs,
            "bulk_rate": self.bulk_rate,
            "bulk_create_errors": self.bulk_create_errors,
            "bulk_create_lands": self.bulk_create_lands,
        }


def parse_rate_limit(text: str) -> tuple[int, float]:
    """`"N/SECONDS"` -> (N, SECONDS); ValueError for anything else."""
    count, _, seconds = text.partition("/")
    try:
        limit, window = int(count), float(seconds)
    except ValueError:
        raise ValueError(
            f"rate limit must look like N/SECONDS, e.g. 1200/300, not {text!r}"
        ) from None
    if limit < 1 or window <= 0:
        raise ValueError("rate limit needs N >= 1 and SECONDS > 0")
    return limit, window


def merged(settings: FaultSettings, updates: Mapping[str, Any]) -> FaultSettings:
    """`settings` with `updates` applied (a `fail_next` list replaces the old one)."""
    known = {"latency_ms", "error_rate", "rate_limit", "search_202", "fail_next"}
    known |= {"body_shapes", "repeat_pages", "bulk_jobs", "bulk_rate"}
    known |= {"bulk_create_errors", "bulk_create_lands"}
    unknown = set(updates) - known
    if unknown:
        raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
    # Rules are copied: `check` counts them down, and the CLI defaults must survive a reset.
    result = replace(settings, fail_next=[replace(rule) for rule in settings.fail_next])
    if "latency_ms" in updates:
        result.latency_ms = _number(updates["latency_ms"], "latency_ms", int, 0)
    if "error_rate" in updates:
        result.error_rate = _number(updates["error_rate"], "error_rate", float, 0.0, 1.0)
    if "search_202" in updates:
        result.search_202 = _number(updates["search_202"], "search_202", int, 0)
    if "rate_limit" in updates:
        result.rate_limit = updates["rate_limit"] or None
        if result.rate_limit is not None:
            parse_rate_limit(str(result.rate_limit))
    if "fail_next" in updates:
        result.fail_next = [_rule(item) for item in updates["fail_next"] or []]
    if "body_shapes" in updates:
        result.body_shapes = parse_body_shapes(updates["body_shapes"])
    if "repeat_pages" in updates:
        if not isinstance(updates["repeat_pages"], bool):
            raise ValueError("repeat_pages must be true or false")
        result.repeat_pages = updates["repeat_pages"]
    if "bulk_jobs" in updates:
        if not isinstance(updates["bulk_jobs"], bool):
            raise ValueError("bulk_jobs must be true or false")
        result.bulk_jobs = updates["bulk_jobs"]
    if "bulk_rate" in updates:
        result.bulk_rate = _number(updates["bulk_rate"], "bulk_rate", float, 0.001)
    if "bulk_create_errors" in updates:
        result.bulk_create_errors = _number(
            updates["bulk_create_errors"], "bulk_create_errors", int, 0
        )
    if "bulk_create_lands" in updates:
        if not isinstance(updates["bulk_create_lands"], bool):
            raise ValueError("bulk_create_lands must be true or false")
        result.bulk_create_lands = updates["bulk_create_lands"]
    return result


def parse_body_shapes(value: Any) -> BodyShapes:
    if value not in BODY_SHAPES:
        raise ValueError(f"body_shapes must be one of {', '.join(BODY_SHAPES)}")
    return cast("BodyShapes", value)


def _number(value: Any, name: str, kind: Callable[[Any], Any], low: Any, high: Any = None) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    number = kind(value)
    if number < low or (high is not None and number > high):
        raise ValueError(f"{name} is out of range")
    return number


def _rule(item: Any) -> FailRule:
    if not isinstance(item, dict):
        raise ValueError("each fail_next entry must be an object")
    status, count = item.get("status"), item.get("count", 1)
    if not isinstance(status, int) or not 400 <= status <= 599:
        raise ValueError("fail_next status must be an HTTP error status (400-599)")
    if not isinstance(count, int) or count < 1:
        raise ValueError("fail_next count must be a positive integer")
    retry_after = item.get("retry_after")
    if retry_after is not None and not isinstance(retry_after, int):
        raise ValueError("fail_next retry_after must be an integer number of seconds")
    return FailRule(status, count, item.get("method"), item.get("path_contains"), retry_after)


def injected_error(status: int, retry_after: int | None = None) -> ApiError:
    """The failure envelope for a status the test asked for."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    if status == 429:
        return ApiError(429, RATE_LIMITED, "Rate limited; please wait and retry", headers)
    if status >= 500:
        return ApiError(status, UNAVAILABLE, "Service temporarily unavailable", headers)
    if status == 401:
        return ApiError(401, AUTH_ERROR, "Authentication error", headers)
    return ApiError(status, 10000 + status, f"Injected failure (HTTP {status})", headers)


class Faults:
    """The current fault settings plus what they need to remember between requests."""

    def __init__(
        self, defaults: FaultSettings, seed: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._defaults = defaults
        self._seed = seed
        self._clock = clock
        self.reset()

    def reset(self) -> None:
        self.settings = merged(self._defaults, {})
        self._random = random.Random(self._seed)
        self._admitted: deque[float] = deque()

    def update(self, updates: Mapping[str, Any]) -> None:
        self.settings = merged(self.settings, updates)

    @property
    def latency(self) -> float:
        return self.settings.latency_ms / 1000

    def check(self, method: str, path: str) -> ApiError | None:
        """The failure to answer instead of handling the request, if any."""
        return self._fail_next(method, path) or self._rate_limit() or self._random_error()

    def _fail_next(self, method: str, path: str) -> ApiError | None:
        for rule in self.settings.fail_next:
            if rule.matches(method, path):
                rule.count -= 1
                if rule.count <= 0:
                    self.settings.fail_next.remove(rule)
                return injected_error(rule.status, rule.retry_after)
        return None

    def _rate_limit(self) -> ApiError | None:
        """Sliding window over admitted requests; a refused one does not take a slot."""
        if self.settings.rate_limit is None:
            return None
        limit, window = parse_rate_limit(self.settings.rate_limit)
        now = self._clock()
        while self._admitted and self._admitted[0] <= now - window:
            self._admitted.popleft()
        if len(self._admitted) >= limit:
            wait = max(1, math.ceil(self._admitted[0] + window - now))
            return injected_error(429, wait)
        self._admitted.append(now)
        return None

    def _random_error(self) -> ApiError | None:
        rate = self.settings.error_rate
        if rate > 0 and self._random.random() < rate:
            return injected_error(503)
        return None
