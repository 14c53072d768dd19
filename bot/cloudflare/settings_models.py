"""Models of the settings collections: what the API returns (read models, unknown fields
ignored) and what the client sends (input models, unknown fields refused).

Input models hold only current fields: `is_recipient`, `is_sender`, `is_spoof` (allow policies,
EOL 2026-07-01) and `external_directory_node_id` (impersonation registry) are past end of life
and cannot be set, so they can never be sent. Read models leave out `last_modified` (use
`modified_at`). `Changes` models are partial: only the fields given are sent (PATCH).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from bot.cloudflare.models import ApiModel, PatternType

ListedPatternType = Literal["EMAIL", "DOMAIN", "IP", "UNKNOWN"]
DeliveryMode = Literal["DIRECT", "BCC", "JOURNAL", "API", "RETRO_SCAN"]
Region = Literal["GLOBAL", "AU", "DE", "IN", "US"]
DomainStatus = Literal["PENDING", "ACTIVE", "FAILED", "TIMEOUT"]
ScannableFolder = Literal["AllItems", "Inbox"]
Provenance = Literal[
    "A1S_INTERNAL", "SNOOPY-CASB_OFFICE_365", "SNOOPY-OFFICE_365", "SNOOPY-GOOGLE_DIRECTORY"
]
DispositionLabel = Literal[
    "MALICIOUS", "MALICIOUS-BEC", "SUSPICIOUS", "SPOOF", "SPAM", "BULK", "ENCRYPTED", "EXTERNAL",
    "UNKNOWN", "NONE",
]  # fmt: skip
Pattern = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1024)]
Comments = Annotated[str, StringConstraints(max_length=1024)]


DIRECTORIES = {
    "SNOOPY-CASB_OFFICE_365": "Microsoft 365",
    "SNOOPY-OFFICE_365": "Microsoft 365",
    "SNOOPY-GOOGLE_DIRECTORY": "Google Workspace",
}  # the provenances of synced impersonation registry entries, as people name them


class InputModel(BaseModel):
    """What the client sends: checked before it goes on the wire."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# -- read models ----------------------------------------------------------------------------


class Entry(ApiModel):
    id: str
    comments: str | None = None
    created_at: datetime | None = None
    modified_at: datetime | None = None


class BlockedSender(Entry):
    pattern: str
    pattern_type: str
    is_regex: bool = False


class AllowPolicy(Entry):
    pattern: str
    pattern_type: str
    is_regex: bool = False
    is_exempt_recipient: bool = False
    is_trusted_sender: bool = False
    is_acceptable_sender: bool = False
    verify_sender: bool = False


class TrustedDomain(Entry):
    pattern: str
    is_recent: bool = False
    is_similarity: bool = False
    is_regex: bool = False


class ImpersonationEntry(Entry):
    """A protected identity: a name (an executive's) and the address, or a regex of them."""

    name: str
    email: str
    is_email_regex: bool = False
    directory_id: int | None = None
    directory_node_id: int | None = None
    provenance: str | None = None  # A1S_INTERNAL (added by hand) or a directory sync

    @property
    def synced_from(self) -> str | None:
        """The directory this entry is synced from (None: added by hand); the directory owns
        a synced entry, so it is changed there, not through the API."""
        if self.provenance in (None, "A1S_INTERNAL"):
            return None
        return DIRECTORIES.get(self.provenance, "the company directory")


class SendingDomainRestriction(Entry):
    domain: str
    exclude: list[str] = Field(default_factory=list)


class UrlIgnorePattern(Entry):
    pattern: str


class DomainAuthorization(ApiModel):
    authorized: bool
    status_message: str | None = None
    timestamp: datetime | None = None


class EmailsProcessed(ApiModel):
    """A protected domain's recent traffic: when it was counted and how many messages."""

    timestamp: datetime | None = None
    total_emails_processed: int | None = None


class ProtectedDomain(ApiModel):
    """A domain Email Security protects for this account: the tenant's own mail domain."""

    id: str
    domain: str
    status: str | None = None  # PENDING, ACTIVE, FAILED, TIMEOUT (a string: the list grows)
    allowed_delivery_modes: list[str] = Field(default_factory=list)
    drop_dispositions: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    ip_restrictions: list[str] = Field(default_factory=list)
    folder: str | None = None
    inbox_provider: str | None = None
    integration_id: str | None = None
    lookback_hops: int | None = None
    require_tls_inbound: bool | None = None
    require_tls_outbound: bool | None = None
    transport: str | None = None
    dmarc_status: str | None = None
    spf_status: str | None = None
    authorization: DomainAuthorization | None = None
    emails_processed: EmailsProcessed | None = None
    created_at: datetime | None = None
    modified_at: datetime | None = None


class DomainVerification(ApiModel):
    """The DNS TXT record that proves a domain added through the API is the tenant's."""

    status: str
    txt_record_name: str
    txt_record_value: str
    last_checked_at: datetime | None = None


class Deleted(ApiModel):
    id: str


Item = TypeVar("Item", bound=ApiModel)


class BatchResult(BaseModel, Generic[Item]):
    """What a batch did, per kind of operation, in the order sent."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    deletes: list[Deleted] = []
    patches: list[Item] = []
    puts: list[Item] = []
    posts: list[Item] = []


# -- input models ---------------------------------------------------------------------------


class NewBlockedSender(InputModel):
    pattern: Pattern
    pattern_type: PatternType
    is_regex: bool = False
    comments: Comments | None = None


class BlockedSenderChanges(InputModel):
    pattern: Pattern | None = None
    pattern_type: PatternType | None = None
    is_regex: bool | None = None
    comments: Comments | None = None


class NewAllowPolicy(InputModel):
    pattern: Pattern
    pattern_type: PatternType
    is_exempt_recipient: bool = False
    is_trusted_sender: bool = False
    is_acceptable_sender: bool = False
    verify_sender: bool = True
    is_regex: bool = False
    comments: Comments | None = None


class AllowPolicyChanges(InputModel):
    pattern: Pattern | None = None
    pattern_type: PatternType | None = None
    is_exempt_recipient: bool | None = None
    is_trusted_sender: bool | None = None
    is_acceptable_sender: bool | None = None
    verify_sender: bool | None = None
    is_regex: bool | None = None
    comments: Comments | None = None


class NewTrustedDomain(InputModel):
    pattern: Pattern
    is_recent: bool = True
    is_similarity: bool = True
    is_regex: bool = False
    comments: Comments | None = None


class TrustedDomainChanges(InputModel):
    pattern: Pattern | None = None
    is_recent: bool | None = None
    is_similarity: bool | None = None
    is_regex: bool | None = None
    comments: Comments | None = None


class NewImpersonationEntry(InputModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1024)]
    email: Pattern
    is_email_regex: bool = False
    comments: str | None = None


class ImpersonationChanges(InputModel):
    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1024)]
        | None
    ) = None
    email: Pattern | None = None
    is_email_regex: bool | None = None
    comments: str | None = None


class NewSendingDomainRestriction(InputModel):
    domain: Pattern
    exclude: list[str] = Field(default_factory=list)
    comments: Comments | None = None


class SendingDomainRestrictionChanges(InputModel):
    domain: Pattern | None = None
    exclude: list[str] | None = None
    comments: Comments | None = None


class NewUrlIgnorePattern(InputModel):
    pattern: Pattern
    comments: Comments | None = None


class UrlIgnorePatternChanges(InputModel):
    pattern: Pattern | None = None
    comments: Comments | None = None


class DomainReplacement(InputModel):
    """Every mutable field of a protected domain (PUT replaces them all at once)."""

    allowed_delivery_modes: list[DeliveryMode] = Field(min_length=1, max_length=10)
    drop_dispositions: list[DispositionLabel] = Field(default=[], max_length=10)
    ip_restrictions: list[str] = Field(default=[], max_length=100)
    regions: list[Region] = Field(default=["GLOBAL"], max_length=10)
    lookback_hops: int = Field(default=1, ge=1, le=20)
    folder: ScannableFolder | None = None
    integration_id: str | None = None
    require_tls_inbound: bool | None = None
    require_tls_outbound: bool | None = None
    transport: str | None = None


class NewProtectedDomain(DomainReplacement):
    domain: Pattern


class DomainChanges(InputModel):
    allowed_delivery_modes: list[DeliveryMode] | None = Field(default=None, max_length=10)
    drop_dispositions: list[DispositionLabel] | None = Field(default=None, max_length=10)
    ip_restrictions: list[str] | None = Field(default=None, max_length=100)
    regions: list[Region] | None = Field(default=None, max_length=10)
    lookback_hops: int | None = Field(default=None, ge=1, le=20)
    folder: ScannableFolder | None = None
    integration_id: str | None = None
    require_tls_inbound: bool | None = None
    require_tls_outbound: bool | None = None
    transport: str | None = None
