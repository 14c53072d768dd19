"""Running an approved request: chunk by chunk, what still needs doing re-checked just before
acting (eligible.py: by the request's frozen search, else one GET per id), each chunk's result
stored before the next, resumable after a crash without repeating a chunk.

Exactly-once, step by step (DESIGN.md "Policy and approvals"):

- Only the holder of the request's lease (bot.store.lease.Lease) acts on it. The lease has a
  TTL and is renewed in the background while the executor works (renewal.py), so a slow chunk
  keeps it; a
  killed process loses it after `lease_seconds` and any replica's sweeper resumes the request
  (`store.stalled()`, then `run` for each: handlers/approvals.py `sweep`).
- A chunk's result is stored once (`save_chunk`, lease-checked); a chunk with a stored result
  is never sent again.
- A chunk whose POST went out but whose result was not stored (a crash in between) is sent
  again only after its re-check, which a resumed run makes afresh (a new search, or a GET per
  id): only the messages still needing the action are sent (release: still quarantined; move:
  not already moved to that folder), so the messages the lost POST released are skipped, not
  released twice. A run's search answer serves its later chunks for `search_max_age` seconds
  at most, then is asked again.
- When the run stops while a POST may be in flight (cancelled, crashed), the lease is left to
  lapse rather than released, so a resume cannot re-check before that POST has landed.
- Before anything is sent (a first run or a resume), `roles` says whether the request still
  has what it needs (roles: `rechecks.py`). A refusal ends it (executing -> refused, lease
  checked, the chunks not yet stored left unsent); a check that could not be made
  (Slack did not answer) keeps the lease until it lapses, so the sweeper tries again then.
- Told to stop (`stop` set: the process is shutting down), the run ends at the next safe point
  and hands the lease back at once, so another replica resumes without waiting for it to
  lapse: before a chunk, or during a chunk's re-check (nothing of it was sent; the successor
  re-checks it); a chunk whose POST is out is finished and stored first.
- The end (done, or refused) is audited and shown by the caller (announcing.py), not here:
  the step that ends the run records that its end is owed, so another replica audits and
  shows it if this one dies before it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.errors import ApiError
from bot.cloudflare.models import Destination
from bot.services.approvals.answers import read_moved, read_released
from bot.services.approvals.apply import apply_change
from bot.services.approvals.block_step import apply_block
from bot.services.approvals.changes import SETTINGS_CHANGES
from bot.services.approvals.eligible import Check, Eligibility, Snapshot
from bot.services.approvals.models import (
    ApprovalRequest,
    ApprovalState,
    ChunkResult,
)
from bot.services.approvals.renewal import lease_renewed
from bot.services.approvals.step import Step
from bot.services.approvals.store import ApprovalStore
from bot.services.audit import AuditLog
from bot.services.policy import GroupLookupError
from bot.services.stopping import unless_stopped
from bot.store import StoreUnavailable

log = logging.getLogger("bot.executor")
T = TypeVar("T")

ProgressCallback = Callable[[ApprovalRequest], Awaitable[None]]
# Why the request may not run now (None: it may); raises GroupLookupError when it cannot tell.
RoleCheck = Callable[[ApprovalRequest], Awaitable[str | None]]
SEARCH_MAX_AGE = 60.0  # seconds a run trusts its search's answer before asking again
TAMPERED_ERROR = (
    "the request's stored content no longer matches its approved digest; nothing was sent"
)
# The requests that are one settings-list step, not chunks of messages (step.py).
ONE_STEP: dict[str, Step] = {"block": apply_block, **dict.fromkeys(SETTINGS_CHANGES, apply_change)}


@dataclass
class _Run:
    """One run's mutable state (an Executor may run several requests at once)."""

    request_id: str
    posting: bool = False  # a POST may be in flight whose result is not stored yet
    lost: bool = False  # the lease was found held by someone else
    hold: bool = False  # keep the lease until it lapses: the sweeper retries after that
    last_progress: float = 0.0
    snapshot: Snapshot | None = None  # what the request's search said last (eligible.py)


class Executor:
    def __init__(
        self,
        store: ApprovalStore,
        client: EmailSecurityClient,
        owner: str,
        lease_seconds: float = 30,
        recheck_concurrency: int = 10,
        on_progress: ProgressCallback | None = None,
        audit: AuditLog | None = None,
        progress_interval: float = 1.0,
        stop: asyncio.Event | None = None,
        roles: RoleCheck | None = None,
        by_search: bool = True,
        search_max_age: float = SEARCH_MAX_AGE,
    ) -> None:
        if lease_seconds <= 0 or recheck_concurrency < 1 or search_max_age < 0:
            raise ValueError(
                "lease_seconds must be > 0, recheck_concurrency >= 1 and search_max_age >= 0"
            )
        self.store = store
        self.client = client
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.recheck_concurrency = recheck_concurrency
        self.on_progress = on_progress
        self.audit = audit
        self.progress_interval = progress_interval
        self.stop = stop
        self.roles = roles
        self.by_search = by_search  # BOT_RECHECK_BY_SEARCH
        self.search_max_age = search_max_age
        self.eligibility = Eligibility(client, recheck_concurrency)

    # -- entry points --------------------------------------------------------------------------

    async def run(self, request_id: str) -> ApprovalRequest | None:
        """Execute (or resume) an executing request and return it done. None when it could not
        be claimed (another owner holds its lease, or it is not executing: finished already,
        never approved), when `stop` made it hand the rest back, or when the roles could not be
        checked. A request refused by the role check is returned refused."""
        if self._stopping() or not await self.store.claim(
            request_id, self.owner, self.lease_seconds
        ):
            return None
        run = _Run(request_id)
        try:
            async with lease_renewed(
                self.store, request_id, self.owner, self.lease_seconds,
                lost=lambda: setattr(run, "lost", True),
            ):  # fmt: skip
                return await self._execute(run)
        finally:
            if not run.posting and not run.lost and not run.hold:
                # Let another replica resume at once; never while a POST may still land.
                with contextlib.suppress(StoreUnavailable):
                    await self.store.release_lease(request_id, self.owner)

    # -- the run -------------------------------------------------------------------------------

    async def _execute(self, run: _Run) -> ApprovalRequest | None:
        made = await self.store.get(run.request_id)
        if made is None or made.state != ApprovalState.EXECUTING:
            return None
        refusal = await self._check_roles(run, made)
        if run.hold:  # the roles could not be checked: nothing runs on a guess
            return None
        if refusal is not None:
            return await self._refuse(run, made, refusal)
        intact = self.store.verified(made)
        if not intact:
            log.error("approval request %s: digest mismatch at execution", made.id)
        await self._audit_start(made, intact)
        run.last_progress = time.monotonic()
        last = made.chunks_total - 1
        for index in range(made.chunks_total):
            if await self.store.chunk(made.id, index) is not None:
                continue  # done before a crash or restart: never sent again
            if self._stopping():
                self._hand_back(run, made, index)
                return None
            ids = made.chunk_ids(index)
            if intact:
                checked = await self._chunk(run, made, index, ids)
                if checked is None:
                    self._hand_back(run, made, index)
                    return None
                result = checked
            else:
                result = ChunkResult(
                    index=index, acted=[], skipped=[], failed=ids, error=TAMPERED_ERROR
                )
            if not await self.store.save_chunk(made.id, result, self.owner):
                run.lost = True
                log.warning("approval request %s: lease lost at chunk %d", made.id, index)
                return None
            run.posting = False
            if not await self.store.renew(made.id, self.owner, self.lease_seconds):
                run.lost = True
                return None
            if index != last and time.monotonic() - run.last_progress >= self.progress_interval:
                await self._progress(run, await self.store.get(made.id))
        done = await self.store.finish(made.id, self.owner)
        if done is None:
            run.lost = True
        return done

    async def _check_roles(self, run: _Run, made: ApprovalRequest) -> str | None:
        if self.roles is None:
            return None
        try:
            return await self.roles(made)
        except GroupLookupError as exc:
            run.hold = True
            log.warning("approval request %s: roles unchecked (%s); retried later", made.id, exc)
            return None

    async def _refuse(
        self, run: _Run, made: ApprovalRequest, refusal: str
    ) -> ApprovalRequest | None:
        """End the run before sending anything more: executing -> refused (the caller audits
        and shows it)."""
        ended = await self.store.refuse_run(made.id, self.owner, refusal)
        if ended is None:
            run.lost = True
            return None
        log.warning("approval request %s: %s", made.id, refusal)
        return ended

    def _stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def _hand_back(self, run: _Run, made: ApprovalRequest, index: int) -> None:
        """Log it; `run`'s lease is released on the way out (nothing is being sent)."""
        assert not run.posting
        log.info(
            "approval request %s: stopping; chunks from %d of %d handed back for another "
            "replica to resume",
            made.id, index + 1, made.chunks_total,
        )  # fmt: skip

    async def _unless_stopped(self, work: Awaitable[T]) -> T | None:
        """`work`'s result, or None when told to stop: nothing new starts after `stop`."""
        return await work if self.stop is None else await unless_stopped(work, self.stop)

    async def _chunk(
        self, run: _Run, made: ApprovalRequest, index: int, ids: list[str]
    ) -> ChunkResult | None:
        """Re-check and act on one chunk; None when told to stop before anything was sent."""
        step = ONE_STEP.get(made.action)
        if step is not None:
            return await step(
                self.client, made, index, ids, self._unless_stopped,
                lambda: setattr(run, "posting", True),
            )  # fmt: skip
        checks = await self._unless_stopped(self._recheck(run, made, index, ids))
        if checks is None:
            return None
        to_act = [i for i in ids if checks[i] == "act"]
        skipped = [i for i in ids if checks[i] in ("skip", "not_found")]
        not_found = [i for i in ids if checks[i] == "not_found"]
        unchecked = [i for i in ids if isinstance(checks[i], Exception)]
        errors = []
        if unchecked:
            first = checks[unchecked[0]]
            errors.append(f"{len(unchecked)} messages could not be re-checked ({first})")
        result = ChunkResult(
            index=index, acted=to_act, skipped=skipped, not_found=not_found, failed=unchecked
        )
        if to_act:
            run.posting = True  # until this chunk's result is stored
            try:
                if made.action == "release":
                    read_released(result, await self.client.release(to_act))
                else:
                    folder: Destination = made.params["folder"]  # type: ignore[assignment]
                    errors += read_moved(result, await self.client.move(to_act, folder))
            except (ApiError, ValueError) as exc:
                log.warning("approval request %s chunk %d failed: %s", made.id, index, exc)
                result.delivered, result.undelivered = [], []
                result.failed = unchecked + to_act
                errors.insert(0, str(exc))
        result.error = "; ".join(errors) or None
        return result

    # -- re-check ------------------------------------------------------------------------------

    async def _recheck(
        self, run: _Run, made: ApprovalRequest, index: int, ids: list[str]
    ) -> dict[str, Check]:
        """Just before acting on chunk `index`: what of `ids` still needs the action? From the
        request's search when it was made from one (asked again when `run` has no answer
        young enough), one GET per id for the rest (eligible.py)."""
        found: dict[str, Check] = {}
        if self.by_search and made.search is not None:
            snapshot = run.snapshot
            if (
                snapshot is None
                or snapshot.error is not None
                or time.monotonic() - snapshot.taken > self.search_max_age
            ):
                later = made.ids[index * made.chunk_size :]  # this chunk's ids and the rest
                snapshot = run.snapshot = await self.eligibility.by_search(made, later)
            found = {i: snapshot.checks[i] for i in ids if i in snapshot.checks}
        rest = [i for i in ids if i not in found]
        if rest:
            found.update(await self.eligibility.one_by_one(made, rest))
        return found

    # -- progress, audit ----------------------------------------------------------------

    async def _progress(self, run: _Run, made: ApprovalRequest | None) -> None:
        run.last_progress = time.monotonic()
        if self.on_progress is None or made is None:
            return
        try:
            await self.on_progress(made)
        except StoreUnavailable:
            raise
        except Exception:  # showing progress must never stop the execution
            log.exception("progress callback failed for approval request %s", made.id)

    async def _audit_start(self, made: ApprovalRequest, intact: bool) -> None:
        if self.audit is None:
            return
        outcome = "resumed" if made.chunks_done else "started"
        await self.audit.record(
            actor="bot",
            action=f"execute {made.action}",
            ids=made.ids,
            outcome=outcome if intact else "tampered",
            request_id=made.id,
            digest=made.digest,
            detail={
                "owner": self.owner,
                "approved_by": sorted(made.approvers),
                "chunks_done": made.chunks_done,
                "chunks_total": made.chunks_total,
            },
        )
