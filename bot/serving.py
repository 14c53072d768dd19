"""Serving a local aiohttp app (the simulator, the Slack stand-in) until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from aiohttp import web


async def serve_until_signalled(
    app: web.Application, host: str, port: int, ready: Callable[[int], str]
) -> None:
    """Listen, print `ready(bound port)` once the socket is open (tests and people wait for
    that line), and serve until a signal; port 0 picks a free port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound_port = runner.addresses[0][1] if runner.addresses else port
    print(ready(bound_port), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
