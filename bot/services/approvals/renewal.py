"""Keeping a request's execution lease while a run works on it: the one renewal loop of the
Executor (chunks, executor.py) and the BulkJobRunner (one bulk job, bulkjob.py).

The lease is renewed every third of its length, so a slow step (a chunk's POST, a wait between
two polls of a job) keeps it; a Redis that does not answer is logged and tried again at the
next beat (the lease may lapse meanwhile: the store's lease-checked writes then refuse the
run's results, and another replica resumes); a lease found held by someone else ends the loop
and is told to `lost`, since renewing it again could only fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from bot.services.approvals.store import ApprovalStore
from bot.store import StoreUnavailable

log = logging.getLogger("bot.executor")


@contextlib.asynccontextmanager
async def lease_renewed(
    store: ApprovalStore,
    request_id: str,
    owner: str,
    lease_seconds: float,
    lost: Callable[[], None] = lambda: None,
) -> AsyncIterator[None]:
    """Renew `owner`'s lease of `request_id` in the background while the block runs; the
    renewal has stopped when the block is left (so the caller may then release the lease)."""
    renewer = asyncio.create_task(_keep_renewed(store, request_id, owner, lease_seconds, lost))
    try:
        yield
    finally:
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer


async def _keep_renewed(
    store: ApprovalStore,
    request_id: str,
    owner: str,
    lease_seconds: float,
    lost: Callable[[], None],
) -> None:
    while True:
        await asyncio.sleep(lease_seconds / 3)
        try:
            if not await store.renew(request_id, owner, lease_seconds):
                lost()
                log.warning("approval request %s: lease lost", request_id)
                return
        except StoreUnavailable as exc:
            log.warning("could not renew the lease of %s: %s", request_id, exc)
