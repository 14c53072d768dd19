"""Start-up records besides messages: submissions, PhishGuard reports, and settings.

Submissions and reports point at messages that exist (by postfix id), so a client can follow
them; with a `--data` file they are made from that file's messages.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from bot.simulator.catalog import EXECUTIVES, STAFF
from bot.simulator.messages import DETECTIONS, Message, drop_nulls, iso, naive_iso, scanned_at

Record = dict[str, Any]
SUBMISSION_DISPOSITIONS = ("MALICIOUS", "SUSPICIOUS", "SPOOF", "SPAM", "BULK", "NONE")
TEAM_ADDRESS = "secops@example.com"
NULLABLE_ENUMS = (
    "requested_disposition",
    "original_disposition",
    "outcome_disposition",
    "escalated_as",
    "customer_status",
    "type",
)


def public_record(record: Record) -> Record:
    """A copy without the simulator's own keys (those starting with `_`), as the API shows it."""
    return {key: value for key, value in record.items() if not key.startswith("_")}


def new_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def submission_disposition(disposition: Any) -> str | None:
    """Submissions know no MALICIOUS-BEC (nor ENCRYPTED and co.): map to what they accept."""
    if disposition == "MALICIOUS-BEC":
        return "MALICIOUS"
    return disposition if disposition in SUBMISSION_DISPOSITIONS else None


def make_submission(
    message: Message,
    requested: str | None,
    at: datetime,
    requested_by: str,
    kind: str,
    submission_id: str,
) -> Record:
    """A `Submission` for `message`, as reclassify and the seed both create it."""
    record = {
        "submission_id": submission_id,
        "requested_at": iso(at),
        "requested_ts": naive_iso(at),
        "requested_by": requested_by,
        "requested_disposition": requested,
        "original_disposition": submission_disposition(message.get("final_disposition")),
        "original_postfix_id": message.get("postfix_id"),
        "original_edf_hash": message.get("edf_hash"),
        "subject": message.get("subject"),
        "type": kind,
        "status": "pending",
        "customer_status": "unreviewed",
        "outcome": None,
        "escalated_at": None,
        "escalated_by": None,
        "escalated_submission_id": None,
    }
    drop_nulls(record, NULLABLE_ENUMS)
    return record


def generate_submissions(
    messages: list[Message], rng: random.Random, start: datetime, count: int = 36
) -> list[Record]:
    """User reports (phish button) and team reclassifications, some reviewed, some escalated."""
    if not messages:
        return []
    records = []
    for message in rng.sample(messages, min(count, len(messages))):
        at = min(scanned_at(message) + timedelta(minutes=rng.randint(5, 240)), start)
        user = rng.random() < 0.6
        original = submission_disposition(message.get("final_disposition"))
        requested = _opposite(rng, original)
        by = f"{rng.choice(STAFF)[1]}@example.com" if user else TEAM_ADDRESS
        record = make_submission(
            message, requested, at, by, "User" if user else "Team", new_uuid(rng)
        )
        _progress(rng, record, at, start, user)
        drop_nulls(record, NULLABLE_ENUMS)
        records.append(record)
    return sorted(records, key=lambda record: str(record["requested_at"]), reverse=True)


def _opposite(rng: random.Random, original: str | None) -> str:
    """What a submitter asks for: a clean message is "malicious", a detection a false positive."""
    if original in (None, "NONE", "BULK"):
        return rng.choice(("MALICIOUS", "SUSPICIOUS", "SPAM"))
    return rng.choice(("NONE", "BULK", "SPAM")) if original != "SPAM" else "NONE"


def _progress(
    rng: random.Random, record: Record, at: datetime, start: datetime, user: bool
) -> None:
    """Move a submission along: reviewed with an outcome, or escalated from a user to the team;
    one still pending gets its review some minutes after the simulator starts."""
    roll = rng.random()
    if roll < 0.45:
        decide(record, accepted=rng.random() < 0.5)
    elif roll < 0.6 and user:
        escalated = min(at + timedelta(hours=rng.randint(1, 30)), start)
        record.update(status="escalated", customer_status="escalated")
        record.update(escalated_at=iso(escalated), escalated_by=TEAM_ADDRESS)
        record.update(escalated_as=record.get("requested_disposition"))
        record["escalated_submission_id"] = new_uuid(rng)
    else:
        # No rng draw here, so the records after this one stay as they were.
        minutes = 2 + int(hashlib.sha256(record["submission_id"].encode()).hexdigest(), 16) % 28
        record["_review_at"] = iso(start + timedelta(minutes=minutes))


REVIEW_AFTER = timedelta(minutes=2)  # a new submission's review, on the store's clock


def decide(record: Record, accepted: bool) -> None:
    """A reviewed submission: the requested verdict taken, or the original kept."""
    record.pop("_review_at", None)
    record.update(status="completed", customer_status="reviewed")
    record["outcome"] = "Reclassified" if accepted else "No change"
    outcome = record.get("requested_disposition" if accepted else "original_disposition")
    record["outcome_disposition"] = outcome
    drop_nulls(record, NULLABLE_ENUMS)


def review_due(records: list[Record], now: datetime) -> None:
    """Decide every pending submission whose review time has come (the same way each time)."""
    for record in records:
        due = record.get("_review_at")
        if record.get("status") == "pending" and due is not None and due <= iso(now):
            digest = hashlib.sha256(record["submission_id"].encode()).digest()
            decide(record, accepted=digest[0] % 2 == 0)


REPORT_TITLES = {
    "MALICIOUS": "Credential phishing campaign reported by staff",
    "MALICIOUS-BEC": "Executive impersonation attempt",
    "SUSPICIOUS": "Suspicious delivery notification",
    "SPOOF": "Spoofed internal sender",
    "SPAM": "Spam wave",
    "BULK": "Bulk mail complaint",
}


def generate_reports(
    messages: list[Message], rng: random.Random, start: datetime, count: int = 20
) -> list[Record]:
    """PhishGuard reports on detections of the last two weeks (older mail if there is none)."""
    detections = [m for m in messages if m.get("final_disposition") in DETECTIONS]
    recent = [m for m in detections if scanned_at(m) >= start - timedelta(days=14)]
    pool = recent or detections
    chosen = rng.sample(pool, min(count, len(pool)))
    reports = [_report(rng, number, message, start) for number, message in enumerate(chosen, 1)]
    return sorted(reports, key=lambda report: str(report["created_at"]), reverse=True)


def _report(rng: random.Random, number: int, message: Message, start: datetime) -> Record:
    disposition = message["final_disposition"]
    occurred = scanned_at(message)
    created = min(occurred + timedelta(minutes=rng.randint(10, 300)), start)
    reasons = "; ".join(message.get("detection_reasons") or []) or "no reasons recorded"
    return {
        "id": 5000 + number,
        "title": REPORT_TITLES.get(disposition, "Reported message"),
        "content": f"PhishGuard analysts reviewed a message from {message.get('from')} to "
        f"{', '.join(message.get('to') or [])}: {reasons}.",
        "priority": rng.choice(("critical", "high", "medium", "low")),
        "disposition": disposition,
        "fields": {
            "postfix_id": message["postfix_id"],
            "from": message.get("from"),
            "to": list(message.get("to") or []),
            "occurred_at": iso(occurred),
            "ts": iso(occurred),
        },
        "tags": [
            {"category": "disposition", "value": disposition},
            {"category": "threat", "value": (message.get("threat_categories") or ["none"])[0]},
        ],
        "created_at": iso(created),
        "updated_at": iso(created),
        "ts": iso(created),
    }


def generate_settings(rng: random.Random, start: datetime) -> dict[str, list[Record]]:
    """A few blocked senders, allow policies and trusted domains, as an admin would have them."""

    def stamped(fields: Record, days_ago: int) -> Record:
        at = iso(start - timedelta(days=days_ago))
        return {
            "id": new_uuid(rng),
            **fields,
            "created_at": at,
            "modified_at": at,
            "last_modified": at,
        }

    block = [
        ("m365-account-security.example", "DOMAIN", False, "Credential phishing kit"),
        ("winner@prize-center.test", "EMAIL", False, "Spam, user complaints"),
        (r".*@invoices-billing\.example", "EMAIL", True, "Fake invoice sender, any local part"),
        ("203.0.113.66", "IP", False, "Spam relay"),
    ]
    # pattern, type, which of is_acceptable_sender / is_trusted_sender / is_exempt_recipient
    allow = [
        ("partner-firm.example", "DOMAIN", "is_acceptable_sender"),
        ("statements@payroll-provider.example", "EMAIL", "is_trusted_sender"),
        ("phishing-reports@example.com", "EMAIL", "is_exempt_recipient"),
    ]
    trusted = [
        ("partner-firm.example", True, False),
        ("acme.example", False, True),
        ("lawfirm.test", True, True),
    ]
    return {
        "block_senders": [
            stamped({"pattern": p, "pattern_type": t, "is_regex": r, "comments": c}, 40 - i)
            for i, (p, t, r, c) in enumerate(block)
        ],
        "allow_policies": [
            stamped(_allow_policy(p, t, flag), 60 - i) for i, (p, t, flag) in enumerate(allow)
        ],
        "trusted_domains": [
            stamped(
                {
                    "pattern": p,
                    "is_recent": recent,
                    "is_similarity": similar,
                    "is_regex": False,
                    "comments": None,
                },
                90 - i,
            )
            for i, (p, recent, similar) in enumerate(trusted)
        ],
    }


def _allow_policy(pattern: str, pattern_type: str, flag: str) -> Record:
    policy: Record = {"pattern": pattern, "pattern_type": pattern_type, "is_regex": False}
    for name in ("is_acceptable_sender", "is_trusted_sender", "is_exempt_recipient"):
        policy[name] = name == flag
    return {**policy, "verify_sender": True, "comments": None}


def generate_registry(rng: random.Random, start: datetime) -> dict[str, list[Record]]:
    """The impersonation registry (the company's executives: the CEO and CFO synced from the
    directory, the others and a regex for the CEO's addresses added by hand), a sending domain
    restriction and URL ignore patterns. Made after everything else, from the same generator,
    so the records made before stay as they were."""

    def stamped(fields: Record, days_ago: int) -> Record:
        at = iso(start - timedelta(days=days_ago))
        return {"id": new_uuid(rng), **fields, "created_at": at, "modified_at": at,
                "last_modified": at}  # fmt: skip

    registry = []
    for index, (name, local, role) in enumerate(EXECUTIVES):
        synced = index < 2
        registry.append(stamped({
            "name": name, "email": f"{local}@example.com", "is_email_regex": False,
            "comments": role, "provenance": "SNOOPY-OFFICE_365" if synced else "A1S_INTERNAL",
            "directory_id": 1 if synced else None,
            "directory_node_id": 4100 + index if synced else None,
        }, 120 - index))  # fmt: skip
    ceo, local = EXECUTIVES[0][0], EXECUTIVES[0][1].replace(".", r"\.")
    registry.append(stamped({
        "name": ceo, "email": rf"{local}@(eu\.)?example\.(com|org)", "is_email_regex": True,
        "comments": "Every address of the CEO", "provenance": "A1S_INTERNAL",
        "directory_id": None, "directory_node_id": None,
    }, 30))  # fmt: skip
    restrictions = [
        stamped({"domain": "payroll-provider.example", "exclude": ["news.payroll-provider.example"],
                 "comments": "Payroll mail only over TLS"}, 50),
    ]  # fmt: skip
    ignored = [
        stamped(
            {"pattern": "safelinks.protection.outlook.example", "comments": "Link wrapper"}, 70
        ),
        stamped({"pattern": "click.newsletter.acme.example", "comments": None}, 20),
    ]
    return {
        "impersonation_registry": registry,
        "sending_domain_restrictions": restrictions,
        "url_ignore_patterns": ignored,
    }
