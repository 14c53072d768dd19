"""Benchmark 15, one Cloudflare budget for three replicas: three bots share one Redis and the
simulator, which answers 429 past `--rate-limit 100/60` as Cloudflare would past its limit;
300 lookups (three GETs each) are spread over the bots in turn during 60 s, with
CLOUDFLARE_RATE_LIMIT=100/60 and simulator latency 200 ms (`--quick`: the same in a tenth of
the time, 100/6 over 6 s).

Measured from the simulator's request log (microsecond `at`): the most requests in any window
(target: at most 100) and the 429s (target: none); and for each lookup, how much later its last
GET arrived than the budget required. "Required" is the schedule of a perfect first-come,
first-served limiter over one window shared by the three bots: the lookups in the order they
were sent, each GET at the earliest moment the window (the bot's: the setting's period plus the
0.25 s margin) has room, counting every request before it (target: no lookup more than 1 s
later than that)."""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from bench.bulk import max_per_window
from bench.common import Options, Result, Target, say, summary_ms
from bot.cloudflare.ratelimit import MARGIN
from tests.kit.factories import add
from tests.kit.servers import API_EMAIL, API_KEY, API_TOKEN, RedisProcess, SimulatorProcess
from tests.kit.slack import BOT_TOKEN, BotProcess, Slack, StandinProcess, text_of

REPLICAS, LOOKUPS, LIMIT, LATENCY_MS = 3, 300, 100, 200
GETS_PER_LOOKUP = 3  # the message, its detections, its action log
LATE_LIMIT_S = 1.0


def _at(request: dict[str, Any]) -> float:
    return datetime.fromisoformat(request["at"]).timestamp()


def required(ready: list[float], earlier: list[float], window: float) -> list[float]:
    """When each request could go at the earliest, first come first served, with at most LIMIT
    in any `window`: `ready` in order, after the requests already sent at `earlier`."""
    sent = sorted(earlier)
    times = []
    for moment in ready:
        when = moment if len(sent) < LIMIT else max(moment, sent[-LIMIT] + window)
        sent.append(when)
        times.append(when)
    return times


@contextlib.contextmanager
def replicas(period: float) -> Iterator[tuple[SimulatorProcess, StandinProcess, list[Slack]]]:
    """Redis, the rate-limited simulator, a stand-in that never paces, three bots."""
    with contextlib.ExitStack() as stack:
        redis = RedisProcess()
        stack.callback(redis.stop)
        simulator = SimulatorProcess(
            "--api-token", API_TOKEN, "--api-email", API_EMAIL, "--api-key", API_KEY,
            "--rate-limit", f"{LIMIT}/{period:g}",
        )  # fmt: skip
        stack.callback(simulator.stop)
        # Cards in one channel: Slack's pacing is not what this measures.
        standin = stack.enter_context(
            StandinProcess("--bot-token", BOT_TOKEN, "--channel-rate", "1000/1")
        )
        env = {"LOG_LEVEL": "INFO", "CLOUDFLARE_RATE_LIMIT": f"{LIMIT}/{period:g}"}
        bots = [
            stack.enter_context(BotProcess(simulator, standin, redis.url, **env))
            for _ in range(REPLICAS)
        ]
        yield simulator, standin, [Slack(bot, standin) for bot in bots]


def _answered(standin: StandinProcess, subjects: dict[str, int]) -> set[int]:
    found = set()
    for call in standin.calls("chat.postMessage"):
        text = text_of(call["args"])
        found |= {n for subject, n in subjects.items() if subject in text}
    return found


def run(options: Options) -> Result:
    period = 6.0 if options.quick else 60.0
    window = period + MARGIN
    setup = {
        "replicas": REPLICAS,
        "lookups": LOOKUPS,
        "gets_per_lookup": GETS_PER_LOOKUP,
        "sent_over_s": period,
        "cloudflare_rate_limit": f"{LIMIT}/{period:g} (every bot; the simulator's limit too)",
        "simulator_latency_ms": LATENCY_MS,
        "spread": "lookup n to bot n mod 3, one every sent_over_s / lookups seconds",
        "required": f"first come first served over one {window:g} s window (period + margin)",
    }
    say(f"[budget] {LOOKUPS} lookups over {period:g} s, {REPLICAS} bots, {LIMIT}/{period:g}")
    result = Result("budget", setup)
    with replicas(period) as (simulator, standin, drivers):
        subjects = {f"Budget lookup {n:03d}": n for n in range(LOOKUPS)}
        ids = [add(simulator, subject=subject) for subject in subjects]
        simulator.faults(latency_ms=LATENCY_MS)
        before = simulator.requests()  # the bots' start-up checks: already in the window
        sent: list[float] = []
        began = time.monotonic()
        for n, message_id in enumerate(ids):
            pause = began + n * period / LOOKUPS - time.monotonic()
            if pause > 0:
                time.sleep(pause)  # the load's pacing, not a synchronisation
            sent.append(time.time())
            drivers[n % REPLICAS].command(f"lookup {message_id}")
        floor = required(
            [t for t in sent for _ in range(GETS_PER_LOOKUP)], [_at(r) for r in before], window
        )
        deadline = time.monotonic() + max(floor) - time.time() + 60
        while len(_answered(standin, subjects)) < LOOKUPS and time.monotonic() < deadline:
            time.sleep(period / 30)
        answered = _answered(standin, subjects)
        requests = simulator.requests()
    late, waits, needed = [], [], []
    for n, message_id in enumerate(ids):
        arrived = [_at(r) for r in requests if message_id in r["path"] and r["status"] == 200]
        if len(arrived) < GETS_PER_LOOKUP:
            continue
        due = max(floor[n * GETS_PER_LOOKUP : (n + 1) * GETS_PER_LOOKUP])
        late.append(max(arrived) - due)
        waits.append(max(arrived) - sent[n])
        needed.append(due - sent[n])
    stamps = [_at(r) for r in requests]
    refused = sum(1 for r in requests if r["status"] == 429)
    most = max_per_window(stamps, period)
    result.figures.update(
        answered=len(answered),
        requests=len(requests),
        most_in_any_window=most,
        refused_429=refused,
        last_get_after_first_command_s=round(max(stamps) - sent[0], 1),
        required_last_get_after_first_command_s=round(max(floor) - sent[0], 1),
        lookup_wait=summary_ms(waits),
        lookup_required_wait=summary_ms(needed),
        lookup_later_than_required=summary_ms(late),
        lookup_later_than_required_median_s=round(statistics.median(late), 3) if late else None,
    )
    longest, latest = max(waits, default=0.0), max(late, default=float("inf"))
    say(
        f"[budget] {len(answered)}/{LOOKUPS} answered; at most {most} requests in any "
        f"{period:g} s, {refused} answered 429; lookups waited up to {longest:.1f} s, "
        f"at most {latest:.2f} s longer than the budget required"
    )
    result.targets += [
        Target("lookups answered", LOOKUPS - len(answered), 0, "missing"),
        Target(f"requests in any {period:g} s", most, LIMIT, "requests"),
        Target("429 answers", refused, 0, "answers"),
        Target("lookup later than required", latest, LATE_LIMIT_S, "s"),
    ]
    return result
