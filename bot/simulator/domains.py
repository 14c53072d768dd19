"""Protected domains: the tenant's own mail domains that Email Security protects.

The sample tenant receives mail at example.com, example.org and eu.example.com (the sample
messages' recipients, `catalog.TENANT_DOMAINS`), so those are its protected domains: a bot
deciding whether a block would stop the tenant's own mail has something real to compare with.
Read-only here (`GET /settings/domains`); `reset()` restores them with the rest of the data.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.simulator.messages import iso
from bot.simulator.params import Params, paginate, parse_enum
from bot.simulator.seeds import Record, new_uuid

STATUSES = ("PENDING", "ACTIVE", "FAILED", "TIMEOUT")
DELIVERY_MODES = ("DIRECT", "BCC", "JOURNAL", "API", "RETRO_SCAN")

# domain, status, delivery modes, inbox provider, regions, days since it was added
_SAMPLE = (
    ("example.com", "ACTIVE", ("DIRECT",), "Microsoft", ("GLOBAL",), 400),
    ("example.org", "ACTIVE", ("BCC", "JOURNAL"), "Google", ("US",), 250),
    ("eu.example.com", "PENDING", ("DIRECT",), "Microsoft", ("DE",), 3),
)


def generate_domains(rng: random.Random, start: datetime) -> list[Record]:
    """The sample tenant's protected domains, shaped as `email-security_Domain`."""
    records = []
    for domain, status, modes, provider, regions, days in _SAMPLE:
        added = start - timedelta(days=days)
        processed = rng.randint(20_000, 90_000) if status == "ACTIVE" else 0
        records.append(
            {
                "id": new_uuid(rng),
                "domain": domain,
                "status": status,
                "allowed_delivery_modes": list(modes),
                "authorization": {
                    "authorized": status == "ACTIVE",
                    "status_message": None if status == "ACTIVE" else "Awaiting MX change",
                    "timestamp": iso(added + timedelta(hours=1)),
                },
                "dmarc_status": "good" if status == "ACTIVE" else "none",
                "spf_status": "good" if status == "ACTIVE" else "none",
                "drop_dispositions": ["MALICIOUS", "SPAM"],
                "emails_processed": {
                    "timestamp": iso(start),
                    "total_emails_processed": processed,
                    "total_emails_processed_previous": processed * 9 // 10,
                },
                "folder": "Inbox",
                "inbox_provider": provider,
                "integration_id": new_uuid(rng) if "API" in modes else None,
                "ip_restrictions": [],
                "lookback_hops": 1,
                "o365_tenant_id": new_uuid(rng) if provider == "Microsoft" else None,
                "regions": list(regions),
                "require_tls_inbound": True,
                "require_tls_outbound": False,
                "transport": f"mx.{domain}",
                "created_at": iso(added),
                "modified_at": iso(added),
                "last_modified": iso(added),
            }
        )
    return records


def list_domains(
    records: list[Record], params: Params, domains: Sequence[str]
) -> tuple[list[object], dict[str, int]]:
    """`GET /settings/domains`: filtered, sorted and paged. `domains` is the repeated `domain`
    parameter (any of them matches). `active_delivery_mode` is not filtered on: a record shows
    only the modes allowed, not the one in use."""
    search = params.get("search", "").lower()
    status = parse_enum(params, "status", STATUSES)
    mode = parse_enum(params, "allowed_delivery_mode", DELIVERY_MODES)
    wanted = {d.lower() for d in domains if d}

    def keep(record: Record) -> bool:
        name = str(record["domain"]).lower()
        return (
            search in name
            and (not wanted or name in wanted)
            and status in (None, record["status"])
            and (mode is None or mode in record["allowed_delivery_modes"])
            and params.get("integration_id") in (None, record["integration_id"])
        )

    order = parse_enum(params, "order", ("domain", "created_at")) or "domain"
    descending = (parse_enum(params, "direction", ("asc", "desc")) or "asc") == "desc"
    kept = sorted((dict(r) for r in records if keep(r)), key=lambda r: str(r[order]).lower())
    items: list[object] = list(reversed(kept) if descending else kept)
    return paginate(items, params)
