"""Admission control: a bounded number of requests in progress; past it, a clear 'busy'."""

from __future__ import annotations

import asyncio

from bot.services.gate import WorkGate


async def test_gate_admits_up_to_its_limit_and_frees_slots() -> None:
    gate = WorkGate(limit=2)
    release = asyncio.Event()
    admitted: list[bool] = []

    async def job() -> None:
        async with gate.slot() as ok:
            admitted.append(ok)
            if ok:
                await release.wait()

    running = [asyncio.create_task(job()) for _ in range(2)]
    await asyncio.wait_for(_until(lambda: gate.active == 2), 2)
    await job()  # a third while two run: refused at once
    assert admitted == [True, True, False]
    release.set()
    await asyncio.gather(*running)
    assert gate.active == 0
    await job()
    assert admitted[-1] is True, "slots come back"


async def _until(condition: object) -> None:
    while not condition():  # type: ignore[operator]
        await asyncio.sleep(0)
