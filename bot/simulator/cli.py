"""`python -m bot simulator`: serve the Email Security API simulator until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from bot.serving import serve_until_signalled
from bot.simulator.app import create_app
from bot.simulator.faults import BODY_SHAPES, FaultSettings, parse_rate_limit
from bot.simulator.runtime import Credentials, Simulator, now
from bot.simulator.state import Dataset
from bot.simulator.traffic import Traffic, parse_traffic

DEFAULT_SEED = 20261101


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bot simulator",
        description="Stateful simulator of the Cloudflare Email Security API, for local runs "
        "and tests. Test hooks live under /__simulator/.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8787, help="0 picks a free port")
    p.add_argument("--data", type=Path, help="JSON array of MessageDetails objects to serve")
    p.add_argument("--messages", type=_non_negative, default=240, help="sample size")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the sample data")
    p.add_argument("--latency-ms", type=_non_negative, default=0)
    p.add_argument("--error-rate", type=_rate, default=0.0, help="share of requests given a 503")
    p.add_argument("--rate-limit", type=_rate_limit, help="N/SECONDS, e.g. 1200/300")
    p.add_argument(
        "--search-202",
        type=_non_negative,
        default=0,
        help="a new search answers 202 this many times before its results",
    )
    p.add_argument(
        "--body-shapes",
        choices=BODY_SHAPES,
        default="both",
        help="release and non-detection preview bodies accepted: 'spec' (a bare array, "
        '{"postfix_id"}), \'sdk\' ({"ids": [...]}, {"id"}) or both (default); the other is '
        "refused with 400, as the real API would",
    )
    p.add_argument(
        "--repeat-pages",
        action="store_true",
        help="page-paginated lists (submissions, settings) ignore `page`, answering the first "
        "page each time with the spec example's total_count (2000)",
    )
    p.add_argument(
        "--bulk-rate",
        type=_positive,
        default=1000.0,
        help="messages a bulk job acts on per second (it discovers them 10 times faster)",
    )
    p.add_argument(
        "--no-bulk-jobs",
        action="store_true",
        help="refuse bulk jobs (403), as an account without the feature would",
    )
    p.add_argument(
        "--traffic",
        type=_traffic,
        help="keep new mail arriving, N/MINUTES (e.g. 12/1): campaigns, BEC, phish, spam and "
        "clean mail (default: none)",
    )
    p.add_argument("--api-token", help="the only Bearer token accepted (default: any)")
    p.add_argument("--api-email", help="the only X-Auth-Email accepted (with --api-key)")
    p.add_argument("--api-key", help="the only X-Auth-Key accepted (with --api-email)")
    return p


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _rate_limit(text: str) -> str:
    try:
        parse_rate_limit(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _traffic(text: str) -> float:
    try:
        return parse_traffic(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if (args.api_email is None) != (args.api_key is None):
        parser().error("--api-email and --api-key go together")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        dataset = Dataset.build(args.seed, args.messages, now(), args.data)
    except (OSError, ValueError) as error:
        print(f"simulator: cannot load data: {error}", file=sys.stderr)
        return 2
    faults = FaultSettings(
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        rate_limit=args.rate_limit,
        search_202=args.search_202,
        body_shapes=args.body_shapes,
        repeat_pages=args.repeat_pages,
        bulk_jobs=not args.no_bulk_jobs,
        bulk_rate=args.bulk_rate,
    )
    credentials = Credentials(args.api_token, args.api_email, args.api_key)
    simulator = Simulator.create(dataset, args.seed, faults, credentials)
    try:
        asyncio.run(serve(simulator, args.host, args.port, args.traffic, args.seed))
    except OSError as error:  # typically the port is taken
        print(f"simulator: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    return 0


async def serve(
    simulator: Simulator, host: str, port: int, traffic: float | None = None, seed: int = 0
) -> None:
    count = len(simulator.store.messages)
    arriving = f", a new arrival every {traffic:g} s" if traffic else ""

    def ready(bound: int) -> str:
        return (
            f"Email Security API simulator on http://{host}:{bound}/client/v4 "
            f"({count} messages{arriving})"
        )

    app = create_app(simulator)
    if traffic:
        app.cleanup_ctx.append(_arrivals(Traffic(simulator, traffic, random.Random(seed + 2))))
    await serve_until_signalled(app, host, port, ready)


def _arrivals(traffic: Traffic) -> Callable[[web.Application], AsyncIterator[None]]:
    """The traffic loop for the app's lifetime: started with it, stopped with it."""

    async def context(_app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(traffic.run(stop))
        yield
        stop.set()
        await task

    return context
