"""Per-channel rate limit for chat.postMessage, and one-shot injected failures."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.local.standin.model import JsonObject, SlackError
from bot.simulator.faults import parse_rate_limit

Rate = tuple[int, float]


def parse_rate(text: str | None) -> Rate | None:
    """`"N/SECONDS"` -> (N, SECONDS); `"off"`, "" or None -> no limit."""
    if text is None or text.strip().lower() in ("", "off", "none"):
        return None
    return parse_rate_limit(text)


def ratelimited(retry_after: int) -> SlackError:
    return SlackError("ratelimited", 429, headers={"Retry-After": str(retry_after)})


class ChannelLimiter:
    """Slack's "about one message per second per channel": a sliding window per channel over
    the messages actually posted. A refused post takes no slot."""

    def __init__(self, rate: Rate | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._posted: dict[str, deque[float]] = {}

    def check(self, channel: str) -> None:
        if self.rate is None:
            return
        limit, window = self.rate
        now = self._clock()
        posted = self._posted.setdefault(channel, deque())
        while posted and posted[0] <= now - window:
            posted.popleft()
        if len(posted) >= limit:
            raise ratelimited(max(1, math.ceil(posted[0] + window - now)))

    def record(self, channel: str) -> None:
        if self.rate is not None:
            self._posted.setdefault(channel, deque()).append(self._clock())


@dataclass
class FailRule:
    """Answer the next `count` calls of `method` (any method when None) with a failure."""

    method: str | None
    count: int
    status: int = 200
    error: str | None = None
    retry_after: int | None = None

    def failure(self) -> SlackError:
        if self.status == 429:
            return ratelimited(self.retry_after or 1)
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after else None
        default = "internal_error" if self.status >= 500 else "fatal_error"
        return SlackError(self.error or default, self.status, headers=headers)

    def to_json(self) -> JsonObject:
        return dict(self.__dict__)


class Faults:
    def __init__(self) -> None:
        self.rules: list[FailRule] = []

    def set(self, items: Any) -> None:
        self.rules = [_rule(item) for item in items or []]

    def check(self, method: str) -> None:
        for rule in self.rules:
            if rule.method in (None, method):
                rule.count -= 1
                if rule.count <= 0:
                    self.rules.remove(rule)
                raise rule.failure()


def _rule(item: Any) -> FailRule:
    if not isinstance(item, dict):
        raise ValueError("each fail_next entry must be an object")
    count, status = item.get("count", 1), item.get("status", 200)
    if not isinstance(count, int) or count < 1:
        raise ValueError("fail_next count must be a positive integer")
    if not isinstance(status, int) or not (status == 200 or 400 <= status <= 599):
        raise ValueError("fail_next status must be 200 (ok: false) or 400-599")
    error, retry_after = item.get("error"), item.get("retry_after")
    if status == 200 and not isinstance(error, str):
        raise ValueError("fail_next needs an error string, a status, or both")
    if retry_after is not None and (not isinstance(retry_after, int) or retry_after < 0):
        raise ValueError("fail_next retry_after must be a whole number of seconds")
    method = item.get("method")
    if method is not None and not isinstance(method, str):
        raise ValueError("fail_next method must be a Web API method name like chat.update")
    return FailRule(method, count, status, error, retry_after)
