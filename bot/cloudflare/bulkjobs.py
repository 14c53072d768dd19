"""Bulk jobs (`/investigate/bulk`, beta): move or release every message a search finds, run by
Cloudflare in the background, and followed by job and by message.

The job's search takes the search filters (datetimes as RFC 3339); the end-of-life
`action_log` is not among them, and `expected_disposition` ("nonfunctional", EOL 2026-12-01) is
never sent.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, TypeAdapter, field_serializer

from bot.cloudflare.core import ClientCore, Endpoint, ListPage, check_id, endpoint, marked
from bot.cloudflare.filters import SearchFields, rfc3339
from bot.cloudflare.models import DESTINATIONS, ApiModel, Destination
from bot.cloudflare.queries import BulkJobFilters, BulkJobMessageFilters, filters_of
from bot.cloudflare.settings_models import Deleted

BulkAction = Literal["MOVE", "RELEASE"]


class BulkSearch(SearchFields):
    """Which messages a bulk job acts on (the search filters, without paging)."""

    @field_serializer("start", "end")
    def _when(self, value: datetime | None) -> str | None:
        return rfc3339(value) if value is not None else None


class BulkJob(ApiModel):
    job_id: str
    action_type: str
    status: str
    action_params: dict[str, Any] = Field(default_factory=dict)
    search_params: dict[str, Any] = Field(default_factory=dict)
    comment: str | None = None
    status_message: str | None = None
    total_messages_discovered: int = 0
    messages_pending: int = 0
    messages_successful: int = 0
    messages_failed: int = 0
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None


class BulkJobMessage(ApiModel):
    """One message (one recipient's copy) of a bulk job, and what became of it."""

    message_id: str
    postfix_id: str
    action_type: str
    status: str
    action_params: dict[str, Any] = Field(default_factory=dict)
    retry_count: int = 0
    status_message: str | None = None
    alert_id: str | None = None
    created_at: datetime | None = None
    processed_at: datetime | None = None


class BulkJobs:
    """`client.bulk_jobs`: create, list, get, cancel, delete, and a job's messages."""

    def __init__(self, core: ClientCore) -> None:
        self._core = core

    def endpoints(self, name: str) -> dict[str, tuple[Endpoint, ...]]:
        return marked(self, f"{name}.")

    @endpoint("POST", "investigate/bulk")
    async def create(
        self,
        action: BulkAction,
        search: BulkSearch,
        *,
        destination: Destination | None = None,
        comment: str | None = None,
    ) -> BulkJob:
        """Start a job that moves (to `destination`) or releases what `search` finds."""
        if action == "MOVE" and destination not in DESTINATIONS:
            raise ValueError(f"a bulk move needs a destination: one of {', '.join(DESTINATIONS)}")
        if action == "RELEASE" and destination is not None:
            raise ValueError("a bulk release takes no destination")
        body: dict[str, Any] = {
            "action": action,
            "search_params": search.model_dump(mode="json", exclude_none=True),
        }
        if destination is not None:
            body["destination"] = destination
        if comment:
            body["comment"] = comment
        job: BulkJob = await self._core._result(BulkJob, "POST", "investigate", "bulk", json=body)
        return job

    @endpoint("GET", "investigate/bulk")
    async def list(self, **filters: Any) -> builtins.list[BulkJob]:
        params = filters_of(BulkJobFilters, filters, "investigate/bulk").params()
        return await self._core._all_pages(_JOBS, "investigate/bulk", params)

    @endpoint("GET", "investigate/bulk")
    async def page(self, page: int = 1, per_page: int = 20, **filters: Any) -> ListPage[BulkJob]:
        params = filters_of(BulkJobFilters, filters, "investigate/bulk").params(page, per_page)
        return await self._core._one_page(_JOBS, "investigate/bulk", params)

    @endpoint("GET", "investigate/bulk/{job_id}")
    async def get(self, job_id: str) -> BulkJob:
        job: BulkJob = await self._core._result(
            BulkJob, "GET", "investigate", "bulk", check_id(job_id)
        )
        return job

    @endpoint("POST", "investigate/bulk/{job_id}/cancel")
    async def cancel(self, job_id: str) -> BulkJob:
        """Stop a job that has not finished; messages not yet acted on are left alone."""
        job: BulkJob = await self._core._result(
            BulkJob, "POST", "investigate", "bulk", check_id(job_id), "cancel"
        )
        return job

    @endpoint("DELETE", "investigate/bulk/{job_id}")
    async def delete(self, job_id: str) -> str:
        deleted: Deleted = await self._core._result(
            Deleted, "DELETE", "investigate", "bulk", check_id(job_id)
        )
        return deleted.id

    @endpoint("GET", "investigate/bulk/{job_id}/messages")
    async def messages(self, job_id: str, **filters: Any) -> builtins.list[BulkJobMessage]:
        endpoint_path = f"investigate/bulk/{check_id(job_id)}/messages"
        params = filters_of(BulkJobMessageFilters, filters, "investigate/bulk/{id}/messages")
        return await self._core._all_pages(_JOB_MESSAGES, endpoint_path, params.params())

    @endpoint("GET", "investigate/bulk/{job_id}/messages")
    async def messages_page(
        self, job_id: str, page: int = 1, per_page: int = 20, **filters: Any
    ) -> ListPage[BulkJobMessage]:
        """One page of a job's messages: a few of its failures, in one call however many."""
        endpoint_path = f"investigate/bulk/{check_id(job_id)}/messages"
        params = filters_of(BulkJobMessageFilters, filters, "investigate/bulk/{id}/messages")
        return await self._core._one_page(
            _JOB_MESSAGES, endpoint_path, params.params(page, per_page)
        )


_JOBS = TypeAdapter(builtins.list[BulkJob])
_JOB_MESSAGES = TypeAdapter(builtins.list[BulkJobMessage])
