"""The order the suite's tests are handed out in, so that the run does not end waiting for one
long test.

pytest-xdist's `worksteal` gives each worker one contiguous share of the collected list at the
start (the first `n // workers`, then a share of the rest, ...), and an idle worker later takes
the second half of the longest queue. A test marked `starts_first(seconds)` is a long one (it
waits on Slack's pacing, a lapsed lease or a slow job): each goes to the head of a share, the
longest first onto the least loaded, so every long test starts at once, on its own worker, and
nothing steals it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def shares(total: int, workers: int) -> list[int]:
    """The sizes of the shares pytest-xdist's worksteal hands out first, in order."""
    sizes, left = [], total
    for remaining in range(workers, 0, -1):
        sizes.append(left // remaining)
        left -= sizes[-1]
    return sizes


def long_ones_first(items: Sequence[T], seconds: dict[int, float], workers: int) -> list[T]:
    """`items` with those of `seconds` (index -> expected seconds) at the heads of the shares;
    the rest keep their order."""
    longest = sorted(seconds, key=lambda i: -seconds[i])
    rest = [item for i, item in enumerate(items) if i not in seconds]
    if workers < 2:
        return [items[i] for i in longest] + rest
    heads: list[list[T]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for index in longest:
        least = load.index(min(load))
        heads[least].append(items[index])
        load[least] += seconds[index]
    ordered: list[T] = []
    for head, size in zip(heads, shares(len(items), workers), strict=True):
        fill = max(0, size - len(head))
        ordered += head + rest[:fill]
        rest = rest[fill:]
    return ordered + rest
