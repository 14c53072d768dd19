"""Protected domains: the tenant's own mail domains that Email Security protects.

The sample tenant receives mail at example.com, example.org and eu.example.com (the sample
messages' recipients, `catalog.TENANT_DOMAINS`), so those are its protected domains: a bot
deciding whether a block would stop the tenant's own mail has something real to compare with.
`reset()` restores them with the rest of the data.

A domain added through the API starts PENDING, not authorized, with a DNS TXT record to publish
(`GET …/verification` answers it; the sample's domains, verified by other means, answer 204).
Once `VERIFY_AFTER` has passed on the store's clock, the record counts as found and the domain
is ACTIVE. The bulk `DELETE /settings/domains` is past end of life: `/batch` replaces it.
"""

from __future__ import annotations

import builtins
import copy
import hashlib
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NoReturn

from bot.simulator.errors import ApiError, end_of_life, invalid, malformed, not_found
from bot.simulator.messages import DISPOSITIONS, iso
from bot.simulator.params import Params, paginate, parse_enum
from bot.simulator.patterns import check_domain, check_pattern
from bot.simulator.seeds import Record, new_uuid, public_record

STATUSES = ("PENDING", "ACTIVE", "FAILED", "TIMEOUT")
DELIVERY_MODES = ("DIRECT", "BCC", "JOURNAL", "API", "RETRO_SCAN")
REGIONS = ("GLOBAL", "AU", "DE", "IN", "US")
FOLDERS = ("AllItems", "Inbox")
VERIFY_AFTER = timedelta(minutes=5)
MAX_BATCH = 1000

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
    kept = sorted(
        (public_record(r) for r in records if keep(r)), key=lambda r: str(r[order]).lower()
    )
    items: list[object] = list(reversed(kept) if descending else kept)
    return paginate(items, params)


class Domains:
    """The protected domains of the account, and every change the API allows to them."""

    def __init__(self, records: list[Record], rng: random.Random) -> None:
        self.records = records
        self._rng = rng

    def list(self, params: Params, domains: Sequence[str], now: datetime) -> Any:
        self.settle(now)
        return list_domains(self.records, params, domains)

    def get(self, domain_id: str, now: datetime) -> Record:
        self.settle(now)
        return public_record(self._find(domain_id))

    def create(self, body: Any, now: datetime) -> Record:
        fields = _fields(body, creating=True, replacing=False)
        name = str(fields.pop("domain")).lower()
        check_domain(name)
        if any(str(r["domain"]).lower() == name for r in self.records):
            raise invalid(f"Domain '{name}' is already protected")
        token = hashlib.sha256(f"{name}|{self._rng.random()}".encode()).hexdigest()[:32]
        record = {
            "id": new_uuid(self._rng), "domain": name, "status": "PENDING",
            "authorization": {
                "authorized": False, "status_message": "Awaiting the DNS TXT record",
                "timestamp": iso(now),
            },
            "dmarc_status": "none", "spf_status": "none", "inbox_provider": None,
            "o365_tenant_id": None, "folder": "Inbox", "integration_id": None,
            "lookback_hops": 1, "ip_restrictions": [], "regions": ["GLOBAL"],
            "require_tls_inbound": False, "require_tls_outbound": False, "transport": f"mx.{name}",
            "emails_processed": {
                "timestamp": iso(now), "total_emails_processed": 0,
                "total_emails_processed_previous": 0,
            },
            **fields,
            "created_at": iso(now), "modified_at": iso(now), "last_modified": iso(now),
            "_verification": {
                "txt_record_name": f"_cf-email-security.{name}",
                "txt_record_value": f"cf-email-security-verification={token}",
                "verify_at": iso(now + VERIFY_AFTER),
            },
        }  # fmt: skip
        self.records.append(record)
        return public_record(record)

    def update(self, domain_id: str, body: Any, now: datetime, replacing: bool = False) -> Record:
        record = self._find(domain_id)
        record.update(_fields(body, creating=False, replacing=replacing))
        record.update(modified_at=iso(now), last_modified=iso(now))
        return public_record(record)

    def delete(self, domain_id: str) -> dict[str, str]:
        self.records.remove(self._find(domain_id))
        return {"id": domain_id}

    def verification(self, domain_id: str, now: datetime) -> Record | None:
        """The TXT record of a domain added through the API; None for the others (204)."""
        self.settle(now)
        record = self._find(domain_id)
        pending = record.get("_verification")
        if pending is None:
            return None
        found = record["status"] == "ACTIVE"
        return {
            "status": record["status"],
            "txt_record_name": pending["txt_record_name"],
            "txt_record_value": pending["txt_record_value"],
            "last_checked_at": iso(now) if not found else pending["verify_at"],
        }

    def batch(self, body: Any, now: datetime) -> dict[str, builtins.list[Any]]:
        """deletes, patches, puts, posts (all four required), atomically."""
        if not isinstance(body, dict):
            raise malformed("The request body must be a JSON object")
        parts = ("deletes", "patches", "puts", "posts")
        missing = [part for part in parts if not isinstance(body.get(part), list)]
        if missing:
            raise invalid(f"Missing required field(s): {', '.join(missing)} (send [] when unused)")
        if any(len(body[part]) > MAX_BATCH for part in parts):
            raise invalid(f"Maximum batch size: {MAX_BATCH} operations of each kind per request")
        saved = copy.deepcopy(self.records)
        try:
            return {
                "deletes": [self.delete(_id(item)) for item in body["deletes"]],
                "patches": [self.update(_id(item), _rest(item), now) for item in body["patches"]],
                "puts": [self.update(_id(item), _rest(item), now, True) for item in body["puts"]],
                "posts": [self.create(item, now) for item in body["posts"]],
            }
        except ApiError:
            self.records[:] = saved
            raise

    @staticmethod
    def bulk_delete() -> NoReturn:
        raise end_of_life("DELETE /settings/domains", "POST /settings/domains/batch")

    def settle(self, now: datetime) -> None:
        """A pending domain whose TXT record has had time to be found becomes ACTIVE."""
        for record in self.records:
            pending = record.get("_verification")
            if record["status"] == "PENDING" and pending and pending["verify_at"] <= iso(now):
                record["status"] = "ACTIVE"
                record["authorization"] = {
                    "authorized": True, "status_message": None, "timestamp": pending["verify_at"],
                }  # fmt: skip

    def _find(self, domain_id: str) -> Record:
        for record in self.records:
            if record["id"] == domain_id:
                return record
        raise not_found("Domain")


def _id(item: Any) -> str:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise invalid("Each delete, patch and put needs the 'id' of a domain")
    return str(item["id"])


def _rest(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key != "id"}


_LISTS = {
    "allowed_delivery_modes": (DELIVERY_MODES, 10),
    "drop_dispositions": (DISPOSITIONS, 10),
    "regions": (REGIONS, 10),
}
_OPTIONAL = ("folder", "integration_id", "require_tls_inbound", "require_tls_outbound", "transport")


def _fields(body: Any, *, creating: bool, replacing: bool) -> dict[str, Any]:
    """The writable fields of a create (POST), replace (PUT) or update (PATCH), checked."""
    if not isinstance(body, dict):
        raise malformed("The request body must be a JSON object")
    required = ["allowed_delivery_modes", "drop_dispositions", "ip_restrictions", "regions"]
    required += ["domain"] if creating else ["lookback_hops"] if replacing else []
    if creating or replacing:
        missing = [name for name in required if name not in body]
        if missing:
            raise invalid(f"Missing required field(s): {', '.join(missing)}")
    writable = (*_LISTS, "ip_restrictions", "lookback_hops", *_OPTIONAL, "domain")
    fields = {name: body[name] for name in writable if name in body}
    if not creating:
        fields.pop("domain", None)  # a domain's name is not editable
    for name, (allowed, most) in _LISTS.items():
        value = fields.get(name, [])
        if not isinstance(value, list) or len(value) > most or any(v not in allowed for v in value):
            raise invalid(f"'{name}' must be a list of at most {most} of {', '.join(allowed)}")
    ips = fields.get("ip_restrictions", [])
    if not isinstance(ips, list) or len(ips) > 100:
        raise invalid("'ip_restrictions' must be a list of at most 100 addresses or networks")
    for ip in ips:
        check_pattern(str(ip), "IP", False)
    hops = fields.get("lookback_hops", 1)
    if not isinstance(hops, int) or isinstance(hops, bool) or not 1 <= hops <= 20:
        raise invalid("'lookback_hops' must be an integer from 1 to 20")
    if fields.get("folder") not in (None, *FOLDERS):
        raise invalid(f"'folder' must be one of {', '.join(FOLDERS)}")
    for name in ("require_tls_inbound", "require_tls_outbound"):
        if fields.get(name) is not None and not isinstance(fields[name], bool):
            raise invalid(f"'{name}' must be true or false")
    return fields
