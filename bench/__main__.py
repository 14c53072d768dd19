"""`python -m bench [--quick] [--only NAME ...]`: run the benchmarks, write
bench/results/<name>.json each, and print a summary table."""

from __future__ import annotations

import argparse
import time
import traceback
from collections.abc import Callable
from typing import Any

from bench import ack, alerts, bulk, lookup, memory, render
from bench.common import Result, say

BENCHMARKS: dict[str, Callable[[bool, dict[str, Any]], Result]] = {
    "render": lambda quick, shared: render.run(quick),
    "ack": ack.run,
    "lookup": lookup.run,
    "bulk": bulk.run,
    "alerts": alerts.run,
    "memory": memory.run,
}


def table(results: list[Result]) -> str:
    rows = [("benchmark", "target", "measured", "limit", "met")]
    for result in results:
        if result.skipped:
            rows.append((result.name, "(skipped)", result.skipped, "", ""))
        for target in result.targets:
            data = target.to_json()
            rows.append(
                (result.name, target.name, f"{data['measured']} {target.unit}", data["target"],
                 "yes" if target.met else "NO")
            )  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs (about 5 s of load)")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these")
    args = parser.parse_args()
    shared: dict[str, Any] = {}
    results: list[Result] = []
    started = time.monotonic()
    for name in args.only or list(BENCHMARKS):
        try:
            result = BENCHMARKS[name](args.quick, shared)
        except Exception as error:  # one broken benchmark must not hide the others
            traceback.print_exc()
            result = Result(name, {}, skipped=f"failed: {type(error).__name__}: {error}"[:200])
        say(f"[{name}] wrote {result.write()}")
        results.append(result)
    say(f"\nSummary ({time.monotonic() - started:.0f} s{', --quick' if args.quick else ''}):")
    say(table(results))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
