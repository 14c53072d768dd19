"""The settings collections as attributes of the client, and the bot's one-line calls on them.

`client.block_senders`, `.allow_policies`, `.trusted_domains`, `.protected_domains`,
`.impersonation_registry`, `.sending_domain_restrictions` and `.url_ignore_patterns` each
list, page, get, create, edit and delete (settings.py); the wrappers below keep the calls the
services make (`block_sender`, `list_trusted_domains`, ...) as they were.
"""

from __future__ import annotations

from typing import Any, TypeVar

from bot.cloudflare.core import ClientCore, endpoint
from bot.cloudflare.models import PatternType
from bot.cloudflare.queries import (
    AllowPolicyFilters,
    BlockedSenderFilters,
    DomainFilters,
    ImpersonationFilters,
    SendingDomainRestrictionFilters,
    TrustedDomainFilters,
    UrlIgnorePatternFilters,
)
from bot.cloudflare.settings import (
    BatchCollection,
    Collection,
    DeletesBatchCollection,
    DomainsCollection,
)
from bot.cloudflare.settings_models import (
    AllowPolicy,
    AllowPolicyChanges,
    BlockedSender,
    BlockedSenderChanges,
    ImpersonationChanges,
    ImpersonationEntry,
    NewAllowPolicy,
    NewBlockedSender,
    NewImpersonationEntry,
    NewSendingDomainRestriction,
    NewTrustedDomain,
    NewUrlIgnorePattern,
    ProtectedDomain,
    SendingDomainRestriction,
    SendingDomainRestrictionChanges,
    TrustedDomain,
    TrustedDomainChanges,
    UrlIgnorePattern,
    UrlIgnorePatternChanges,
)

COMMENTS_MAX = 1024
T = TypeVar("T", bound=Any)


class SettingsApi(ClientCore):
    block_senders: Collection[BlockedSender, NewBlockedSender, BlockedSenderChanges]
    allow_policies: BatchCollection[AllowPolicy, NewAllowPolicy, AllowPolicyChanges, NewAllowPolicy]
    trusted_domains: BatchCollection[
        TrustedDomain, NewTrustedDomain, TrustedDomainChanges, NewTrustedDomain
    ]
    protected_domains: DomainsCollection
    impersonation_registry: Collection[
        ImpersonationEntry, NewImpersonationEntry, ImpersonationChanges
    ]
    sending_domain_restrictions: DeletesBatchCollection[
        SendingDomainRestriction, NewSendingDomainRestriction, SendingDomainRestrictionChanges
    ]
    url_ignore_patterns: BatchCollection[
        UrlIgnorePattern, NewUrlIgnorePattern, UrlIgnorePatternChanges, NewUrlIgnorePattern
    ]

    def _open_collections(self) -> None:
        self.block_senders = Collection(self, "block_senders", BlockedSender, BlockedSenderFilters)
        self.allow_policies = BatchCollection(
            self, "allow_policies", AllowPolicy, AllowPolicyFilters
        )
        self.trusted_domains = BatchCollection(
            self, "trusted_domains", TrustedDomain, TrustedDomainFilters
        )
        self.protected_domains = DomainsCollection(self, "domains", ProtectedDomain, DomainFilters)
        self.impersonation_registry = Collection(
            self, "impersonation_registry", ImpersonationEntry, ImpersonationFilters
        )
        self.sending_domain_restrictions = DeletesBatchCollection(
            self, "sending_domain_restrictions", SendingDomainRestriction,
            SendingDomainRestrictionFilters,
        )  # fmt: skip
        self.url_ignore_patterns = BatchCollection(
            self, "url_ignore_patterns", UrlIgnorePattern, UrlIgnorePatternFilters, by_id=False
        )

    def collections(self) -> dict[str, Collection[Any, Any, Any]]:
        return {
            "block_senders": self.block_senders,
            "allow_policies": self.allow_policies,
            "trusted_domains": self.trusted_domains,
            "protected_domains": self.protected_domains,
            "impersonation_registry": self.impersonation_registry,
            "sending_domain_restrictions": self.sending_domain_restrictions,
            "url_ignore_patterns": self.url_ignore_patterns,
        }

    # -- the bot's calls ------------------------------------------------------------------------

    @endpoint("POST", "settings/block_senders")
    async def block_sender(
        self,
        pattern: str,
        pattern_type: PatternType,
        is_regex: bool = False,
        comments: str | None = None,
    ) -> BlockedSender:
        if pattern_type not in ("EMAIL", "DOMAIN", "IP"):
            raise ValueError("pattern_type must be EMAIL, DOMAIN or IP (UNKNOWN is read-only)")
        if not pattern.strip():
            raise ValueError("the pattern is empty")
        new = NewBlockedSender(
            pattern=pattern, pattern_type=pattern_type, is_regex=is_regex,
            comments=comments[:COMMENTS_MAX] if comments else None,
        )  # fmt: skip
        return await self.block_senders.create(new)

    @endpoint("GET", "settings/block_senders")
    async def list_blocked_senders(self, **filters: Any) -> list[BlockedSender]:
        return await _listed(self.block_senders, filters)

    @endpoint("DELETE", "settings/block_senders/{pattern_id}")
    async def delete_blocked_sender(self, pattern_id: str) -> str:
        return await self.block_senders.delete(pattern_id)

    @endpoint("POST", "settings/allow_policies")
    async def create_allow_policy(
        self,
        pattern: str,
        pattern_type: PatternType,
        *,
        is_exempt_recipient: bool = False,
        is_trusted_sender: bool = False,
        is_acceptable_sender: bool = False,
        verify_sender: bool = True,
        is_regex: bool = False,
        comments: str | None = None,
    ) -> AllowPolicy:
        """Create an allow policy. Uses the current flag names only; `is_recipient`,
        `is_sender` and `is_spoof` reached end of life on 2026-07-01."""
        if not pattern.strip():
            raise ValueError("the pattern is empty")
        new = NewAllowPolicy(
            pattern=pattern, pattern_type=pattern_type, is_exempt_recipient=is_exempt_recipient,
            is_trusted_sender=is_trusted_sender, is_acceptable_sender=is_acceptable_sender,
            verify_sender=verify_sender, is_regex=is_regex,
            comments=comments[:COMMENTS_MAX] if comments else None,
        )  # fmt: skip
        return await self.allow_policies.create(new)

    @endpoint("GET", "settings/allow_policies")
    async def list_allow_policies(self, **filters: Any) -> list[AllowPolicy]:
        return await _listed(self.allow_policies, filters)

    @endpoint("GET", "settings/trusted_domains")
    async def list_trusted_domains(self, **filters: Any) -> list[TrustedDomain]:
        return await _listed(self.trusted_domains, filters)

    @endpoint("GET", "settings/domains")
    async def list_protected_domains(self, **filters: Any) -> list[ProtectedDomain]:
        """The domains Email Security protects for this account (every page)."""
        return await _listed(self.protected_domains, filters)


async def _listed(collection: Collection[T, Any, Any], filters: dict[str, Any]) -> list[T]:
    """All pages; only the page asked for when `page` is given (with `per_page`)."""
    if "page" in filters:
        page, per_page = int(filters.pop("page")), int(filters.pop("per_page", 20))
        return (await collection.page(page, per_page, **filters)).items
    return await collection.list(**filters)
