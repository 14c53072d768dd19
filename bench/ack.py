"""Benchmark 1, ack latency: 50 concurrent clients send signed `/email lookup <id>` commands
and Trace clicks on a posted card, back to back, for 20 s, simulator latency 2 s; the HTTP
response time (the ack) is measured. The same load then goes to a bare slack-bolt AsyncApp that
only acks (bench.bare_app, same aiohttp serving, same signing secret) in the same run."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.common import Options, Result, Target, hwm_mb, rss_mb, say, stack, summary_ms
from bench.profile import when_asked
from bot.local import payloads
from handlers.replies import BUSY
from tests.kit.factories import add
from tests.kit.servers import ROOT, free_port, wait_until
from tests.kit.slack import (
    BOT_TOKEN,
    CHANNEL,
    OPERATOR,
    SIGNING_SECRET,
    ChildProcess,
    find_element,
)

CLIENTS = 50
LATENCY_MS = 2000
P99_TARGET_MS = 100.0
RATIO_TARGET = 1.5


@dataclass
class Load:
    commands: list[float] = field(default_factory=list)
    clicks: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    busy: int = 0  # commands answered "busy" in the ack (BOT_MAX_IN_PROGRESS reached)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


class BareApp(ChildProcess):
    """`python -m bench.bare_app` in a child process (ChildProcess, with the module swapped)."""

    def __init__(self, standin_api: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/slack/events"
        self.health_url = f"http://127.0.0.1:{self.port}/healthz"
        env = dict(os.environ)
        env.update(
            SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_API_URL=standin_api, HOST="127.0.0.1", PORT=str(self.port),
        )  # fmt: skip
        self._log = tempfile.NamedTemporaryFile(prefix="bare-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.bare_app"], cwd=ROOT, env=env,
            stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_until(self._healthy, 20, "bare bolt app")
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"bare app did not start:\n{self.log()}") from None


async def _issue(http: aiohttp.ClientSession, standin_root: str, ts: str | None) -> Any:
    body = {"channel": CHANNEL, "user": OPERATOR, "message_ts": ts}
    async with http.post(f"{standin_root}/__standin/response_urls", json=body) as response:
        return await response.json()


async def _client(
    n: int,
    http: aiohttp.ClientSession,
    url: str,
    standin_root: str,
    ids: list[str],
    card: dict[str, Any],
    deadline: float,
    load: Load,
) -> None:
    block, element = find_element(card, "msg_trace")
    i = n
    while time.monotonic() < deadline:
        i += 1
        click = i % 2 == 1
        handles = await _issue(http, standin_root, card["ts"] if click else None)
        if click:
            entry = {
                "type": "button", "action_id": "msg_trace", "block_id": block["block_id"],
                "value": element.get("value"), "action_ts": f"{time.time():.6f}",
            }  # fmt: skip
            payload = payloads.block_actions(
                OPERATOR, [entry], handles["trigger_id"], message=card, response_url=handles["url"]
            )
            body = payloads.interaction(payload)
        else:
            body = payloads.slash_command(
                "/email", f"lookup {ids[i % len(ids)]}", OPERATOR, CHANNEL,
                handles["url"], handles["trigger_id"],
            )  # fmt: skip
        headers = payloads.signed_headers(SIGNING_SECRET, body)
        started = time.perf_counter()
        try:
            async with http.post(url, data=body.encode(), headers=headers) as response:
                answer = await response.read()
                status = response.status
        except aiohttp.ClientError as error:
            load.error(type(error).__name__)
            continue
        elapsed = time.perf_counter() - started
        if status != 200:
            load.error(f"HTTP {status}")
            continue
        (load.clicks if click else load.commands).append(elapsed)
        if BUSY.encode() in answer:
            load.busy += 1


async def _drive(
    url: str, standin_root: str, ids: list[str], card: dict[str, Any], seconds: float
) -> Load:
    load = Load()
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        deadline = time.monotonic() + seconds
        await asyncio.gather(
            *(
                _client(n, http, url, standin_root, ids, card, deadline, load)
                for n in range(CLIENTS)
            )
        )
    return load


def _figures(load: Load, seconds: float) -> dict[str, Any]:
    both = load.commands + load.clicks
    return {
        "all": summary_ms(both),
        "commands": summary_ms(load.commands),
        "clicks": summary_ms(load.clicks),
        "requests_per_second": round(len(both) / seconds, 1),
        "commands_answered_busy": load.busy,
        "errors": load.errors,
    }


def run(options: Options) -> Result:
    quick, shared = options.quick, options.shared
    seconds = 5.0 if quick else 20.0
    setup = {
        "clients": CLIENTS,
        "seconds_per_target": seconds,
        "simulator_latency_ms": LATENCY_MS,
        "mix": "alternating `/email lookup <id>` (50 ids) and Trace clicks on one posted card",
        "pacing": "closed loop, no think time; response_url issued before the timer starts",
        "admission": "the bot works on at most BOT_MAX_IN_PROGRESS=100 requests; past that a "
        "command is answered busy in its ack (counted) and a click by a private message",
        "measured": "HTTP response time of the signed POST /slack/events (the ack)",
        "baseline": "bare slack-bolt AsyncApp that only acks, bot.server.build_http serving",
        "load_generator": "aiohttp in the bench process, same machine",
    }
    say(f"[ack] {CLIENTS} clients x {seconds:.0f} s against the bot, then the bare app")
    result = Result("ack", setup)
    with stack() as s:
        ids = [
            add(s.simulator, subject=f"Bench ack {n}", postfix_id=f"BENCHACK{n:08d}")
            for n in range(50)
        ]
        s.slack.command(f"lookup {ids[0]}")
        card = s.slack.card()
        s.simulator.faults(latency_ms=LATENCY_MS)
        with when_asked(options, s.bot.process.pid, "ack", result.figures):
            bot_load = asyncio.run(_drive(s.bot.url, s.standin.root, ids, card, seconds))
        shared["bot_rss_after_ack_mb"] = rss_mb(s.bot.process.pid)
        shared["bot_hwm_after_ack_mb"] = hwm_mb(s.bot.process.pid)
        bare = BareApp(s.standin.api_url)
        try:
            bare_load = asyncio.run(_drive(bare.url, s.standin.root, ids, card, seconds))
        finally:
            bare.stop()
    result.figures["bot"] = _figures(bot_load, seconds)
    result.figures["bare_bolt"] = _figures(bare_load, seconds)
    result.figures["bot_rss_after_mb"] = round(shared["bot_rss_after_ack_mb"], 1)
    result.figures["bot_peak_rss_mb"] = round(shared["bot_hwm_after_ack_mb"], 1)
    bot_p99 = float(result.figures["bot"]["all"]["p99_ms"])
    bare_p99 = float(result.figures["bare_bolt"]["all"]["p99_ms"])
    ratio = bot_p99 / bare_p99
    result.figures["p99_ratio"] = round(ratio, 3)
    for who in ("bot", "bare_bolt"):
        f = result.figures[who]
        say(
            f"[ack] {who}: {f['all']['count']} acks ({f['requests_per_second']}/s), "
            f"p50 {f['all']['p50_ms']:.1f} ms, p99 {f['all']['p99_ms']:.1f} ms, "
            f"busy {f['commands_answered_busy']}, errors {f['errors']}"
        )
    say(f"[ack] p99 ratio bot/bare {ratio:.2f}")
    result.targets.append(Target("bot ack p99", bot_p99, P99_TARGET_MS, "ms", strict=True))
    result.targets.append(Target("p99 ratio bot/bare", ratio, RATIO_TARGET, "x"))
    if bot_load.errors or bare_load.errors:
        result.notes.append("some requests failed: see figures.*.errors")
    return result
