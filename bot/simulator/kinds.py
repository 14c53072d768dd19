"""What each settings collection is made of: its fields and their types, what a create needs,
what must be unique, how it sorts and filters, and which fields are past end of life.

The collections (blocked senders, allow policies, trusted domains, the impersonation registry,
sending domain restrictions, URL ignore patterns, content policies) share one store
(settings.py); a `Kind` is all that differs. Protected domains, which have more to them, live in
domains.py.

Content policies and the blocked senders' batch are not in the vendored OpenAPI file: the
official SDK 5.9.0 (generated from Cloudflare's newer spec) has them, so the real API does, and
the simulator serves them as that SDK's types describe them (tests/test_sdk.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.simulator.errors import invalid
from bot.simulator.patterns import PATTERN_TYPES, check_address_or_regex, check_domain
from bot.simulator.patterns import check_pattern as _check_pattern
from bot.simulator.seeds import Record

FieldType = Literal[
    "bool", "text", "comments", "pattern_type", "strings", "int?", "provenance", "targets"
]
PROVENANCES = (
    "A1S_INTERNAL",
    "SNOOPY-CASB_OFFICE_365",
    "SNOOPY-OFFICE_365",
    "SNOOPY-GOOGLE_DIRECTORY",
)
MANUAL = "A1S_INTERNAL"
TARGETS = ("SUBJECT", "BODY")  # what a content policy's pattern is matched against


def _pattern(record: Record) -> None:
    _check_pattern(record["pattern"], record.get("pattern_type", "DOMAIN"), record["is_regex"])


def _identity(record: Record) -> None:
    check_address_or_regex(record["email"], record["is_email_regex"])


def _restriction(record: Record) -> None:
    check_domain(record["domain"])
    for sub in record.get("exclude") or []:
        check_domain(sub)
        if not sub.lower().endswith("." + str(record["domain"]).lower()):
            raise invalid(f"'{sub}' is not a subdomain of '{record['domain']}'")


def _url_pattern(record: Record) -> None:
    if any(c.isspace() for c in record["pattern"]):
        raise invalid("'pattern' must not contain spaces")


def _content_pattern(record: Record) -> None:
    # The SDK documents the pattern as a regular expression; one that does not compile could
    # never match, so it is refused as the API refuses an invalid regex elsewhere.
    try:
        re.compile(record["pattern"])
    except re.error as error:
        raise invalid(f"'pattern' is not a valid regular expression: {error}") from None


def _synced(record: Record) -> str | None:
    """Directory-synced entries can't be updated (the docs): the directory owns them."""
    if record.get("provenance") not in (None, MANUAL):
        return "Directory-synced entries can't be updated: change them in the directory"
    return None


@dataclass(frozen=True)
class Kind:
    label: str
    fields: Mapping[str, FieldType]  # every writable field
    required: tuple[str, ...]  # what a create must carry
    validate: Callable[[Record], None]
    key: str = "pattern"  # unique, case-insensitive (with pattern_type where there is one)
    orders: tuple[str, ...] = ("pattern", "created_at")
    default_order: str = "created_at"
    flags: tuple[str, ...] = ()  # boolean list filters
    enums: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # enum list filters
    searched: tuple[str, ...] = ("pattern", "comments")
    matched: str = "pattern"  # the list filter that matches one value exactly (case-insensitive)
    eol_fields: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # name: (instead, date)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    locked: Callable[[Record], str | None] = lambda record: None  # why an edit is refused
    batch: Literal["full", "deletes"] | None = None


ALLOW_FLAGS = ("is_exempt_recipient", "is_trusted_sender", "is_acceptable_sender", "verify_sender")

KINDS: dict[str, Kind] = {
    "block_senders": Kind(
        "Blocked sender",
        {
            "pattern": "text",
            "pattern_type": "pattern_type",
            "is_regex": "bool",
            "comments": "comments",
        },
        ("pattern", "pattern_type", "is_regex"),
        _pattern,
        enums={"pattern_type": (*PATTERN_TYPES, "UNKNOWN")},
        batch="full",  # not in the vendored file; SDK 5.9.0 has `block_senders.batch`
    ),
    "allow_policies": Kind(
        "Allow policy",
        {
            "pattern": "text",
            "pattern_type": "pattern_type",
            "is_regex": "bool",
            "comments": "comments",
            **dict.fromkeys(ALLOW_FLAGS, "bool"),
        },
        ("pattern", "pattern_type", "is_regex", *ALLOW_FLAGS),
        _pattern,
        flags=ALLOW_FLAGS,
        enums={"pattern_type": (*PATTERN_TYPES, "UNKNOWN")},
        eol_fields={
            "is_recipient": ("is_exempt_recipient", "2026-07-01"),
            "is_sender": ("is_trusted_sender", "2026-07-01"),
            "is_spoof": ("is_acceptable_sender", "2026-07-01"),
        },
        batch="full",
    ),
    "trusted_domains": Kind(
        "Trusted domain",
        {
            "pattern": "text",
            "is_regex": "bool",
            "is_recent": "bool",
            "is_similarity": "bool",
            "comments": "comments",
        },
        ("pattern", "is_regex", "is_recent", "is_similarity"),
        _pattern,
        flags=("is_recent", "is_similarity"),
        batch="full",
    ),
    "impersonation_registry": Kind(
        "Impersonation registry entry",
        {
            "name": "text",
            "email": "text",
            "is_email_regex": "bool",
            "comments": "comments",
            "directory_id": "int?",
            "directory_node_id": "int?",
            "provenance": "provenance",
        },
        ("name", "email", "is_email_regex"),
        _identity,
        key="email",
        orders=("name", "email", "created_at"),
        enums={"provenance": PROVENANCES},
        searched=("name", "email", "comments"),
        eol_fields={"external_directory_node_id": ("'directory_node_id'", "2026-11-01")},
        defaults={"provenance": MANUAL, "directory_id": None, "directory_node_id": None},
        locked=_synced,
    ),
    "sending_domain_restrictions": Kind(
        "Sending domain restriction",
        {"domain": "text", "exclude": "strings", "comments": "comments"},
        ("domain",),
        _restriction,
        key="domain",
        orders=("domain", "created_at"),
        searched=("domain", "comments"),
        defaults={"exclude": []},
        batch="deletes",
    ),
    "url_ignore_patterns": Kind(
        "URL ignore pattern",
        {"pattern": "text", "comments": "comments"},
        ("pattern",),
        _url_pattern,
        orders=(),
        batch="full",
    ),
    # SDK 5.9.0's `settings.content_policies` (not in the vendored file): a regular expression
    # matched against a message's subject or body.
    "content_policies": Kind(
        "Content policy",
        {
            "name": "text",
            "pattern": "text",
            "targets": "targets",
            "enabled": "bool",
            "notes": "comments",
        },
        ("enabled", "name", "pattern", "targets"),
        _content_pattern,
        key="name",
        orders=("name", "created_at"),
        flags=("enabled",),
        searched=("name", "pattern", "notes"),
        matched="name",
        defaults={"notes": None},
        batch="full",
    ),
}


def check_types(kind: Kind, changes: Record) -> None:
    """422 naming the first field whose value has the wrong type."""
    for name, value in changes.items():
        kind_of = kind.fields[name]
        if kind_of == "bool" and not isinstance(value, bool):
            raise invalid(f"'{name}' must be true or false")
        if kind_of == "text" and (not isinstance(value, str) or not 1 <= len(value) <= 1024):
            raise invalid(f"'{name}' must be a string of 1 to 1024 characters")
        if (
            kind_of == "comments"
            and value is not None
            and (not isinstance(value, str) or len(value) > 1024)
        ):
            raise invalid(f"'{name}' must be a string of at most 1024 characters, or null")
        if kind_of == "pattern_type":
            if value == "UNKNOWN":
                raise invalid("pattern_type UNKNOWN is read-only: use EMAIL, DOMAIN or IP")
            if value not in PATTERN_TYPES:
                raise invalid("'pattern_type' must be one of EMAIL, DOMAIN, IP")
        if kind_of == "strings" and (
            not isinstance(value, list) or not all(isinstance(v, str) and v for v in value)
        ):
            raise invalid(f"'{name}' must be a list of strings")
        if (
            kind_of == "int?"
            and value is not None
            and (not isinstance(value, int) or isinstance(value, bool))
        ):
            raise invalid(f"'{name}' must be an integer or null")
        if kind_of == "targets" and (
            not isinstance(value, list) or not value or any(v not in TARGETS for v in value)
        ):
            raise invalid(f"'{name}' must be a non-empty list of {', '.join(TARGETS)}")
        if kind_of == "provenance" and value is not None and value not in PROVENANCES:
            raise invalid(f"'{name}' must be one of {', '.join(PROVENANCES)}")
