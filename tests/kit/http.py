"""The HTTP clients the tests use for their own calls to local processes.

Every new httpx client builds an SSL context and loads the system's CA bundle into it, about
60 ms of CPU; a fresh client per signed request and per health poll cost the suite minutes of
CPU on two cores. So there is one context (`TLS`, for any client a test must build itself)
and one sync client (`LOCAL`). Keep-alive is off so that each call opens its own connection,
as a fresh client did: tests that count connections or time out idle ones see the same traffic.
"""

from __future__ import annotations

import ssl

import httpx

TLS = ssl.create_default_context()
LOCAL = httpx.Client(timeout=10, verify=TLS, limits=httpx.Limits(max_keepalive_connections=0))


def async_local(timeout: float = 10) -> httpx.AsyncClient:
    """An async client that reuses the one SSL context."""
    return httpx.AsyncClient(timeout=timeout, verify=TLS)
