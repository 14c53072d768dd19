"""Slack's per-method rate limits ("tiers"), as the stand-in applies them.

Slack limits each Web API method per app per workspace: Tier 1 allows 1+ calls a minute, Tier 2
20+, Tier 3 50+, Tier 4 100+ (docs.slack.dev/apis/web-api/rate-limits, shared/slack/PLATFORM.md
§9). Past it, HTTP 429 `ratelimited` with `Retry-After: <seconds>`. The "+" means Slack
tolerates some burst; the stand-in allows exactly the tier's number in any 60 seconds, so a bot
that stays within it here stays within it there. chat.postMessage is Slack's special tier (about
one a second per channel), kept by `limits.ChannelLimiter`; its undocumented workspace-wide
limit is not modelled.

Tests keep the real limits by default (a test that hits one finds the bot calling a method too
often) and set a short one where the limit itself is what they test: `--method-rate
views.publish=3/1`, or `{"method_rates": {"views.publish": "3/1"}}` on POST /__standin/faults,
so a Retry-After is a second, not a minute.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping

from bot.local.standin.limits import Rate, ratelimited

MINUTE = 60.0
TIER_1, TIER_2, TIER_3, TIER_4 = 1, 20, 50, 100  # calls per minute

# The tier of each method the stand-in serves, from each method's page on docs.slack.dev.
# Methods Slack lists as "Special" besides chat.postMessage (auth.test, chat.getPermalink) are
# counted as Tier 4, the most generous documented tier.
TIERS: dict[str, int] = {
    "apps.connections.open": TIER_3,
    "auth.test": TIER_4,
    "chat.postEphemeral": TIER_4,
    "chat.update": TIER_3,
    "chat.delete": TIER_3,
    "chat.getPermalink": TIER_4,
    "conversations.open": TIER_3,
    "views.open": TIER_4,
    "views.push": TIER_4,
    "views.update": TIER_4,
    "views.publish": TIER_4,
    "files.getUploadURLExternal": TIER_4,
    "files.completeUploadExternal": TIER_4,
    "usergroups.users.list": TIER_2,
    "users.info": TIER_4,
}


def tier_rates() -> dict[str, Rate]:
    return {method: (calls, MINUTE) for method, calls in TIERS.items()}


class MethodLimiter:
    """A sliding window per method over the calls Slack accepted for counting (every call that
    got past authentication; a call refused for the rate takes no slot)."""

    def __init__(
        self,
        rates: Mapping[str, Rate | None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rates: dict[str, Rate | None] = dict(rates)
        self._clock = clock
        self._calls: dict[str, deque[float]] = {}

    def check(self, method: str) -> None:
        """Count a call of `method`, or refuse it with 429 and the seconds until a slot frees."""
        rate = self.rates.get(method)
        if rate is None:
            return
        limit, window = rate
        now = self._clock()
        calls = self._calls.setdefault(method, deque())
        while calls and calls[0] <= now - window:
            calls.popleft()
        if len(calls) >= limit:
            raise ratelimited(max(1, math.ceil(calls[0] + window - now)))
        calls.append(now)

    def to_json(self) -> dict[str, str | None]:
        return {m: None if r is None else f"{r[0]}/{r[1]:g}" for m, r in sorted(self.rates.items())}
