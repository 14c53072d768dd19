"""`GET /investigate`: filter parsing, matching and the opaque cursor.

A cursor is urlsafe base64 of `{"o": offset, "f": filter fingerprint, "p": pending search}`.
The fingerprint ties a cursor to the filters it was issued for, so a client that changes filters
between pages (or sends garbage) gets 422 instead of a silently wrong page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from bot.simulator.errors import end_of_life, invalid
from bot.simulator.messages import (
    DELIVERY_STATUSES,
    DETECTIONS,
    Message,
    attachments_of,
    domain_of,
    links_of,
    scanned_at,
)
from bot.simulator.params import Params, parse_bool, parse_enum, parse_when, per_page

SEARCH_DISPOSITIONS = ("MALICIOUS", "SUSPICIOUS", "SPOOF", "SPAM", "BULK", "NONE")
# Query value -> the post-delivery operation it looks for. SUBMITTED is in the HTTP reference
# (docs 001) though not in the OpenAPI enum; accepting it costs nothing.
MESSAGE_ACTIONS = {
    "PREVIEW": "PREVIEW",
    "QUARANTINE_RELEASED": "QUARANTINE_RELEASE",
    "MOVED": "MOVE",
    "SUBMITTED": "SUBMISSION",
}
DEFAULT_WINDOW = timedelta(days=30)
_PAGING = ("cursor", "per_page")
_QUERY_FIELDS = (
    "subject",
    "from",
    "from_name",
    "envelope_from",
    "replyto",
    "message_id",
    "alert_id",
    "final_disposition",
    "postfix_id",
    "id",
    "smtp_helo_server_ip",
    "smtp_previous_hop_ip",
    "x_originating_ip",
    "to",
    "to_name",
    "detection_reasons",
)


@dataclass(frozen=True)
class SearchQuery:
    start: datetime
    end: datetime
    terms: tuple[str, ...]
    detections_only: bool
    final_disposition: str | None
    operation: str | None
    recipient: str | None
    sender: str | None
    alert_id: str | None
    domain: str | None
    message_id: str | None
    subject_words: tuple[str, ...]
    exact_subject: str | None
    submissions: bool | None
    delivery_status: str | None
    helo_ip: str | None
    per_page: int
    fingerprint: str


@dataclass(frozen=True)
class Cursor:
    offset: int
    pending: str | None


def parse_query(params: Params, now: datetime) -> SearchQuery:
    """Validate the search parameters; ApiError (400 or 422) names the bad one."""
    if "page" in params:
        raise end_of_life("page", "cursor pagination (result_info.next)")
    start, end = _window(params, now)
    return SearchQuery(
        start=start,
        end=end,
        terms=tuple(params.get("query", "").lower().split()),
        detections_only=parse_bool(params, "detections_only") is not False,
        final_disposition=parse_enum(params, "final_disposition", SEARCH_DISPOSITIONS),
        operation=MESSAGE_ACTIONS.get(parse_enum(params, "message_action", MESSAGE_ACTIONS) or ""),
        recipient=_lower(params, "recipient"),
        sender=_lower(params, "sender"),
        alert_id=params.get("alert_id") or None,
        domain=_lower(params, "domain"),
        message_id=_bare_message_id(params.get("message_id")),
        subject_words=tuple(params.get("subject", "").lower().split()),
        exact_subject=params.get("exact_subject") or None,
        submissions=parse_bool(params, "submissions"),
        delivery_status=parse_enum(params, "delivery_status", DELIVERY_STATUSES),
        helo_ip=params.get("smtp_helo_ip") or None,
        per_page=per_page(params),
        fingerprint=fingerprint(params),
    )


def fingerprint(params: Params) -> str:
    """A short hash of every parameter except the paging ones."""
    filters = sorted((key, value) for key, value in params.items() if key not in _PAGING)
    return hashlib.sha256(json.dumps(filters).encode()).hexdigest()[:16]


def matches(message: Message, query: SearchQuery) -> bool:
    disposition = message.get("final_disposition")
    checks = (
        query.start <= scanned_at(message) <= query.end,
        not query.detections_only or disposition in DETECTIONS,
        query.final_disposition in (None, disposition),
        query.operation is None
        or query.operation in (message.get("post_delivery_operations") or ()),
        query.alert_id in (None, message.get("alert_id")),
        query.delivery_status is None
        or query.delivery_status in (message.get("delivery_status") or ()),
        query.submissions is None or query.submissions == message.get("is_phish_submission"),
        query.helo_ip in (None, message.get("smtp_helo_server_ip")),
        query.exact_subject in (None, message.get("subject")),
    )
    return all(checks) and _matches_people(message, query) and _matches_text(message, query)


def _matches_people(message: Message, query: SearchQuery) -> bool:
    senders = [message.get("from"), message.get("envelope_from")]
    rcpts = [*(message.get("to") or ()), *(message.get("envelope_to") or ())]
    rcpts += message.get("client_recipients") or ()
    if query.sender and not _address_match(query.sender, senders):
        return False
    if query.recipient and not _address_match(query.recipient, rcpts):
        return False
    if query.message_id and query.message_id != _bare_message_id(message.get("message_id")):
        return False
    domains = _domains(message, senders + rcpts) if query.domain else set()
    return not query.domain or any(_within(domain, query.domain) for domain in domains)


def _matches_text(message: Message, query: SearchQuery) -> bool:
    subject = str(message.get("subject") or "").lower()
    if not all(word in subject for word in query.subject_words):
        return False
    if not query.terms:
        return True
    haystack = "\n".join(_strings(message)).lower()
    return all(term in haystack for term in query.terms)


def _strings(message: Message) -> Iterable[str]:
    """Every value free-text `query` looks at."""
    for key in _QUERY_FIELDS:
        value = message.get(key)
        if isinstance(value, list):
            yield from (str(item) for item in value)
        elif value is not None:
            yield str(value)
    for attachment in attachments_of(message):
        for key in ("filename", "name", "md5", "sha1", "sha256"):
            if attachment.get(key):
                yield str(attachment[key])


def _address_match(wanted: str, addresses: Iterable[Any]) -> bool:
    """An address matches itself; a bare domain matches any address at it or its subdomains."""
    for address in addresses:
        if not address:
            continue
        address = str(address).lower()
        if address == wanted or ("@" not in wanted and _within(domain_of(address), wanted)):
            return True
    return False


def _within(domain: str, wanted: str) -> bool:
    """`domain` is `wanted` or one of its subdomains."""
    return domain == wanted or domain.endswith("." + wanted)


def _domains(message: Message, addresses: list[Any]) -> set[str]:
    found = {domain_of(str(address)) for address in addresses if address}
    for link in links_of(message):
        host = urlsplit(str(link.get("href", ""))).hostname
        if host:
            found.add(host.lower())
    return found


def encode_cursor(offset: int, fingerprint: str, pending: str | None = None) -> str:
    payload = json.dumps({"o": offset, "f": fingerprint, "p": pending}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str) -> Cursor:
    """The offset a cursor stands for; 422 for garbage or a cursor of other filters."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
        offset, issued_for, pending = payload["o"], payload["f"], payload["p"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise invalid("Invalid cursor: pass result_info.next unchanged") from None
    if not isinstance(offset, int) or offset < 0 or not isinstance(pending, str | None):
        raise invalid("Invalid cursor: pass result_info.next unchanged")
    if issued_for != fingerprint:
        raise invalid("This cursor was issued for different search filters")
    return Cursor(offset=offset, pending=pending)


def _window(params: Params, now: datetime) -> tuple[datetime, datetime]:
    end = parse_when(params, "end") or now
    start = parse_when(params, "start") or end - DEFAULT_WINDOW
    if start > now:
        raise invalid("'start' must not be in the future")
    if start > end:
        raise invalid("'start' must be before 'end'")
    return start, end


def _lower(params: Params, name: str) -> str | None:
    value = params.get(name, "").strip().lower()
    return value or None


def _bare_message_id(value: Any) -> str | None:
    if not value:
        return None
    return str(value).strip().strip("<>").lower()
