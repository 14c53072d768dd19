"""PhishGuard reports (issue 16, item 4): Cloudflare's analysts' reports on the account's mail,
newest first, a page at a time, for `/email phishguard [since:7d]` (the alerts post new ones as
they come). The API lists a window's reports whole; a page is a slice of them, newest first.

A page's More carries the window as first asked (its end, to the second, and its length), so a
report made since does not shift the pages: each page reads the same window again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.models import PhishGuardReport
from bot.commands import role_for
from bot.errors import InvalidInput
from bot.report_commands import MAX_SINCE
from bot.services.paging import DIGITS, MAX_PAGE
from bot.services.policy import Policy

REPORTS_SHOWN = 8  # report cards a page holds (5 blocks each with a divider: Slack allows 50)
SKEW = timedelta(minutes=10)  # a window's end this far past our clock is not one we gave


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Reports:
    """One page of the window's reports (at most REPORTS_SHOWN), newest first: `total` in the
    window, `shown_before` on earlier pages, `more` the next page's key (None on the last)."""

    reports: list[PhishGuardReport]
    total: int
    since: timedelta
    shown_before: int = 0
    more: str | None = None


def page_key(page: int, end: datetime, since: timedelta) -> str:
    """A More button's value: the page, the window's end (Unix seconds) and its length."""
    return f"{page}:{int(end.timestamp())}:{int(since.total_seconds())}"


def _read_key(key: str, now: datetime) -> tuple[int, datetime, timedelta]:
    parts = key.split(":")
    if (
        len(parts) != 3
        or not all(DIGITS.fullmatch(p) for p in parts)
        or not 1 <= int(parts[0]) <= MAX_PAGE
        or not 0 < int(parts[2]) <= MAX_SINCE.total_seconds()
        or int(parts[1]) > (now + SKEW).timestamp()
    ):
        raise InvalidInput(
            "That page of PhishGuard reports cannot be shown; run `phishguard` again."
        )
    end = datetime.fromtimestamp(int(parts[1]), UTC)
    return int(parts[0]), end, timedelta(seconds=int(parts[2]))


class PhishGuardService:
    def __init__(
        self, *, email: EmailSecurityClient, policy: Policy, clock: Callable[[], datetime] = now_utc
    ) -> None:
        self.email = email
        self.policy = policy
        self.clock = clock

    async def reports(self, actor: str, since: timedelta) -> Reports:
        """The first page of the reports of the last `since`."""
        await self.policy.require(actor, role_for("phishguard"), "see the PhishGuard reports")
        # To the second, as the API reads it and as the page key carries it: every page of
        # this answer then reads the very same window.
        end = self.clock().replace(microsecond=0)
        return await self._page(1, end, since)

    async def more(self, actor: str, key: str) -> Reports:
        """A later page, from a More button's value (`page_key`)."""
        await self.policy.require(actor, role_for("phishguard"), "see the PhishGuard reports")
        return await self._page(*_read_key(key, self.clock()))

    async def _page(self, number: int, end: datetime, since: timedelta) -> Reports:
        found = await self.email.list_phishguard_reports(end - since, end)
        newest = sorted(found, key=lambda r: (r.created_at or end, r.id), reverse=True)
        first = (number - 1) * REPORTS_SHOWN
        shown = newest[first : first + REPORTS_SHOWN]
        more = number < MAX_PAGE and first + len(shown) < len(newest)
        return Reports(
            shown, len(found), since, shown_before=first,
            more=page_key(number + 1, end, since) if more else None,
        )  # fmt: skip
