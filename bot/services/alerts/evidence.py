"""What groups messages beyond their sender and subject: the domains their links point to and
the hashes of their attachments. Search results do not carry them; each message's detections
(`GET …/{id}/detections`) do, at one API call per message, out of the same 1,200 per 5 minutes
people's lookups use. So the poller looks up at most `ALERT_EVIDENCE_LOOKUPS` new messages a
cycle (the most severe first) and the rest group without (the fingerprint, sender domain and
subject still apply). A lookup that fails costs nothing but the grouping: the alert goes out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from bot.cloudflare import ApiError, EmailSecurityClient
from bot.cloudflare.models import Detections, MessageDetails
from bot.services.alerts.models import Evidence
from bot.services.blocking import PUBLIC_PROVIDERS
from bot.services.suffixes import public_suffixes

log = logging.getLogger("bot.alerts")

KEEP = 5  # link domains, and attachment hashes, kept per message
CONCURRENCY = 5  # detections looked up at once
# Hosts that phishing and honest mail alike link to (logos, terms, social buttons): a shared
# one says nothing about a campaign, and would merge unrelated ones.
COMMON_LINK_DOMAINS = frozenset(
    {
        "microsoft.com", "office.com", "office365.com", "live.com", "google.com",
        "apple.com", "amazon.com", "linkedin.com", "facebook.com", "twitter.com", "x.com",
        "instagram.com", "youtube.com", "w3.org", "schema.org", "aka.ms",
    }
)  # fmt: skip


def registered_domain(url: str) -> str | None:
    """The domain a link's host is registered under (`login.evil.co.uk` -> `evil.co.uk`)."""
    try:
        host = urlsplit(url.strip() if "://" in url else f"//{url.strip()}").hostname
    except ValueError:
        return None
    if not host or "." not in host:
        return None
    return public_suffixes().privatesuffix(host.rstrip(".").lower())


def evidence_of(detections: Detections, recipients: Iterable[str]) -> Evidence:
    """The link domains (none of the recipients' own, none of COMMON_LINK_DOMAINS) and the
    attachment hashes (sha256, else sha1, else md5) of one message, at most KEEP of each."""
    own = {r.rpartition("@")[2].lower() for r in recipients if "@" in r}
    domains = []
    for link in detections.links:
        domain = registered_domain(link.href)
        if domain and domain not in own and domain not in COMMON_LINK_DOMAINS | PUBLIC_PROVIDERS:
            domains.append(domain)
    hashes = [(a.sha256 or a.sha1 or a.md5 or "").strip().lower() for a in detections.attachments]
    return Evidence(
        link_domains=list(dict.fromkeys(domains))[:KEEP],
        attachment_hashes=list(dict.fromkeys(h for h in hashes if h))[:KEEP],
    )


async def gather(
    client: EmailSecurityClient, messages: Sequence[MessageDetails], budget: int
) -> dict[str, Evidence]:
    """The evidence of the first `budget` of `messages`, by message id (those whose lookup
    failed are left out)."""
    chosen = list(messages)[: max(budget, 0)]
    if not chosen:
        return {}
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(message: MessageDetails) -> tuple[str, Evidence | None]:
        async with gate:
            try:
                found = await client.get_detections(message.id)
            except ApiError as exc:
                log.info("alerts: no detections for %s, grouped without: %s", message.id, exc)
                return message.id, None
        return message.id, evidence_of(found, message.recipients)

    answers = await asyncio.gather(*(one(m) for m in chosen))
    return {mid: found for mid, found in answers if found is not None}
