"""Message objects: the `MessageDetails` shape, filled, checked and read.

A message is kept as the JSON object the API returns, plus internal keys that start with `_`
(never sent): `_links`, `_attachments` (what detections and raw report), `_folder` (where a move
put it), `_action_log` (ActionEntry list), and the overrides `_detections`, `_raw`, `_trace`,
`_preview_png_base64`. Keeping the wire shape as the stored shape means a `--data` file, the
`POST /__simulator/messages` hook and the sample all go through one `fill_message`.
"""

from __future__ import annotations

import copy
import hashlib
import random
import string
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

Message = dict[str, Any]

DISPOSITIONS = (
    "MALICIOUS",
    "MALICIOUS-BEC",
    "SUSPICIOUS",
    "SPOOF",
    "SPAM",
    "BULK",
    "ENCRYPTED",
    "EXTERNAL",
    "UNKNOWN",
    "NONE",
)
# What `detections_only` keeps: verdicts that mean "this message is a threat or unwanted".
DETECTIONS = frozenset({"MALICIOUS", "MALICIOUS-BEC", "SUSPICIOUS", "SPOOF", "SPAM", "BULK"})
DELIVERY_STATUSES = (
    "delivered",
    "moved",
    "quarantined",
    "rejected",
    "deferred",
    "bounced",
    "queued",
    "move_failed",
)
OPERATIONS = ("PREVIEW", "QUARANTINE_RELEASE", "SUBMISSION", "MOVE")
AUTH_RESULTS = ("pass", "neutral", "fail", "error", "none")
DELIVERY_MODES = (
    "DIRECT",
    "BCC",
    "JOURNAL",
    "REVIEW_SUBMISSION",
    "DMARC_UNVERIFIED",
    "DMARC_FAILURE_REPORT",
    "DMARC_AGGREGATE_REPORT",
    "THREAT_INTEL_SUBMISSION",
    "SIMULATION_SUBMISSION",
    "API",
    "RETRO_SCAN",
)
_STR_LISTS = ("to", "to_name", "client_recipients", "envelope_to", "detection_reasons")
_STR_LISTS_NULLABLE = ("threat_categories",)
_BOOLS = ("is_phish_submission", "is_quarantined")
_POSTFIX_ALPHABET = string.ascii_letters + string.digits


def iso(moment: datetime) -> str:
    """UTC, second precision, `Z` suffix: the form the API uses for `scanned_at`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def naive_iso(moment: datetime) -> str:
    """The form of the deprecated `ts` and of `sent_date`: UTC without a zone suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def parse_time(value: str) -> datetime:
    """ISO 8601 / RFC 3339 to an aware datetime; a value without zone is taken as UTC."""
    moment = datetime.fromisoformat(value.strip())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def scanned_at(message: Message) -> datetime:
    return parse_time(str(message["scanned_at"]))


def public(message: Message) -> Message:
    """What the API returns: the message without its internal `_` keys."""
    return {key: value for key, value in message.items() if not key.startswith("_")}


def recipients(message: Message) -> list[str]:
    """The recipients this record is about: one per record when a postfix id is shared."""
    for key in ("client_recipients", "envelope_to", "to"):
        value = message.get(key)
        if value:
            return [str(item) for item in value]
    return []


def domain_of(address: str | None) -> str:
    return (address or "").rpartition("@")[2].lower()


def links_of(message: Message) -> list[dict[str, Any]]:
    override = message.get("_detections")
    if isinstance(override, dict) and isinstance(override.get("links"), list):
        return list(override["links"])
    return list(message.get("_links") or [])


def attachments_of(message: Message) -> list[dict[str, Any]]:
    override = message.get("_detections")
    if isinstance(override, dict) and isinstance(override.get("attachments"), list):
        return list(override["attachments"])
    return list(message.get("_attachments") or [])


def random_postfix_id(rng: random.Random) -> str:
    return "".join(rng.choices(_POSTFIX_ALPHABET, k=rng.choice((15, 16))))


def make_investigate_id(postfix_id: str, scanned: datetime, salt: str) -> str:
    """`<postfix>-<YYYY-MM-DDTHH:MM:SS>-<8 hex>`; the hex comes from `salt` so ids are stable."""
    digest = hashlib.sha256(f"{postfix_id}|{iso(scanned)}|{salt}".encode()).hexdigest()
    return f"{postfix_id}-{naive_iso(scanned)}-{digest[:8]}"


def fill_message(raw: Any, rng: random.Random, now: datetime) -> Message:
    """A complete message from a partial one; ValueError names the first bad field.

    Required-but-deprecated fields (`action_log`, `ts`) are filled so that every response
    validates against the OpenAPI file. An absent `id` is derived from postfix id, scan time and
    the first recipient, so the same input always gets the same id.
    """
    if not isinstance(raw, dict):
        raise ValueError("a message must be a JSON object")
    message: Message = copy.deepcopy(raw)
    _check_types(message)
    scanned = parse_time(message["scanned_at"]) if message.get("scanned_at") else now
    postfix = message.get("postfix_id") or _postfix_from_id(message.get("id")) or ""
    postfix = postfix or random_postfix_id(rng)
    _fill_people(message)
    _fill_times(message, scanned)
    message["postfix_id"] = postfix
    message.setdefault("id", make_investigate_id(postfix, scanned, recipients(message)[0]))
    _fill_verdict(message, postfix)
    _fill_rest(message, postfix)
    _drop_null_enums(message)
    return message


def _postfix_from_id(investigate_id: Any) -> str:
    return investigate_id.split("-", 1)[0] if isinstance(investigate_id, str) else ""


def _fill_people(message: Message) -> None:
    sender = message.setdefault("from", "sender@sender.example")
    message.setdefault("from_name", None)
    message.setdefault("envelope_from", sender)
    message.setdefault("replyto", None)
    to = message.get("to") or message.get("client_recipients") or ["user@example.com"]
    message["to"] = list(to)
    message.setdefault("to_name", [address.partition("@")[0] for address in to])
    message.setdefault("envelope_to", list(to))
    message.setdefault("client_recipients", list(message["envelope_to"]))


def _fill_times(message: Message, scanned: datetime) -> None:
    message["scanned_at"] = iso(scanned)
    message.setdefault("ts", naive_iso(scanned))
    sent = parse_time(message["sent_at"]) if message.get("sent_at") else scanned
    message["sent_at"] = iso(sent)
    message.setdefault("sent_date", naive_iso(sent))


def _fill_verdict(message: Message, postfix: str) -> None:
    disposition = message.setdefault("final_disposition", "NONE")
    quarantined = message.setdefault("is_quarantined", False)
    message.setdefault("is_phish_submission", False)
    message.setdefault("detection_reasons", [])
    message.setdefault("threat_categories", [])
    message.setdefault("delivery_status", ["quarantined" if quarantined else "delivered"])
    message.setdefault("post_delivery_operations", [])
    message.setdefault("properties", {})
    alert = f"{postfix}-{message['ts']}" if disposition in DETECTIONS else None
    message.setdefault("alert_id", alert)
    message.setdefault(
        "validation", {"comment": None, "dkim": "none", "dmarc": "none", "spf": "none"}
    )


def _fill_rest(message: Message, postfix: str) -> None:
    message.setdefault("action_log", [])
    domain = domain_of(message.get("from")) or "sender.example"
    message.setdefault("message_id", f"<{postfix.lower()}@{domain}>")
    message.setdefault("subject", "(no subject)")
    message.setdefault("delivery_mode", "DIRECT")
    for key in ("edf_hash", "htmltext_structure_hash", "postfix_id_outbound", "x_originating_ip"):
        message.setdefault(key, None)
    message.setdefault("smtp_helo_server_ip", None)
    message.setdefault("smtp_previous_hop_ip", None)
    message.setdefault("_action_log", [])


def drop_nulls(record: dict[str, Any], keys: Iterable[str]) -> None:
    """Remove `keys` whose value is null.

    The spec marks these enums `nullable`, but a JSON-schema validator (openapi-core's among
    them) rejects null unless the enum lists it, so "no value" is sent as an absent key.
    """
    for key in keys:
        if key in record and record[key] is None:
            del record[key]


def _drop_null_enums(message: Message) -> None:
    drop_nulls(message, ("final_disposition", "delivery_mode"))
    for key, fields in (
        ("validation", ("spf", "dkim", "dmarc")),
        ("properties", ("allowlisted_pattern_type", "whitelisted_pattern_type")),
    ):
        if isinstance(message.get(key), dict):
            drop_nulls(message[key], fields)


def _check_types(message: Message) -> None:
    """Refuse what would make a response invalid against the OpenAPI file."""
    for key in _STR_LISTS:
        _check_str_list(
            message, key, nullable=key not in ("client_recipients", "detection_reasons")
        )
    for key in _STR_LISTS_NULLABLE:
        _check_str_list(message, key, nullable=True)
    for key in _BOOLS:
        if key in message and not isinstance(message[key], bool):
            raise ValueError(f"'{key}' must be true or false")
    _check_enum(message.get("final_disposition"), DISPOSITIONS, "final_disposition")
    _check_enum(message.get("delivery_mode"), DELIVERY_MODES, "delivery_mode")
    _check_enum_list(message.get("delivery_status"), DELIVERY_STATUSES, "delivery_status")
    _check_enum_list(
        message.get("post_delivery_operations"), OPERATIONS, "post_delivery_operations"
    )
    for key in ("scanned_at", "sent_at"):
        if message.get(key) is not None:
            try:
                parse_time(str(message[key]))
            except ValueError:
                raise ValueError(f"'{key}' must be an ISO 8601 date-time") from None
    for key in ("properties", "validation"):
        if key in message and not isinstance(message[key], dict | None):
            raise ValueError(f"'{key}' must be an object")
    if isinstance(message.get("validation"), dict):
        for key in ("spf", "dkim", "dmarc"):
            _check_enum(message["validation"].get(key), AUTH_RESULTS, f"validation.{key}")


def _check_str_list(message: Message, key: str, nullable: bool) -> None:
    value = message.get(key)
    if key not in message or (value is None and nullable):
        return
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"'{key}' must be a list of strings")


def _check_enum(value: Any, allowed: Iterable[str], name: str) -> None:
    if value is not None and value not in allowed:
        raise ValueError(f"'{name}' must be one of {', '.join(allowed)}")


def _check_enum_list(value: Any, allowed: Iterable[str], name: str) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise ValueError(f"'{name}' must be a list")
    for item in value:
        _check_enum(item, allowed, name)


def action_entry(
    operation: str,
    at: datetime,
    requested_by: str,
    folder: str | None = None,
    success: bool = True,
) -> dict[str, Any]:
    """One `ActionEntry` as `GET /investigate/{id}/action_log` returns it."""
    return {
        "operation": operation,
        "started_at": iso(at),
        "completed_at": iso(at),
        "status": "completed" if success else "failed",
        "success": success,
        "properties": {"folder": folder, "requested_by": requested_by},
    }


def record_operation(message: Message, entry: dict[str, Any]) -> None:
    """Append to the action log and, if it succeeded, once per kind to the operations list."""
    message.setdefault("_action_log", []).append(entry)
    operations = message.get("post_delivery_operations") or []
    if entry["success"] and entry["operation"] not in operations:
        message["post_delivery_operations"] = [*operations, entry["operation"]]
