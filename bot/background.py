"""The work every replica runs beside serving Slack, until the process stops: the approval
sweeper (expiries, stalled executions) and, with ALERT_CHANNEL set, the alert poller (a Redis
lock lets one replica poll at a time), which also follows reclassify submissions; without
alerts, the submissions are followed on their own, under their own lock."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from bot.errors import StoreUnavailable
from bot.services.alerts import AlertPoller
from bot.services.approvals.service import ApprovalService
from bot.services.submissions import SubmissionService
from bot.store import Lease

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


FOLLOW_LOCK = "submissions:lock"
FOLLOW_LOCK_SECONDS = 60  # longer than a look takes; lapses if the replica dies mid-look


async def follow_forever(
    submissions: SubmissionService, lease: Lease, owner: str, seconds: float, stop: asyncio.Event
) -> None:
    """Without alerts: every `seconds`, the replica holding the lease looks at the followed
    submissions (the poller does it in its cycle otherwise)."""
    while not stop.is_set():
        try:
            # Held only while looking (one look at a time); a claim in Redis tells each outcome
            # once even if two replicas looked at once.
            if await lease.acquire(owner, FOLLOW_LOCK_SECONDS):
                try:
                    await submissions.check()
                finally:
                    await lease.release(owner)
        except StoreUnavailable as exc:
            log.warning("submissions not followed this time: %s", exc)
        except Exception:  # an API failure: logged, tried again next time
            log.exception("following submissions failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)


@dataclass(frozen=True)
class Following:
    """What the submission follower needs when there is no alert poller to run it."""

    submissions: SubmissionService
    lease: Lease
    owner: str
    seconds: float


def start(
    approvals: ApprovalService,
    poller: AlertPoller | None,
    stopping: asyncio.Event,
    following: Following | None = None,
) -> list[asyncio.Task[None]]:
    """Start the sweeper and, when alerts are on, the poller (else the submission follower)."""
    tasks = [asyncio.create_task(sweep_forever(approvals, stopping))]
    if poller is not None:
        log.info("alerts on: polling every %ss", poller.poll_seconds)
        tasks.append(asyncio.create_task(poller.run_forever(stopping)))
    elif following is not None:
        f = following
        tasks.append(
            asyncio.create_task(
                follow_forever(f.submissions, f.lease, f.owner, f.seconds, stopping)
            )
        )
    return tasks
