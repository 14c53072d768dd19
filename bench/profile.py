"""`--profile`: sample a process with py-spy while a benchmark loads it, and summarise where
the time went (the functions with the most samples, on their own and with what they call).

py-spy attaches from outside (no change to the bot, any process: the bot child, or this one for
the render benchmark) and costs the sampled process little, so the benchmark's own figures stay
meaningful; they are still marked as taken under a profiler."""

from __future__ import annotations

import collections
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from bench.common import RESULTS, Options, say

RATE = 100  # samples per second
SHOWN = 15


def py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


def when_asked(
    options: Options, pid: int, name: str, into: dict[str, object]
) -> AbstractContextManager[None]:
    """`profiled` with `--profile`, nothing otherwise."""
    return profiled(pid, name, into) if options.profile else nullcontext()


@contextmanager
def profiled(pid: int, name: str, into: dict[str, object]) -> Iterator[None]:
    """Sample `pid` for the block; put a summary under `into["profile"]` and the collapsed
    stacks in bench/results/<name>.profile.txt."""
    binary = py_spy()
    if binary is None:
        into["profile"] = "not taken: py-spy is not installed (make install)"
        yield
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    raw = RESULTS / f"{name}.profile.txt"
    spy = subprocess.Popen(
        [binary, "record", "--pid", str(pid), "--rate", str(RATE), "--format", "raw",
         "--output", str(raw), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes what it has on Ctrl-C
        _, err = spy.communicate(timeout=60)
    if not raw.exists():
        into["profile"] = f"py-spy failed: {err.decode(errors='replace')[-300:]}"
        return
    into["profile"] = summarise(raw.read_text())
    say(f"[{name}] profile: {raw}")


def summarise(collapsed: str) -> dict[str, object]:
    """Top functions by own samples and by inclusive samples, as percentages of all samples."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if f]
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)

    def top(counter: collections.Counter[str]) -> list[str]:
        return [f"{100 * n / total:5.1f}% {frame}" for frame, n in counter.most_common(SHOWN)]

    if total == 0:
        return {"samples": 0}
    # Frames every sample passes through (the event loop, main) say nothing; drop them.
    busy = collections.Counter({f: n for f, n in inclusive.items() if n < 0.95 * total})
    return {"samples": total, "own": top(own), "inclusive": top(busy)}
