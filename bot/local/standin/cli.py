"""`python -m bot slack-standin`: serve the Slack Web API stand-in until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot.local.standin.app import create_app
from bot.local.standin.limits import Rate, parse_rate
from bot.local.standin.state import LOCAL_CHANNEL, Config
from bot.serving import serve_until_signalled


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bot slack-standin",
        description="Local stand-in for the Slack Web API, response_url and file uploads. "
        "Point the bot at http://HOST:PORT/api/ (SLACK_API_URL). Test hooks: /__standin/.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8790, help="0 picks a free port")
    p.add_argument(
        "--bot-token", help="the only bot token accepted (default: any token starting xoxb-)"
    )
    p.add_argument(
        "--app-token",
        help="the only app-level token apps.connections.open accepts (default: any xapp- token)",
    )
    p.add_argument(
        "--channel-rate",
        type=_rate,
        default="1/1",
        help="chat.postMessage limit per channel, N/SECONDS (default 1/1, like Slack); off = none",
    )
    p.add_argument(
        "--trigger-ttl",
        type=float,
        default=3.0,
        help="seconds a trigger_id from /__standin/response_urls lives (default 3; 0 = forever)",
    )
    p.add_argument(
        "--bot-in",
        type=_channels,
        default=LOCAL_CHANNEL,
        help="comma-separated channels the bot is a member of, at start and after each reset "
        f"(default {LOCAL_CHANNEL}); posts elsewhere are refused as Slack refuses them",
    )
    p.add_argument(
        "--method-rate",
        type=_method_rate,
        action="append",
        default=[],
        metavar="METHOD=N/SECONDS",
        help="replace Slack's tier for one method (repeatable); METHOD=off for no limit",
    )
    p.add_argument(
        "--no-rate-tiers",
        dest="rate_tiers",
        action="store_false",
        help="no per-method limits (Slack's tiers are applied by default)",
    )
    return p


def _channels(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip())


def _method_rate(text: str) -> tuple[str, Rate | None]:
    method, sep, rate = text.partition("=")
    if not sep or not method.strip():
        raise argparse.ArgumentTypeError("give METHOD=N/SECONDS, e.g. views.publish=3/1")
    return method.strip(), _rate(rate)


def _rate(text: str) -> Rate | None:
    try:
        return parse_rate(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # argparse runs `type` on the string default too, so channel_rate is parsed already.
    config = Config(
        args.bot_token, args.channel_rate, args.trigger_ttl, app_token=args.app_token,
        bot_in=args.bot_in, rate_tiers=args.rate_tiers, method_rates=tuple(args.method_rate),
    )  # fmt: skip
    try:
        asyncio.run(serve(config, args.host, args.port))
    except OSError as error:  # typically the port is taken
        print(f"slack-standin: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    return 0


async def serve(config: Config, host: str, port: int) -> None:
    await serve_until_signalled(
        create_app(config),
        host,
        port,
        lambda bound: f"Slack stand-in on http://{host}:{bound}/api/",
    )
