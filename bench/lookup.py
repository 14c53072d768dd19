"""Benchmark 2, lookup end to end: `/email lookup <id>` sent -> the card's chat.postMessage
received by the Slack stand-in (its recorded `at`), simulator latency L = 200 ms, one lookup at
a time so that each one sees an idle bot."""

from __future__ import annotations

import json
import time
from datetime import datetime

from bench.common import Options, Result, Target, say, stack, summary_ms
from bench.profile import when_asked
from tests.kit.factories import add
from tests.kit.slack import Slack

LATENCY_MS = 200


def _posted_at(slack: Slack, marker: str, timeout: float = 10) -> float:
    """Wall-clock time at which the stand-in received the chat.postMessage carrying `marker`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for call in slack.standin.calls("chat.postMessage"):
            if marker in json.dumps(call["args"]):
                return datetime.fromisoformat(call["at"]).timestamp()
        time.sleep(0.01)
    raise TimeoutError(f"no card with {marker!r} within {timeout}s:\n{slack.bot.log()[-3000:]}")


def run(options: Options) -> Result:
    quick = options.quick
    lookups = 10 if quick else 30
    setup = {
        "simulator_latency_ms": LATENCY_MS,
        "lookups": lookups,
        "measured": "send time of the signed command -> stand-in's `at` of the card's postMessage",
        "sequential": "one lookup at a time, each a different message id (nothing cached)",
    }
    say(f"[lookup] {lookups} lookups one after another, simulator latency {LATENCY_MS} ms")
    result = Result("lookup", setup)
    durations: list[float] = []
    acks: list[float] = []
    with stack() as s:
        ids = [
            (add(s.simulator, subject=f"Bench lookup {n}", postfix_id=f"BENCHLK{n:09d}"), n)
            for n in range(lookups + 1)
        ]
        s.simulator.faults(latency_ms=LATENCY_MS)
        with when_asked(options, s.bot.process.pid, "lookup", result.figures):
            for message_id, n in ids:
                sent = time.time()
                s.slack.command(f"lookup {message_id}")
                acks.append(s.slack.last_ack_seconds)
                posted = _posted_at(s.slack, f"Bench lookup {n}")
                if n > 0:  # the first one warms up connections and the bot's caches of Slack
                    durations.append(posted - sent)
        calls = s.simulator.calls()
    stats = summary_ms(durations)
    result.figures["command_to_card"] = stats
    result.figures["ack"] = summary_ms(acks[1:])
    per_lookup = [c for c in calls if "BENCHLK000000001" in json.dumps(c)]
    result.figures["simulator_calls_total"] = len(calls)
    result.figures["simulator_calls_per_lookup_sample"] = [
        f"{c.get('method')} {c.get('path')}" for c in per_lookup
    ]
    limit = 2 * LATENCY_MS + 50
    say(f"[lookup] command -> card p50 {stats['p50_ms']:.0f} ms, p99 {stats['p99_ms']:.0f} ms")
    result.targets.append(Target("command->card p50", float(stats["p50_ms"]), limit, "ms"))
    return result
