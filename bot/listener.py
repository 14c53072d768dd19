"""What the HTTP listener grants a connection before anyone is known: time and a place.

Anyone who can reach the port can open connections without a credential, so each one is
bounded before the signature check can run (issue 14; measured in
tests/test_e2e_exposure.py):

- Headers: a connection that has not sent a whole request's headers within HTTP_IDLE_TIMEOUT
  seconds of connecting, or of its last answer (keep-alive), is closed. This is aiohttp's
  `keepalive_timeout`, which aiohttp starts at connect and does not restart on partial data,
  so headers trickled a byte at a time get no more time than silence.
- Body: it must arrive within BODY_SECONDS of the headers, else 408 and the connection closes
  (`read_bodies`); what Slack sends is small and sent at once.
- Number: at most half the process's open-file limit (`ulimit -n`), and never more than
  MAX_CONNECTIONS, are open at once; the listen backlog, which is also how many connections
  the event loop accepts in one go, is an eighth of the limit. The rest of the files stay for
  Redis, Slack, Cloudflare and the logs. A connection past the cap closes the oldest one that
  is not answering a complete request: idle and slow connections go first, so a flood of them
  never keeps out `/healthz` or Slack. Only when every connection is answering a request is
  the newcomer closed.

Bodies are taken as sent: Slack does not compress them, and nothing is decoded (a gzip bomb
included) before the signature over those bytes holds.

aiohttp offers the first as a setting and none of the others; the cap is kept by the site
(`CappedSite`), which builds aiohttp's own request handler for each connection and notes it
opening and closing.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

log = logging.getLogger("bot.listener")
BODY_SECONDS = 5.0  # from the end of the headers to the end of the body
MAX_CONNECTIONS = 1024
# After an early answer (a 408, a 413), aiohttp reads on for this long so the client can read
# the answer; its default of 10 s would be a slow body's second wind.
LINGER_SECONDS = 1.0
TOLD_EVERY = 60.0  # seconds between two log lines about the cap


def connection_limits(open_files: int | None = None) -> tuple[int, int]:
    """(most connections at once, listen backlog) for this process's open-file limit."""
    if open_files is None:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        open_files = soft if soft != resource.RLIM_INFINITY else 1 << 20
    limit = max(8, min(open_files // 2, MAX_CONNECTIONS))
    return limit, max(8, min(open_files // 8, 128))


class ConnectionCap:
    """The open connections, oldest first, each marked while it answers a request."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[web.RequestHandler, bool] = {}  # dicts keep insertion order
        self.closed_early = 0
        self._told = 0.0

    def opened(self, handler: web.RequestHandler) -> None:
        self._open[handler] = False
        if len(self._open) <= self.limit:
            return
        # The newcomer is last and not answering yet: it goes only if every other one is.
        victim = next(h for h, answering in self._open.items() if not answering)
        del self._open[victim]
        victim.force_close()
        self.closed_early += 1
        now = time.monotonic()
        if now - self._told >= TOLD_EVERY:
            self._told = now
            log.warning(
                "HTTP connections at the cap of %d: closing the oldest idle or slow ones "
                "(%d so far)",
                self.limit, self.closed_early,
            )  # fmt: skip

    def closed(self, handler: web.RequestHandler) -> None:
        self._open.pop(handler, None)

    def answering(self, handler: web.RequestHandler, answering: bool) -> None:
        if handler in self._open:
            self._open[handler] = answering

    def __len__(self) -> int:
        return len(self._open)


class _Tracked(web.RequestHandler):
    """aiohttp's request handler (one per connection), telling the cap when it opens and
    closes."""

    def __init__(self, manager: web.Server, cap: ConnectionCap, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self.cap = cap

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.cap.opened(self)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.cap.closed(self)
        super().connection_lost(exc)


class CappedSite(web.BaseSite):
    """A TCP site whose connections are counted against `cap` (aiohttp's TCPSite, but for the
    protocol factory)."""

    def __init__(
        self,
        runner: web.AppRunner,
        host: str,
        port: int,
        *,
        cap: ConnectionCap,
        backlog: int,
        idle_timeout: float,
    ) -> None:
        super().__init__(runner, backlog=backlog)
        self.host, self.port, self.cap = host, port, cap
        self.idle_timeout = idle_timeout

    @property
    def name(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None  # the runner was set up: BaseSite checks it

        def connection() -> web.RequestHandler:
            return _Tracked(
                server, self.cap, loop=loop, keepalive_timeout=self.idle_timeout,
                lingering_time=LINGER_SECONDS, access_log=None, auto_decompress=False,
            )  # fmt: skip

        self._server = await loop.create_server(
            connection, self.host, self.port, backlog=self._backlog, reuse_address=True
        )


def read_bodies(cap: ConnectionCap, seconds: float = BODY_SECONDS) -> Middleware:
    """Each request's body is read within `seconds` before anything looks at the request; from
    then on its connection counts as answering (never closed for the cap)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            async with asyncio.timeout(seconds):
                await request.read()  # kept by aiohttp: handlers read it again for free
        except TimeoutError:
            # DEBUG, as below: a flood of these is told by the cap's line, not one line each.
            log.debug("closed a connection whose request body took over %.0f s", seconds)
            return web.Response(status=408, text="request body too slow\n", headers=CLOSE)
        except web.HTTPException:
            raise  # 413 for a body over the size limit
        except ConnectionError:  # the client went, or the cap closed the connection
            log.debug("a connection closed while its request body was read")
            return web.Response(status=400, text="connection closed\n", headers=CLOSE)
        except Exception as exc:  # a malformed chunked body, say
            log.info("refused a request whose body could not be read (%s)", type(exc).__name__)
            return web.Response(status=400, text="unreadable body\n", headers=CLOSE)
        cap.answering(request.protocol, True)
        try:
            return await handler(request)
        finally:
            cap.answering(request.protocol, False)

    return middleware


CLOSE = {"Connection": "close"}
