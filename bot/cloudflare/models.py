"""Pydantic models of what the Email Security API returns.

Response models accept unknown fields (the API grows) and keep only what the bot uses. Fields past
end of life (CONTRACT.md §4: `action_log` and `findings` on a message, `ts`, `postfix_id` on
release results, `completed_timestamp`, `item_count`, `last_modified`, ...) are deliberately absent,
so no code can come to depend on them. Enumerations that Cloudflare extends over time (dispositions,
statuses) are plain strings here; inputs are checked against the spec where they are built.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.cloudflare.dispositions import BY_SEVERITY, RECLASSIFIABLE, Disposition

Destination = Literal[
    "Inbox", "JunkEmail", "DeletedItems", "RecoverableItemsDeletions", "RecoverableItemsPurges"
]
DESTINATIONS: tuple[Destination, ...] = (
    "Inbox",
    "JunkEmail",
    "DeletedItems",
    "RecoverableItemsDeletions",
    "RecoverableItemsPurges",
)
ReclassifyDisposition = Literal["NONE", "BULK", "MALICIOUS", "SPAM", "SPOOF", "SUSPICIOUS"]
RECLASSIFY_DISPOSITIONS: tuple[ReclassifyDisposition, ...] = tuple(
    d.value  # type: ignore[misc]  # RECLASSIFIABLE holds exactly the Literal's values
    for d in RECLASSIFIABLE
)
# UNKNOWN is read-only in the API: it may be listed, never created.
PatternType = Literal["EMAIL", "DOMAIN", "IP"]


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Validation(ApiModel):
    spf: str | None = None
    dkim: str | None = None
    dmarc: str | None = None
    comment: str | None = None


class MessageProperties(ApiModel):
    allowlisted_pattern: str | None = None
    allowlisted_pattern_type: str | None = None
    blocklisted_message: bool | None = None
    blocklisted_pattern: str | None = None


class MessageMatch(ApiModel):
    """One message as bulk work reads a search result: "Release/Move all matching" (the
    approver's card) and the executor's re-check (still quarantined? ever moved?). A search
    page of 1,000 is parsed into these rather than into `MessageDetails`: about 1.5 MB instead
    of 5 (EmailSecurityClient.search_matches)."""

    id: str
    subject: str | None = None
    from_: str | None = Field(default=None, alias="from")
    envelope_from: str | None = None
    to: list[str] | None = None
    envelope_to: list[str] | None = None
    client_recipients: list[str] = []
    final_disposition: str | None = None
    is_quarantined: bool = False
    post_delivery_operations: list[str] | None = None

    @property
    def sender(self) -> str | None:
        """The address shown as the sender: the header From, else the envelope sender."""
        return self.from_ or self.envelope_from

    @property
    def recipients(self) -> list[str]:
        """This copy's recipients: the mailboxes it was delivered to (client recipients),
        else the envelope, else the header To."""
        return list(self.client_recipients or self.envelope_to or self.to or [])


class MessageDetails(MessageMatch):
    """One message as search and GET /investigate/{id} return it."""

    postfix_id: str
    from_name: str | None = None
    to_name: list[str] | None = None
    replyto: str | None = None
    message_id: str | None = None
    alert_id: str | None = None
    sent_at: datetime | None = None
    scanned_at: datetime | None = None
    is_phish_submission: bool = False
    delivery_mode: str | None = None
    delivery_status: list[str] | None = None
    detection_reasons: list[str] = []
    threat_categories: list[str] | None = None
    validation: Validation | None = None
    properties: MessageProperties = MessageProperties()
    edf_hash: str | None = None
    smtp_helo_server_ip: str | None = None
    smtp_previous_hop_ip: str | None = None
    x_originating_ip: str | None = None

    @property
    def disposition(self) -> Disposition | None:
        """The final disposition as a known verdict (None when absent or new to the bot)."""
        value = (self.final_disposition or "").upper()
        return next((d for d in BY_SEVERITY if d.value == value), None)


class Finding(ApiModel):
    name: str | None = None
    detection: str | None = None
    reason: str | None = None
    detail: str | None = None
    field: str | None = None
    portion: str | None = None
    attachment: str | None = None
    value: str | None = None
    score: float | None = None


class Link(ApiModel):
    href: str
    text: str | None = None


class Attachment(ApiModel):
    size: int
    filename: str | None = None
    name: str | None = None
    content_type: str | None = None
    detection: str | None = None
    encrypted: bool | None = None
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None


class Header(ApiModel):
    name: str
    value: str


class ThreatCategory(ApiModel):
    id: int | None = None
    name: str | None = None
    description: str | None = None


class SenderInfo(ApiModel):
    as_name: str | None = None
    as_number: int | None = None
    geo: str | None = None
    ip: str | None = None
    pld: str | None = None


class Detections(ApiModel):
    """GET /investigate/{id}/detections: the evidence behind a verdict."""

    action: str
    final_disposition: str | None = None
    validation: Validation
    findings: list[Finding] | None = None
    links: list[Link] = []
    attachments: list[Attachment] = []
    headers: list[Header] = []
    threat_categories: list[ThreatCategory] = []
    sender_info: SenderInfo = SenderInfo()


class TraceLine(ApiModel):
    lineno: int | None = None
    message: str = ""
    logged_at: datetime | None = None


class TraceSection(ApiModel):
    lines: list[TraceLine] | None = None
    pending: bool | None = None


class Trace(ApiModel):
    inbound: TraceSection
    outbound: TraceSection


class ActionEntryProperties(ApiModel):
    folder: str | None = None
    requested_by: str | None = None


class ActionEntry(ApiModel):
    operation: str
    status: str | None = None
    success: bool | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    properties: ActionEntryProperties | None = None


class MoveResult(ApiModel):
    """One item of a move response (one per recipient mailbox)."""

    success: bool
    status: str | None = None
    destination: str | None = None
    recipient: str | None = None
    message_id: str | None = None
    operation: str | None = None
    completed_at: datetime | None = None


class ReleaseResult(ApiModel):
    """Per-message outcome of a release: recipients delivered, failed and undelivered."""

    id: str
    delivered: list[str] = []
    failed: list[str] = []
    undelivered: list[str] = []
    # True when the API's answer did not mention this id at all.
    missing: bool = False

    @property
    def outcome(self) -> Literal["delivered", "partial", "failed", "undelivered", "unknown"]:
        if self.missing or not (self.delivered or self.failed or self.undelivered):
            return "unknown"
        if self.delivered:
            return "partial" if (self.failed or self.undelivered) else "delivered"
        return "failed" if self.failed else "undelivered"


class Submission(ApiModel):
    submission_id: str
    requested_at: datetime
    requested_by: str | None = None
    type: str | None = None
    status: str | None = None
    subject: str | None = None
    original_disposition: str | None = None
    requested_disposition: str | None = None
    outcome_disposition: str | None = None
    outcome: str | None = None
    original_postfix_id: str | None = None
    escalated_submission_id: str | None = None


class PhishGuardFields(ApiModel):
    to: list[str] = []
    from_: str | None = Field(default=None, alias="from")
    postfix_id: str | None = None
    occurred_at: datetime | None = None


class PhishGuardTag(ApiModel):
    category: str
    value: str


class PhishGuardReport(ApiModel):
    id: int
    title: str
    content: str
    priority: str
    disposition: str
    fields: PhishGuardFields
    tags: list[PhishGuardTag] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
