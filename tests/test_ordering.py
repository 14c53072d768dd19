"""The order tests are handed out in (tests/kit/ordering.py): long ones at the heads of the
first shares pytest-xdist's worksteal gives each worker."""

from __future__ import annotations

from tests.kit.ordering import long_ones_first, shares


def test_shares_are_worksteals_first_split() -> None:
    assert shares(10, 3) == [3, 3, 4]
    assert shares(905, 5) == [181, 181, 181, 181, 181]
    assert sum(shares(17, 4)) == 17


def test_each_long_test_heads_a_share_and_the_longest_runs_alone() -> None:
    items = [f"t{n}" for n in range(100)]
    seconds = {10: 90.0, 20: 20.0, 30: 15.0, 40: 14.0, 50: 12.0, 60: 11.0}
    ordered = long_ones_first(items, seconds, 5)
    assert sorted(ordered) == sorted(items), "nothing lost or doubled"
    starts = [0, 20, 40, 60, 80]  # shares(100, 5) == [20] * 5
    heads = [ordered[start : start + 2] for start in starts]
    assert heads[0][0] == "t10" and heads[0][1] != "t60", "the 90 s test has its share alone"
    placed = {t for head in heads for t in head if t in {items[i] for i in seconds}}
    assert placed == {items[i] for i in seconds}, "every long test starts a share"
    rest = [t for t in ordered if t not in placed]
    assert rest == [t for i, t in enumerate(items) if i not in seconds], "the rest keep order"


def test_without_workers_the_long_ones_simply_go_first() -> None:
    items = ["a", "b", "c", "d"]
    assert long_ones_first(items, {2: 5.0, 3: 9.0}, 1) == ["d", "c", "a", "b"]
