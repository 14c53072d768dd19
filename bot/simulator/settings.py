"""Settings collections: blocked senders, allow policies, trusted domains.

The three share one store and one CRUD path; a `Kind` says what differs (required flags,
whether there is a `pattern_type`, fields past end of life, list filters). Patterns are checked
the way an admin would want: an EMAIL looks like an address, a DOMAIN like a domain, an IP is
a public IPv4 address or network, a regex compiles, and the same pattern cannot be added twice.
"""

from __future__ import annotations

import ipaddress
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.simulator.errors import end_of_life, invalid, malformed, not_found
from bot.simulator.messages import iso
from bot.simulator.params import Params, paginate, parse_bool, parse_enum
from bot.simulator.seeds import Record, new_uuid

PATTERN_TYPES = ("EMAIL", "DOMAIN", "IP")
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^(?=.{{1,253}}$)({_LABEL}\.)+(?!\d+$)[a-z0-9-]{{2,63}}$", re.IGNORECASE)
_LOCAL_PART = re.compile(r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}$", re.IGNORECASE)
# RFC 5737 networks are not "global", but the sample's senders live there; blocking them
# from a message card must work in the simulator.
_DOCUMENTATION_NETS = tuple(
    ipaddress.IPv4Network(net) for net in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)
_READ_ONLY = ("id", "created_at", "modified_at", "last_modified")


@dataclass(frozen=True)
class Kind:
    label: str
    flags: tuple[str, ...]  # booleans a create body must carry
    has_pattern_type: bool = True
    eol_fields: Mapping[str, str] = field(default_factory=dict)
    filters: tuple[str, ...] = ()  # boolean list filters


KINDS = {
    "block_senders": Kind("Blocked sender", ("is_regex",)),
    "allow_policies": Kind(
        "Allow policy",
        (
            "is_exempt_recipient",
            "is_trusted_sender",
            "is_acceptable_sender",
            "is_regex",
            "verify_sender",
        ),
        eol_fields={
            "is_recipient": "is_exempt_recipient",
            "is_sender": "is_trusted_sender",
            "is_spoof": "is_acceptable_sender",
        },
        filters=(
            "is_exempt_recipient",
            "is_trusted_sender",
            "is_acceptable_sender",
            "verify_sender",
        ),
    ),
    "trusted_domains": Kind(
        "Trusted domain",
        ("is_regex", "is_recent", "is_similarity"),
        has_pattern_type=False,
        filters=("is_recent", "is_similarity"),
    ),
}


class Settings:
    def __init__(self, records: Mapping[str, list[Record]], rng: random.Random) -> None:
        self._records = {name: [dict(record) for record in records.get(name, [])] for name in KINDS}
        self._rng = rng

    def list(self, name: str, params: Params) -> tuple[list[object], dict[str, int]]:
        kind = KINDS[name]
        items = [record for record in self._records[name] if _listed(kind, record, params)]
        order = parse_enum(params, "order", ("pattern", "created_at")) or "created_at"
        descending = (parse_enum(params, "direction", ("asc", "desc")) or "desc") == "desc"
        items.sort(key=lambda record: str(record[order]).lower(), reverse=descending)
        return paginate([dict(record) for record in items], params)

    def get(self, name: str, record_id: str) -> Record:
        return dict(self._find(name, record_id))

    def create(self, name: str, body: Any, now: datetime) -> Record:
        kind = KINDS[name]
        changes = _checked_body(kind, body, creating=True)
        record = {"id": new_uuid(self._rng), "comments": None, **changes}
        self._validate(name, record)
        record.update(created_at=iso(now), modified_at=iso(now), last_modified=iso(now))
        self._records[name].append(record)
        return dict(record)

    def update(self, name: str, record_id: str, body: Any, now: datetime) -> Record:
        record = self._find(name, record_id)
        merged = {**record, **_checked_body(KINDS[name], body, creating=False)}
        self._validate(name, merged)
        record.update(merged, modified_at=iso(now), last_modified=iso(now))
        return dict(record)

    def delete(self, name: str, record_id: str) -> dict[str, str]:
        self._records[name].remove(self._find(name, record_id))
        return {"id": record_id}

    def _find(self, name: str, record_id: str) -> Record:
        for record in self._records[name]:
            if record["id"] == record_id:
                return record
        raise not_found(KINDS[name].label)

    def _validate(self, name: str, record: Record) -> None:
        check_pattern(record["pattern"], record.get("pattern_type", "DOMAIN"), record["is_regex"])
        for other in self._records[name]:
            same_type = other.get("pattern_type") == record.get("pattern_type")
            same_pattern = str(other["pattern"]).lower() == str(record["pattern"]).lower()
            if other["id"] != record["id"] and same_type and same_pattern:
                raise invalid(f"{KINDS[name].label} '{record['pattern']}' already exists")


def _listed(kind: Kind, record: Record, params: Params) -> bool:
    search = params.get("search", "").lower()
    if search and search not in f"{record['pattern']} {record.get('comments') or ''}".lower():
        return False
    pattern = params.get("pattern")
    if pattern and pattern.lower() != str(record["pattern"]).lower():
        return False
    if kind.has_pattern_type:
        wanted = parse_enum(params, "pattern_type", (*PATTERN_TYPES, "UNKNOWN"))
        if wanted and record.get("pattern_type") != wanted:
            return False
    for flag in kind.filters:
        value = parse_bool(params, flag)
        if value is not None and record.get(flag) is not value:
            return False
    return True


def _checked_body(kind: Kind, body: Any, creating: bool) -> Record:
    """The writable fields of a create/update body, type-checked; read-only ones are ignored."""
    if not isinstance(body, dict):
        raise malformed("The request body must be a JSON object")
    for name, instead in kind.eol_fields.items():
        if name in body:
            raise end_of_life(name, f"'{instead}'", sunset="2026-07-01")
    writable = ("pattern", "comments", *kind.flags)
    writable += ("pattern_type",) if kind.has_pattern_type else ()
    if creating:
        missing = [name for name in writable if name != "comments" and name not in body]
        if missing:
            raise invalid(f"Missing required field(s): {', '.join(missing)}")
    changes = {name: body[name] for name in writable if name in body}
    _check_types(kind, changes)
    return changes


def _check_types(kind: Kind, changes: Record) -> None:
    for flag in kind.flags:
        if flag in changes and not isinstance(changes[flag], bool):
            raise invalid(f"'{flag}' must be true or false")
    pattern = changes.get("pattern", "x")
    if not isinstance(pattern, str) or not 1 <= len(pattern) <= 1024:
        raise invalid("'pattern' must be a string of 1 to 1024 characters")
    comments = changes.get("comments")
    if comments is not None and (not isinstance(comments, str) or len(comments) > 1024):
        raise invalid("'comments' must be a string of at most 1024 characters, or null")
    if "pattern_type" in changes:
        if changes["pattern_type"] == "UNKNOWN":
            raise invalid("pattern_type UNKNOWN is read-only: use EMAIL, DOMAIN or IP")
        if changes["pattern_type"] not in PATTERN_TYPES:
            raise invalid("'pattern_type' must be one of EMAIL, DOMAIN, IP")


def check_pattern(pattern: str, pattern_type: str, is_regex: bool) -> None:
    """422 unless `pattern` fits its type (a regex only has to compile)."""
    if is_regex:
        try:
            re.compile(pattern)
        except re.error as error:
            raise invalid(f"'pattern' is not a valid regular expression: {error}") from None
        return
    checks = {"EMAIL": _check_email, "DOMAIN": _check_domain, "IP": _check_ip}
    checks.get(pattern_type, _check_domain)(pattern)


def _check_email(pattern: str) -> None:
    local, at, domain = pattern.rpartition("@")
    if not at or not _LOCAL_PART.match(local) or not _DOMAIN.match(domain):
        raise invalid(f"'{pattern}' is not an email address (pattern_type EMAIL)")


def _check_domain(pattern: str) -> None:
    if not _DOMAIN.match(pattern):
        raise invalid(f"'{pattern}' is not a domain name (pattern_type DOMAIN)")


def _check_ip(pattern: str) -> None:
    try:
        network = ipaddress.ip_network(pattern, strict=True)
    except ValueError as error:
        raise invalid(f"'{pattern}' is not an IPv4 address or CIDR network: {error}") from None
    if not isinstance(network, ipaddress.IPv4Network):
        raise invalid(f"'{pattern}' is not an IPv4 address or network (pattern_type IP)")
    documentation = any(network.subnet_of(net) for net in _DOCUMENTATION_NETS)
    if not network.is_global and not documentation:
        raise invalid(f"'{pattern}' is a private or reserved network; block public addresses only")
