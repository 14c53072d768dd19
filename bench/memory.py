"""Benchmark 5, memory and start-up: RSS of the bot idle after start-up and its peak after
benchmark 1 (VmRSS / VmHWM of /proc/<pid>/status); time from spawning `python -m bot` to
/healthz answering 200."""

from __future__ import annotations

import statistics
import time

from bench.common import Options, Result, Target, hwm_mb, rss_mb, say, stack
from tests.kit.slack import BotProcess

IDLE_MB, PEAK_MB, READY_S = 80.0, 150.0, 2.0


def run(options: Options) -> Result:
    quick, shared = options.quick, options.shared
    starts = 3 if quick else 5
    setup = {
        "ready": f"spawn of `python -m bot` -> GET /healthz 200 (polled every 20 ms), x{starts}",
        "idle": "VmRSS 3 s after the first start, no traffic",
        "peak": "VmHWM of the bots of benchmarks 1 and 3 after their load (same run)",
    }
    say(f"[memory] {starts} bot starts; idle RSS; peak from benchmark 1")
    result = Result("memory", setup)
    ready: list[float] = []
    with stack() as s:
        time.sleep(3)
        idle = rss_mb(s.bot.process.pid)
        result.figures["idle_rss_mb"] = round(idle, 1)
        result.figures["idle_hwm_mb"] = round(hwm_mb(s.bot.process.pid), 1)
        for _ in range(starts):
            started = time.monotonic()
            bot = BotProcess(s.simulator, s.standin, s.redis.url, LOG_LEVEL="INFO")
            ready.append(time.monotonic() - started)
            bot.stop()
    result.figures["ready_s"] = [round(r, 3) for r in ready]
    result.figures["ready_median_s"] = round(statistics.median(ready), 3)
    say(f"[memory] idle RSS {idle:.1f} MB; ready {result.figures['ready_s']} s")
    result.targets.append(Target("idle RSS", idle, IDLE_MB, "MB"))
    for bench, number in (("ack", 1), ("bulk", 3)):
        peak = shared.get(f"bot_hwm_after_{bench}_mb")
        if peak is None:
            result.notes.append(f"peak after {bench} not measured: run `{bench}` in the same run")
            continue
        rss = shared[f"bot_rss_after_{bench}_mb"]
        result.figures[f"rss_after_{bench}_mb"] = round(rss, 1)
        result.figures[f"peak_rss_after_{bench}_mb"] = round(peak, 1)
        say(f"[memory] after benchmark {number} ({bench}): RSS {rss:.1f} MB, peak {peak:.1f} MB")
        result.targets.append(Target(f"peak RSS (after {bench})", peak, PEAK_MB, "MB"))
    result.targets.append(Target("ready (median)", statistics.median(ready), READY_S, "s"))
    return result
