"""Query parameters the client may send, checked before anything goes on the wire.

Search filters follow `GET /investigate` in email-security-openapi.json, plus `exact_subject` and
`submissions`, which the HTTP reference (docs/001) documents and the spec extract lacks. `page` is
past end of life (CONTRACT.md §3) and is refused here, so it can never be sent. The filters of
the page-paginated lists are in queries.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.cloudflare.settings_models import DispositionLabel

SearchDisposition = Literal["MALICIOUS", "SUSPICIOUS", "SPOOF", "SPAM", "BULK", "NONE"]
MessageAction = Literal["PREVIEW", "QUARANTINE_RELEASED", "MOVED"]
DeliveryStatus = Literal[
    "delivered", "moved", "quarantined", "rejected", "deferred", "bounced", "queued", "move_failed"
]


class SearchFilterArgs(TypedDict, total=False):
    """Keyword arguments of `EmailSecurityClient.search` (all optional)."""

    start: datetime | str
    end: datetime | str
    query: str
    detections_only: bool
    final_disposition: SearchDisposition
    metric: str
    message_action: MessageAction
    recipient: str
    sender: str
    alert_id: str
    domain: str
    message_id: str
    subject: str
    exact_subject: str
    submissions: bool
    delivery_status: DeliveryStatus
    per_page: int


def rfc3339(value: datetime) -> str:
    """UTC, second precision, `Z` suffix: the form the API documents."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def query_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return rfc3339(value)
    return str(value)


class SearchFields(BaseModel):
    """The search's filters, shared by `GET /investigate` (`SearchFilters`) and a bulk job's
    `search_params` (`bulkjobs.BulkSearch`); unknown names (including the EOL `page`) are errors.
    `final_disposition` takes the full label set here; the search narrows it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: datetime | None = None
    end: datetime | None = None
    query: str | None = None
    detections_only: bool | None = None
    final_disposition: DispositionLabel | None = None
    metric: str | None = None
    message_action: MessageAction | None = None
    recipient: str | None = None
    sender: str | None = None
    alert_id: str | None = None
    domain: str | None = None
    message_id: str | None = None
    subject: str | None = None
    exact_subject: str | None = None
    submissions: bool | None = None
    delivery_status: DeliveryStatus | None = None


class SearchFilters(SearchFields):
    """Validated search filters (`GET /investigate`), with its page size."""

    final_disposition: SearchDisposition | None = None
    per_page: int | None = Field(default=None, ge=1, le=1000)

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    def params(self) -> dict[str, str]:
        return {k: query_value(v) for k, v in self.model_dump(exclude_none=True).items()}
