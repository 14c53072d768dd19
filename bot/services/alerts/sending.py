"""One Slack call of the drain at a time, and what a crash in the middle of one leaves behind.

`Guard` is what the poller's cycle and the drain share: whether the cycle must stop before its
next Slack call, and whether a call was cut off mid-way. `Sending.post` marks a post in flight
(`alerts:inflight:<channel>`, with what is needed to commit it) before making it; the script
that commits the post removes the mark. A mark found later means the poller died (or lost
Slack's answer) between Slack taking the post and Redis recording it: the drain then looks for
the post in the channel (by the alert id in its metadata) before posting anything again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.services.alerts.models import AlertNotPosted, AlertRejected, Halt, InFlight
from bot.services.alerts.scripts import AlertScripts
from bot.store import StoreUnavailable

T = TypeVar("T")


class SenderError(Exception):
    """A sender call failed (Slack down, rate limited past the sender's patience, ...).
    `maybe_posted`: Slack may have taken it all the same (no answer came back)."""

    def __init__(self, message: str, *, maybe_posted: bool = True) -> None:
        super().__init__(message)
        self.maybe_posted = maybe_posted


class OutOfTime(Exception):  # noqa: N818 - internal control flow
    """This drain's time is up: what is left waits in the outbox for the next one (after the
    next search, which may bring something more urgent)."""


class Guard:
    """The state a cycle's sender calls obey: no call starts once the lock is known to be lost,
    the poller is stopping or the drain's time is up; a call cancelled mid-way is remembered (it
    may still land in Slack, so the lock must lapse rather than be released)."""

    def __init__(self) -> None:
        self.lost = False  # the lock was found held by another owner during this cycle
        self.stopping: asyncio.Event | None = None
        self.interrupted = False  # a sender call was cancelled: it may still land in Slack
        self.deadline: float | None = None  # loop time after which no post starts

    def lock_lost(self) -> None:
        self.lost = True

    def ready(self, *, timed: bool = True) -> None:
        """Raise Halt (or OutOfTime, for a `timed` call) when no call may start now."""
        if self.lost:
            raise Halt("lost the alerts lock to another replica, which carries on")
        if self.stopping is not None and self.stopping.is_set():
            raise Halt("stopping: what is still queued is posted by the next poller")
        late = self.deadline is not None and asyncio.get_running_loop().time() >= self.deadline
        if timed and late:
            raise OutOfTime

    async def send(self, what: str, call: Callable[[], Awaitable[T]], *, timed: bool = True) -> T:
        """One sender call, unless the cycle must stop first; failures other than
        AlertRejected, StoreUnavailable and Halt become SenderError."""
        self.ready(timed=timed)
        try:
            return await call()
        except (AlertRejected, StoreUnavailable, Halt):
            raise
        except AlertNotPosted as exc:
            raise SenderError(f"{what}: {exc}", maybe_posted=False) from exc
        except Exception as exc:
            raise SenderError(f"{what}: {type(exc).__name__}: {exc}") from exc
        except BaseException:  # cancelled mid-call: Slack may still have taken the post
            self.interrupted = True
            raise


class Sending:
    """Posts that leave a mark while under way (see the module docstring)."""

    def __init__(self, scripts: AlertScripts, guard: Guard) -> None:
        self.scripts = scripts
        self.guard = guard

    async def post(self, channel: str, mark: InFlight, call: Callable[[], Awaitable[T]]) -> T:
        """Make one post of `channel` (described by `mark`); the caller commits it with
        `flight=mark.key`, which removes the mark. A post Slack certainly did not take removes
        the mark at once."""
        self.guard.ready()
        await self.scripts.in_flight(channel, mark)
        try:
            return await self.guard.send(mark.kind, call)
        except AlertRejected:
            await self.scripts.clear_in_flight(channel, mark.key)
            raise
        except SenderError as exc:
            if not exc.maybe_posted:
                await self.scripts.clear_in_flight(channel, mark.key)
            raise
        except OutOfTime:
            await self.scripts.clear_in_flight(channel, mark.key)  # never started
            raise
