"""The work every replica runs beside serving Slack, until the process stops: the approval
sweeper (expiries, stalled executions) and, with ALERT_CHANNEL set, the alert poller (a Redis
lock lets one replica poll at a time)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.errors import StoreUnavailable
from bot.services.alerts import AlertPoller
from bot.services.approvals.service import ApprovalService

log = logging.getLogger("bot")
SWEEP_SECONDS = 1.0  # cheap: two Redis range reads


async def sweep_forever(approvals: ApprovalService, stopping: asyncio.Event) -> None:
    """Expire overdue approvals and resume stalled executions until the process stops."""
    failing = False
    while not stopping.is_set():
        try:
            await approvals.sweep()
            if failing:
                log.info("approval sweep: Redis answers again")
            failing = False
        except StoreUnavailable as exc:  # said once, retried every second until Redis is back
            if not failing:
                log.warning("approval sweep paused: %s; retrying every %.0f s", exc, SWEEP_SECONDS)
            failing = True
        except Exception:  # a failed sweep (Slack down, ...) is retried next time
            log.exception("approval sweep failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=SWEEP_SECONDS)


def start(
    approvals: ApprovalService, poller: AlertPoller | None, stopping: asyncio.Event
) -> list[asyncio.Task[None]]:
    """Start the sweeper and, when alerts are on, the poller."""
    tasks = [asyncio.create_task(sweep_forever(approvals, stopping))]
    if poller is not None:
        log.info("alerts on: polling every %ss", poller.poll_seconds)
        tasks.append(asyncio.create_task(poller.run_forever(stopping)))
    return tasks
