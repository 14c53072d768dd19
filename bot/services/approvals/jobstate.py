"""A request approved as a *query*, and the server-side bulk job that runs it, as plain data.

A "Release/Move all matching" whose search has more matches than BOT_BULK_SEARCH_LIMIT (or
any, with BOT_BULK_ALL_AS_QUERY) is approved as its frozen search (filters, a fixed window)
with a ceiling, kept in `params["ceiling"]` so the request's digest covers it: the matches
counted when it was asked, when the search ended within BOT_BULK_SEARCH_LIMIT; else
BOT_BULK_JOB_CEILING, since Cloudflare gives no total and the bot reads no further
(`params["ceiling_from"]` says which, for the wording). Its ids (the first
BOT_BULK_SEARCH_LIMIT matches) are what the request falls back to when the API refuses bulk
jobs.

Kept apart from the runner (bulkjob.py) so that renderers (blocks/) can draw a job without
importing redis or the API client: this module imports pydantic and models.py only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from bot.services.approvals.models import ApprovalRequest, ExecutionReport

CEILING = "ceiling"  # the params key of a query request's ceiling
CEILING_FROM = "ceiling_from"  # the params key saying where it came from: COUNTED or SETTING
COUNTED, SETTING = "count", "setting"
JOB_CEILING = "BOT_BULK_JOB_CEILING"  # the setting an uncounted ceiling is
FINISHED = frozenset({"COMPLETED", "FAILED", "CANCELLED", "SKIPPED"})

# creating: the POST may be out (a restart looks the job up by its comment before creating);
# running: the job exists; refused: the API refused bulk jobs, the request runs as chunks;
# finished: the job ended and its outcome is stored.
Phase = Literal["creating", "running", "refused", "finished"]


def ceiling_of(request: ApprovalRequest) -> int | None:
    """The ceiling of a request approved as a query; None for any other request."""
    value = request.params.get(CEILING)
    return int(value) if value and value.isdigit() else None


def ceiling_is_setting(request: ApprovalRequest) -> bool:
    """True when the ceiling is BOT_BULK_JOB_CEILING (the search had more matches than the bot
    reads); False when it is the matches counted (and for requests made before the key)."""
    return request.params.get(CEILING_FROM) == SETTING


def uncounted(matches: int, ceiling: int, action: str) -> str:
    """What a query with BOT_BULK_JOB_CEILING as its ceiling is, in the rule and on the card:
    that nobody counted its matches, and what bounds the job instead."""
    every = "every match still quarantined" if action == "release" else "every match"
    return (
        f"More than {matches:,} messages match (Cloudflare gives no total, so the bot counted "
        f"no further). The bulk job acts on {every}, at most {ceiling:,} ({JOB_CEILING}); it "
        "is cancelled if it finds more"
    )


def is_query(request: ApprovalRequest) -> bool:
    return request.search is not None and ceiling_of(request) is not None


class JobFailure(BaseModel):
    """One message the job could not act on."""

    postfix_id: str
    reason: str | None = None


class JobState(BaseModel):
    """Where a query request's job is, as the runner last saw it (one Redis value)."""

    phase: Phase
    ceiling: int
    job_id: str | None = None
    status: str | None = None  # the job's own (PENDING, DISCOVERING, PROCESSING, COMPLETED...)
    discovered: int = 0
    pending: int = 0
    successful: int = 0
    failed: int = 0
    failures: list[JobFailure] = []  # the first FAILURES_KEPT of them
    refusal: str | None = None  # the API's answer when it refused bulk jobs
    over_ceiling: bool = False  # cancelled by the bot: discovery passed the ceiling
    cancelled_by: str | None = None  # who pressed Cancel
    error: str | None = None  # the last error following the job (it is retried)
    updated_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.phase == "finished" or (self.status or "") in FINISHED


class JobReport(ExecutionReport):
    """The totals a query request's card and thread show: its job's, not chunks'."""

    job: JobState

    @classmethod
    def of(cls, state: JobState) -> JobReport:
        failed = [f.postfix_id for f in state.failures]
        return cls(
            acted=state.successful + state.failed, succeeded=state.successful, skipped=0,
            not_found=0, delivered=state.successful, failed=failed, undelivered=[],
            errors=[state.error] if state.error else [], chunks=0, job=state,
        )  # fmt: skip

    @classmethod
    def beside(cls, state: JobState, totals: ExecutionReport | None) -> JobReport:
        """A refused job's note beside the chunks its request fell back to."""
        if totals is None:
            return cls.of(state).model_copy(update={"acted": 0, "succeeded": 0, "delivered": 0})
        return cls(**totals.model_dump(), job=state)
