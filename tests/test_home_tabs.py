"""The App Home's redraws, from data alone: coalesced per person and paced under Slack's
views.publish tier (Tier 4: about 100 a minute for the whole app)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

from slack_sdk.web.async_client import AsyncWebClient

from bot.services.approvals.service import ApprovalService, Overview
from bot.slack.home import PUBLISH_BURST, HomeTabs
from tests.test_blocks_surfaces import request


class Publishes:
    """views.publish as Slack receives it: who, when (monotonic)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []

    async def views_publish(self, *, user_id: str, view: Any) -> dict[str, Any]:
        self.calls.append((user_id, time.monotonic()))
        return {"ok": True}


class Approvals:
    async def home(self, actor: str) -> Overview:
        return Overview(roles=[], waiting=[], mine=[], recent=[])


def homes(interval: float) -> tuple[HomeTabs, Publishes]:
    client = Publishes()
    tabs = HomeTabs(
        cast(AsyncWebClient, client), cast(ApprovalService, Approvals()),
        ["U0A", "U0B", "S0GROUP"], "/email", interval=interval,
    )  # fmt: skip
    return tabs, client


async def drawn(tabs: HomeTabs) -> None:
    while tabs._drawing is not None and not tabs._drawing.done():
        await asyncio.sleep(0.01)


async def test_a_burst_of_changes_redraws_each_person_a_few_times_not_once_each() -> None:
    tabs, client = homes(interval=0.05)
    for n in range(30):  # thirty requests by U0R, each concerning U0A and U0B too
        await tabs.refresh(request(n, requester="U0R"))
    await drawn(tabs)
    people = [user for user, _ in client.calls]
    assert set(people) == {"U0A", "U0B", "U0R"}, "named approvers and the requester, no group"
    assert len(people) <= 6, people  # before: 90 publishes, one per person per change


async def test_publishes_past_the_burst_wait_for_the_pace() -> None:
    tabs, client = homes(interval=0.2)
    users = [f"U{n:04d}" for n in range(PUBLISH_BURST + 4)]
    started = time.monotonic()
    await asyncio.gather(*(tabs.publish(user) for user in users))
    times = [at - started for _, at in client.calls]
    assert max(times[:PUBLISH_BURST]) < 0.15, "the burst goes at once"
    assert times[-1] >= 0.6, "the four after it are paced, one per interval"
