"""Shared pieces: statistics, the result file, the real stack (simulator, Slack stand-in,
redis-server, bot) and RSS of a process."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.kit.servers import API_EMAIL, API_KEY, API_TOKEN, RedisProcess, SimulatorProcess
from tests.kit.slack import BOT_TOKEN, BotProcess, Slack, StandinProcess

RESULTS = Path(__file__).resolve().parent / "results"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of `values`; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(seconds: Sequence[float]) -> dict[str, float | int]:
    """count, p50, p99, mean and max of durations in seconds, reported in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "count": len(ms),
        "p50_ms": round(statistics.median(ms), 4) if ms else float("nan"),
        "p99_ms": round(percentile(ms, 99), 4),
        "mean_ms": round(statistics.fmean(ms), 4) if ms else float("nan"),
        "max_ms": round(max(ms), 4) if ms else float("nan"),
    }


@dataclass
class Options:
    """How this run goes, and what one benchmark leaves for another (memory reads the peaks
    of ack and bulk from `shared`)."""

    quick: bool = False
    profile: bool = False
    shared: dict[str, Any] = field(default_factory=dict)


@dataclass
class Target:
    """One target: `measured` compared with `limit` (measured must be <= limit)."""

    name: str
    measured: float
    limit: float
    unit: str
    strict: bool = False  # "<" rather than "<="

    @property
    def met(self) -> bool:
        return self.measured < self.limit if self.strict else self.measured <= self.limit

    def to_json(self) -> dict[str, Any]:
        op = "<" if self.strict else "<="
        return {
            "name": self.name,
            "measured": round(self.measured, 4),
            "target": f"{op} {self.limit} {self.unit}",
            "met": self.met,
        }


@dataclass
class Result:
    name: str
    setup: dict[str, Any]
    figures: dict[str, Any] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def passed(self) -> bool:
        return self.skipped is None and all(t.met for t in self.targets)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "machine": machine(),
            "setup": self.setup,
            "figures": self.figures,
            "targets": [t.to_json() for t in self.targets],
            "pass": self.passed,
            "skipped": self.skipped,
            "notes": self.notes,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }

    def write(self) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{self.name}.json"
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        return path


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def say(text: str) -> None:
    print(text, flush=True)


def rss_mb(pid: int) -> float:
    """Resident set size of `pid` in MB (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def hwm_mb(pid: int) -> float:
    """Peak resident set size of `pid` in MB (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


@dataclass
class Stack:
    simulator: SimulatorProcess
    standin: StandinProcess
    redis: RedisProcess
    bot: BotProcess
    slack: Slack


@contextmanager
def stack(
    simulator_args: Sequence[str] = (), standin_args: Sequence[str] = (), **bot_env: str
) -> Iterator[Stack]:
    """The real stack, each part a child process on a free port, stopped on exit."""
    started: list[Any] = []
    try:
        redis = RedisProcess()
        started.append(redis)
        simulator = SimulatorProcess(
            "--api-token", API_TOKEN, "--api-email", API_EMAIL, "--api-key", API_KEY,
            *simulator_args,
        )  # fmt: skip
        started.append(simulator)
        standin = StandinProcess("--bot-token", BOT_TOKEN, *standin_args)
        started.append(standin)
        # Measured as deployed: LOG_LEVEL's default, not the tests' DEBUG.
        bot = BotProcess(simulator, standin, redis.url, **{"LOG_LEVEL": "INFO", **bot_env})
        started.append(bot)
        yield Stack(simulator, standin, redis, bot, Slack(bot, standin))
    finally:
        for process in reversed(started):
            process.stop()
