"""Data the tests and benchmarks run on: messages put into the simulator, alert detections,
rendered models for the Block Kit renderers, and the hostile text an email's author could
write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.cloudflare.models import ActionEntry, Detections, MessageDetails
from tests.kit.servers import SimulatorProcess

# -- messages in the simulator -----------------------------------------------------------------


def add(simulator: SimulatorProcess, **fields: Any) -> str:
    """One message in the simulator; returns its investigate id."""
    now = datetime.now(UTC) - timedelta(minutes=10)
    message = {
        "postfix_id": fields.pop("postfix_id", f"T{abs(hash(repr(fields))) % 10**12:012d}x"),
        "scanned_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "subject": "Quarterly invoice",
        "from": "billing@vendor.example",
        "from_name": "Vendor Billing",
        "to": ["alice@example.com"],
        "final_disposition": "SPAM",
        "is_quarantined": True,
        "detection_reasons": ["Sender reputation is poor"],
        **fields,
    }
    return simulator.add_messages([message])[0]


def quarantined_messages(count: int, prefix: str) -> list[dict[str, Any]]:
    now = datetime.now(UTC) - timedelta(minutes=5)
    return [
        {
            "postfix_id": f"{prefix}{i:06d}",
            "scanned_at": (now - timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "subject": f"Invoice {i}",
            "from": "billing@invoices.example.net",
            "to": [f"user{i % 50}@example.com"],
            "final_disposition": "SUSPICIOUS",
            "is_quarantined": True,
        }
        for i in range(count)
    ]


def detection(
    i: int,
    *,
    sender: str = "attacker@phish.example",
    subject: str | None = None,
    disposition: str = "MALICIOUS",
    to: str = "alice@example.com",
) -> dict[str, Any]:
    return {
        "postfix_id": f"Alrt{abs(hash((i, sender, subject, disposition))) % 10**10:010d}",
        "scanned_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "subject": subject or f"Detection {i}", "from": sender, "to": [to],
        "final_disposition": disposition, "is_quarantined": True,
    }  # fmt: skip


# -- models for the renderers ------------------------------------------------------------------

MID = "U1eHfGhAzC1iyg7I-2026-11-21T05:17:05-d40e782a"
SENT = datetime(2026, 11, 21, 5, 16, 11, tzinfo=UTC)


def make_message(**changes: Any) -> MessageDetails:
    data: dict[str, Any] = {
        "id": MID,
        "postfix_id": "U1eHfGhAzC1iyg7I",
        "subject": "Overdue invoice #76171",
        "from": "voicemail@pbx-notify.test",
        "from_name": "Voicemail",
        "envelope_from": "voicemail@pbx-notify.test",
        "to": ["noah.fischer@eu.example.com"],
        "to_name": ["Noah Fischer"],
        "message_id": "<022e6a14d373.68020@pbx-notify.test>",
        "sent_at": SENT,
        "scanned_at": "2026-11-21T05:17:05Z",
        "final_disposition": "MALICIOUS",
        "is_quarantined": True,
        "delivery_status": ["quarantined"],
        "detection_reasons": [
            "Credential harvesting link: pbx-notify[dot]test imitates a Microsoft sign-in page",
            "Link reputation: pbx-notify[dot]test is a known phishing host",
        ],
        "threat_categories": ["BrandImpersonation", "LinkReputation"],
        "post_delivery_operations": [],
        "validation": {"spf": "pass", "dkim": "fail", "dmarc": "error"},
    }
    data.update(changes)
    return MessageDetails.model_validate(data)


def make_detections(**changes: Any) -> Detections:
    data: dict[str, Any] = {
        "action": "QUARANTINE",
        "final_disposition": "MALICIOUS",
        "validation": {"spf": "softfail", "dkim": "none", "dmarc": "reject"},
        "links": [
            {
                "href": "https://login.pbx-notify.test/common/oauth2/authorize",
                "text": "https://login.microsoftonline.com",
            },
            {"href": "http://pbx-notify.test/mailbox/upgrade", "text": "Upgrade mailbox"},
        ],
        "attachments": [
            {"size": 24_576, "filename": "invoice.pdf.exe", "content_type": "application/x-dos"}
        ],
        "threat_categories": [{"id": 3, "name": "BrandImpersonation"}],
    }
    data.update(changes)
    return Detections.model_validate(data)


ACTION_LOG = [
    ActionEntry.model_validate(
        {
            "operation": "MOVE",
            "status": "completed",
            "success": True,
            "completed_at": "2026-11-21T06:00:00Z",
            "properties": {"folder": "JunkEmail", "requested_by": "analyst@example.com"},
        }
    )
]


# -- hostile text ------------------------------------------------------------------------------

# Pieces an attacker would use: Slack control sequences, entities, invisible and bidi
# characters, schemes, hosts, addresses, line breaks, astral characters, our own markers.
HOSTILE = (
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U123ABC>",
    "<!subteam^S123|grp>",
    "<#C123>",
    "<!date^1700000000^{date}|x>",
    "<https://evil.example|Click>",
    "<mailto:bob@evil.example|Bob>",
    "&amp;",
    "&lt;",
    "&",
    "<",
    ">",
    "\u202e",
    "\u2066",
    "\u061c",
    "\u200b",
    "\u200d",
    "\ufeff",
    "\u2060",
    "\x00",
    "\x1b[31m",
    "\x85",
    "\u2028",
    "\r\n",
    "\t",
    "\n",
    "javascript:alert(1)",
    "https://evil.example/x?a=1&b=2",
    "HTTP://EVIL.EXAMPLE",
    "http://1.2.3.4/",
    "ftp://files.evil.example",
    "ssh://evil.example",
    "mailto:bob@evil.example",
    "bob@evil.example",
    "evil\u3002example",
    "invoice.zip",
    "@channel",
    "@here",
    "hxxps://",
    "[.]",
    "…",
    "😀",
    "e\u0301",
    "`",
    "*bold*",
    " ",
)

# Every piece in one string, with a plain link: an attacker's field for the renderer tests.
HOSTILE_TEXT = " ".join(HOSTILE) + " https://evil.example/x"
