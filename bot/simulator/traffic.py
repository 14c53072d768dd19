"""The `--traffic N/MINUTES` option: new mail keeps arriving while the simulator runs.

Each arrival is a campaign (one sender and subject to several people), a BEC, a phish, spam or
clean mail, made by the sample generators so it has the same shapes (detections, links,
attachments, history) as the start-up data. Arrivals come in rounds holding each kind once, so
every kind shows up within one round; the campaign is each round's third arrival (the rest are
shuffled), so that the first one comes after the bot of `make run` (12 arrivals a minute) has
started polling: its alert thread then shows within the first minute, and again every half
minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.simulator.runtime import Simulator, now
from bot.simulator.sample import fresh_mail

KINDS = ("MALICIOUS-BEC", "MALICIOUS", "SPAM", "NONE", "NONE")
CAMPAIGN_AT = 2  # a round's arrival that is the campaign


def parse_traffic(text: str) -> float:
    """`N/MINUTES` (e.g. `12/1`) as seconds between arrivals; ValueError otherwise."""
    count, _, minutes = text.partition("/")
    try:
        n, span = int(count), float(minutes or "1")
    except ValueError:
        raise ValueError("must look like N/MINUTES, e.g. 12/1 (twelve arrivals a minute)") from None
    if n <= 0 or span <= 0:
        raise ValueError("N and MINUTES must both be more than 0")
    return span * 60 / n


@dataclass
class Traffic:
    """Arrivals into `simulator`'s store, one every `interval` seconds; `clock` is the arrival
    time stamped on the mail (injectable so a test controls it)."""

    simulator: Simulator
    interval: float
    rng: random.Random
    clock: Callable[[], datetime] = now
    _round: list[str] = field(default_factory=list)

    def arrive(self) -> tuple[str, list[str]]:
        """One arrival now: its kind and the ids it stored."""
        if not self._round:
            self._round = list(KINDS)
            self.rng.shuffle(self._round)
            self._round.insert(CAMPAIGN_AT, "campaign")
        kind = self._round.pop(0)
        at = self.clock()
        return kind, self.simulator.store.add_messages(fresh_mail(self.rng, at, kind), at)

    async def run(self, stop: asyncio.Event) -> None:
        """Arrivals until `stop` is set; the first one at once."""
        while not stop.is_set():
            self.arrive()
            # Waiting on the event, not sleeping: a stop ends the loop at once.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
