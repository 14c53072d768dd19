"""PhishGuard reports (issue 16, item 4): Cloudflare's analysts' reports on the account's mail,
newest first, for `/email phishguard [since:7d]` (the alerts post new ones as they come)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.models import PhishGuardReport
from bot.commands import role_for
from bot.services.policy import Policy

REPORTS_SHOWN = 8  # report cards one answer holds (5 blocks each with a divider: Slack allows 50)


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Reports:
    """The newest `reports` of the window (at most REPORTS_SHOWN) and how many there were."""

    reports: list[PhishGuardReport]
    total: int
    since: timedelta


class PhishGuardService:
    def __init__(
        self, *, email: EmailSecurityClient, policy: Policy, clock: Callable[[], datetime] = now_utc
    ) -> None:
        self.email = email
        self.policy = policy
        self.clock = clock

    async def reports(self, actor: str, since: timedelta) -> Reports:
        await self.policy.require(actor, role_for("phishguard"), "see the PhishGuard reports")
        end = self.clock()
        found = await self.email.list_phishguard_reports(end - since, end)
        newest = sorted(found, key=lambda r: (r.created_at or end, r.id), reverse=True)
        return Reports(newest[:REPORTS_SHOWN], len(found), since)
