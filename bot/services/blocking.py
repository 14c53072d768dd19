"""What a block would do, before anyone confirms it: the pattern (from the envelope sender, never
the forgeable header From alone), how many recent messages it would have matched, and whether
it is risky enough to need an approver (DESIGN.md "Policy and approvals": blocking a public
email provider, a public suffix or a domain the tenant trusts switches off mail from many
legitimate senders at once; blocking one of the tenant's own protected domains switches off its
own mail)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.cloudflare import ApiError, EmailSecurityClient
from bot.cloudflare.models import MessageDetails, PatternType
from bot.services.outcomes import RECENT_DAYS, BlockChoice, BlockPreview
from bot.services.suffixes import public_suffixes

COUNT_PAGE = 1000  # one search page: enough to say "N", else "more than 1,000"

# Free mailbox providers: a domain block would stop every customer, candidate and partner who
# writes from a personal mailbox. Curated from the providers' own published domain lists
# (Google, Microsoft outlook.com/hotmail/live/msn, Yahoo, Apple iCloud, AOL, Proton, GMX,
# Mail.ru, Yandex, Zoho, Fastmail, Tutanota); extend it when a provider shows up in mail.
PUBLIC_PROVIDERS = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.co.uk",
        "live.com", "msn.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "ymail.com",
        "icloud.com", "me.com", "mac.com", "aol.com", "proton.me", "protonmail.com",
        "gmx.com", "gmx.de", "gmx.net", "web.de", "mail.ru", "yandex.com", "yandex.ru",
        "zoho.com", "fastmail.com", "tutanota.com", "mail.com", "qq.com", "163.com",
    }
)  # fmt: skip


def envelope_sender(message: MessageDetails) -> str | None:
    """The address the mail really came from (the envelope sender, else the header From), in
    lower case, or None when the message has no address."""
    address = (message.envelope_from or message.sender or "").strip().strip("<>").lower()
    return address if "@" in address else None


def block_pattern(message: MessageDetails, pattern_type: PatternType) -> str | None:
    """The envelope sender (EMAIL) or its domain (DOMAIN) of `message`, if it has one."""
    address = envelope_sender(message)
    if address is None:
        return None
    return address if pattern_type == "EMAIL" else address.rsplit("@", 1)[1]


def forged_from(message: MessageDetails) -> str | None:
    """The header From when it is not the envelope sender (shown beside it, never used)."""
    header = (message.from_ or "").strip().strip("<>").lower()
    return header if header and header != envelope_sender(message) else None


class BlockRules:
    """Counts recent matches and names the rule that makes a block need approval."""

    def __init__(self, email: EmailSecurityClient) -> None:
        self.email = email

    async def preview(
        self, patterns: list[tuple[PatternType, str]], header_from: str | None = None
    ) -> BlockPreview:
        choices = [
            BlockChoice(kind, pattern, *await self.count(pattern), await self.risk(pattern, kind))
            for kind, pattern in patterns
        ]
        return BlockPreview(choices, header_from)

    async def count(self, pattern: str) -> tuple[int, bool]:
        """Messages from `pattern` (an address, or any address at a domain) in the last
        RECENT_DAYS days: one page, and whether there were more. Every verdict counts (the
        search keeps detections only unless told otherwise): a block stops clean mail too."""
        start = datetime.now(UTC) - timedelta(days=RECENT_DAYS)
        page = await self.email.search_page(
            sender=pattern, start=start, detections_only=False, per_page=COUNT_PAGE
        )
        return len(page.messages), page.next_cursor is not None

    async def risk(self, pattern: str, pattern_type: PatternType) -> str | None:
        """Why blocking `pattern` needs approval (our words only: the pattern may come from an
        attacker's envelope, and the card names it made safe), or None. Only a domain block is
        risky: one address at gmail.com is one sender, and so is one address at the tenant's
        own domain (a colleague, or a spoofer using their address: the block stops that one
        sender, which is what the person asked for, and the rest of the tenant's mail flows)."""
        if pattern_type != "DOMAIN":
            return None
        domain = pattern.strip().strip(".").lower()
        if domain in PUBLIC_PROVIDERS:
            return "it blocks a public email provider: every one of its users"
        # A public suffix is one under which anyone registers a domain (co.uk, github.io):
        # blocking one blocks every sender registered under it.
        if public_suffixes().is_public(domain):
            return "it blocks a public suffix: every domain registered under it"
        return await self._trusted(domain) or await self._own_domain(domain)

    async def _trusted(self, domain: str) -> str | None:
        """The rule when `domain` is on the tenant's trusted domains list (fail closed: a list
        that cannot be read counts as naming it)."""
        try:
            trusted = await self.email.list_trusted_domains(pattern=domain)
        except ApiError:
            return "it may block a domain the tenant trusts (the trusted list could not be checked)"
        if any(t.pattern.lower().strip(".") == domain for t in trusted):
            return "it blocks a domain on the tenant's trusted domains list"
        return None

    async def _own_domain(self, domain: str) -> str | None:
        """The rule when `domain` is one of the tenant's protected domains or under one. The
        list is read whole on every check (it is short) since a subdomain counts too; every
        listed domain counts whatever its status (a PENDING one is still the tenant's own)."""
        try:
            protected = await self.email.list_protected_domains()
        except ApiError:
            # Fail closed: a block we cannot check could switch off the tenant's own mail.
            return (
                "it may block one of the tenant's own protected domains "
                "(the list could not be checked)"
            )
        for entry in protected:
            own = entry.domain.strip().strip(".").lower()
            if own and (domain == own or domain.endswith(f".{own}")):
                return "it blocks one of the tenant's own protected domains"
        return None
