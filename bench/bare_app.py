"""The baseline of benchmark 1: a bare slack-bolt AsyncApp that only acks, served exactly as
the bot serves (`bot.server.build_http`: aiohttp, POST /slack/events, GET /healthz).

Run as `python -m bench.bare_app` with SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL,
HOST and PORT in the environment."""

from __future__ import annotations

import asyncio
import os
import re

from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.server import build_http


def build() -> AsyncApp:
    client = AsyncWebClient(
        token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ.get("SLACK_API_URL", "")
    )
    app = AsyncApp(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"])

    @app.command(re.compile(".*"))
    async def command(ack: AsyncAck) -> None:
        await ack()

    @app.action(re.compile(".*"))
    async def action(ack: AsyncAck) -> None:
        await ack()

    return app


async def main() -> None:
    http = build_http(build(), signing_secret=os.environ["SLACK_SIGNING_SECRET"])
    runner = web.AppRunner(http, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, os.environ["HOST"], int(os.environ["PORT"])).start()
    print("bare app ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
