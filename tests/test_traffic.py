"""The simulator's `--traffic` option: new mail of every kind keeps arriving, and stops cleanly
with the simulator."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from bot.simulator.faults import FaultSettings
from bot.simulator.runtime import Credentials, Simulator
from bot.simulator.state import Dataset
from bot.simulator.traffic import Traffic, parse_traffic
from tests.kit.servers import ROOT, eventually, wait_until

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def simulator() -> Simulator:
    return Simulator.create(Dataset.build(7, 20, START, None), 7, FaultSettings(), Credentials())


def kinds(messages: list[dict[str, object]]) -> Counter[str]:
    """What arrived: dispositions, and campaigns (one sender and subject to 3 or more)."""
    found: Counter[str] = Counter(str(m["final_disposition"]) for m in messages)
    groups = Counter((m["from"], m["subject"]) for m in messages)
    found["campaign"] = sum(1 for size in groups.values() if size >= 3)
    return found


async def test_traffic_adds_mail_of_each_kind_at_the_clock_it_is_given() -> None:
    sim = simulator()
    before = {m["id"] for m in sim.store.messages}
    clock = [START + timedelta(minutes=5)]
    traffic = Traffic(sim, interval=0.001, rng=random.Random(1), clock=lambda: clock[0])
    stop = asyncio.Event()
    running = asyncio.create_task(traffic.run(stop))

    def new() -> list[dict[str, object]]:
        return [m for m in sim.store.messages if m["id"] not in before]

    async def every_kind() -> bool:
        found = kinds(new())
        return all(found[k] for k in ("campaign", "MALICIOUS-BEC", "MALICIOUS", "SPAM", "NONE"))

    await eventually(every_kind, 5, "a campaign, a BEC, a phish, spam and clean mail")
    stop.set()
    await asyncio.wait_for(running, 5)
    arrived = new()
    assert {m["scanned_at"] for m in arrived} == {"2026-11-02T09:05:00Z"}
    # Shaped like the sample: detections carry reasons, every message its recipients.
    bec = next(m for m in arrived if m["final_disposition"] == "MALICIOUS-BEC")
    assert bec["detection_reasons"] and bec["to"] and bec["id"]


def test_a_campaign_is_one_sender_and_subject_to_several_people() -> None:
    sim = simulator()
    traffic = Traffic(sim, interval=60, rng=random.Random(3), clock=lambda: START)
    arrivals = [traffic.arrive() for _ in range(6)]  # one round: each kind once
    assert sorted(kind for kind, _ in arrivals) == sorted(
        ("campaign", "MALICIOUS-BEC", "MALICIOUS", "SPAM", "NONE", "NONE")
    )
    ids = next(ids for kind, ids in arrivals if kind == "campaign")
    campaign = [sim.store.lookup(i) for i in ids]
    assert len(campaign) >= 3
    assert len({(m["from"], m["subject"]) for m in campaign if m}) == 1
    assert len({m["to"][0] for m in campaign if m}) == len(campaign)


def test_traffic_rate_is_n_per_minutes() -> None:
    assert parse_traffic("12/1") == 5.0
    assert parse_traffic("1/2") == 120.0
    for bad in ("0/1", "x/1", "3/0", "-1/1"):
        with pytest.raises(ValueError, match="N"):
            parse_traffic(bad)


def test_simulator_with_traffic_serves_new_mail_and_stops_cleanly() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "simulator", "--port", "0", "--messages", "20",
         "--traffic", "600/1"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        ready = process.stdout.readline()
        assert "a new arrival every 0.1 s" in ready
        url = ready.split(" on ", 1)[1].split()[0].removesuffix("/client/v4")

        def grown() -> bool:
            with urllib.request.urlopen(f"{url}/__simulator/health", timeout=2) as answer:
                return bool(json.load(answer)["messages"] >= 30)

        wait_until(grown, 10, "new mail in the simulator")
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "Traceback" not in err
