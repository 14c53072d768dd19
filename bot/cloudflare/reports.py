"""What people and analysts reported: reclassification submissions and PhishGuard reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import TypeAdapter

from bot.cloudflare.core import ClientCore, ListPage, endpoint
from bot.cloudflare.filters import rfc3339
from bot.cloudflare.models import PhishGuardReport, Submission
from bot.cloudflare.queries import SubmissionFilters, filters_of


class ReportsApi(ClientCore):
    @endpoint("GET", "submissions")
    async def list_submissions(self, **filters: Any) -> list[Submission]:
        """Every submission matching `filters` (all pages, bounded); just that page when `page`
        is given (with `per_page`)."""
        page = filters.pop("page", None)
        per_page = filters.pop("per_page", None)
        checked = filters_of(SubmissionFilters, filters, "submissions")
        if page is not None:
            return (await self._one_page(_SUBMISSIONS, "submissions", checked.params(
                int(page), int(per_page or 20)
            ))).items  # fmt: skip
        params = checked.params(per_page=int(per_page)) if per_page else checked.params()
        return await self._all_pages(_SUBMISSIONS, "submissions", params)

    @endpoint("GET", "submissions")
    async def submissions_page(
        self, page: int = 1, per_page: int = 20, **filters: Any
    ) -> ListPage[Submission]:
        """One page of submissions, with the reported total."""
        params = filters_of(SubmissionFilters, filters, "submissions").params(page, per_page)
        return await self._one_page(_SUBMISSIONS, "submissions", params)

    @endpoint("GET", "phishguard/reports")
    async def list_phishguard_reports(
        self, start: datetime, end: datetime
    ) -> list[PhishGuardReport]:
        # start/end only: from_date/to_date are past their 2026-11-01 sunset.
        params = {"start": rfc3339(start), "end": rfc3339(end)}
        result: list[PhishGuardReport] = await self._result(
            _REPORTS, "GET", "phishguard", "reports", params=params
        )
        return result


_SUBMISSIONS = TypeAdapter(list[Submission])
_REPORTS = TypeAdapter(list[PhishGuardReport])
