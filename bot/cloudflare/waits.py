"""Telling a person that a call waits for Cloudflare's rate limit.

The surface that serves a person sets `WAIT_NOTICE` for the work it runs; the transport calls it
with the seconds it is about to wait. A context variable, so that concurrent requests each tell
their own person, and the client needs no knowledge of who asked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar

# Set by whoever serves a person (a Slack handler) to tell them a 429 makes us wait: seconds in.
WAIT_NOTICE: ContextVar[Callable[[float], Awaitable[None]] | None] = ContextVar(
    "WAIT_NOTICE", default=None
)
