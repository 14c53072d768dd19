"""The filters of each page-paginated list, as the OpenAPI file documents them.

One model per list: a name the endpoint does not take, or a value outside its enumeration, is
refused here (pydantic at the edge), so nothing undocumented reaches the wire. `page` and
`per_page` are the list methods' own arguments. tests/test_operations.py holds each model's
fields against the query parameters of its operation in the OpenAPI file.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from bot.cloudflare.filters import query_value
from bot.cloudflare.settings_models import (
    DeliveryMode,
    DomainStatus,
    ListedPatternType,
    Provenance,
)

SubmissionDisposition = Literal["MALICIOUS", "SUSPICIOUS", "SPOOF", "SPAM", "BULK", "NONE"]
JobStatus = Literal[
    "PENDING", "DISCOVERING", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED", "SKIPPED"
]
MAX_PER_PAGE = 1000


class ListFilters(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def params(self, page: int | None = None, per_page: int | None = None) -> Mapping[str, str]:
        """The query string: one parameter per filter given, a list as a repeated parameter."""
        pairs: list[tuple[str, str | int | float | bool | None]] = []
        for name, value in self.model_dump(exclude_none=True).items():
            values = value if isinstance(value, list) else [value]
            pairs += [(name, query_value(item)) for item in values]
        if page is not None:
            pairs.append(("page", str(_bounded(page, "page", 1, 10**9))))
        if per_page is not None:
            pairs.append(("per_page", str(_bounded(per_page, "per_page", 1, MAX_PER_PAGE))))
        return httpx.QueryParams(pairs)


def _bounded(value: int, name: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}")
    return value


class Sorted(ListFilters):
    search: str | None = None
    direction: Literal["asc", "desc"] | None = None


class SubmissionFilters(ListFilters):
    start: datetime | None = None
    end: datetime | None = None
    type: Literal["TEAM", "USER"] | None = None
    submission_id: str | None = None
    original_disposition: SubmissionDisposition | None = None
    requested_disposition: SubmissionDisposition | None = None
    outcome_disposition: SubmissionDisposition | None = None
    status: str | None = None
    query: str | None = None
    escalated_from_user: bool | None = None


class BlockedSenderFilters(Sorted):
    order: Literal["pattern", "created_at"] | None = None
    pattern_type: ListedPatternType | None = None
    pattern: str | None = None


class AllowPolicyFilters(BlockedSenderFilters):
    is_exempt_recipient: bool | None = None
    is_trusted_sender: bool | None = None
    is_acceptable_sender: bool | None = None
    verify_sender: bool | None = None


class TrustedDomainFilters(Sorted):
    order: Literal["pattern", "created_at"] | None = None
    is_recent: bool | None = None
    is_similarity: bool | None = None
    pattern: str | None = None


class DomainFilters(Sorted):
    order: Literal["domain", "created_at"] | None = None
    allowed_delivery_mode: DeliveryMode | None = None
    active_delivery_mode: DeliveryMode | None = None
    # Any of these domains (sent as a repeated parameter).
    domain: list[str] | None = Field(default=None, min_length=1)
    integration_id: str | None = None
    status: DomainStatus | None = None


class ImpersonationFilters(Sorted):
    order: Literal["name", "email", "created_at"] | None = None
    provenance: Provenance | None = None


class SendingDomainRestrictionFilters(Sorted):
    order: Literal["domain", "created_at"] | None = None


class UrlIgnorePatternFilters(ListFilters):
    """The list takes no filters, only paging."""


class BulkJobFilters(ListFilters):
    action_type: Literal["MOVE", "RELEASE"] | None = None
    status: JobStatus | None = None


class BulkJobMessageFilters(ListFilters):
    status: JobStatus | None = None


def filters_of(model: type[ListFilters], given: Mapping[str, Any], endpoint: str) -> ListFilters:
    """`given` checked against `model`, with an error that names what the endpoint takes."""
    unknown = sorted(set(given) - set(model.model_fields))
    if unknown:
        takes = ", ".join(sorted(model.model_fields)) or "no filters"
        raise ValueError(f"{endpoint} does not take {', '.join(unknown)}; it takes {takes}")
    return model.model_validate(dict(given))
