"""Who may do what: viewers, operators and approvers from configuration, fail closed.

User-group membership is looked up through an injected function (the Slack side provides it)
and cached only briefly, so removing someone from a group takes effect within a minute. The
checks that let an approval request go ahead (`lacking`) look groups up fresh, never from the
cache: a person removed a second ago does not approve, and a request does not run for them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from bot.config import Settings
from bot.errors import Refused
from bot.roles import SETTING, Role

GroupMembers = Callable[[str], Awaitable[frozenset[str]]]


# Higher roles include looking things up: an operator or approver must see what they act on.
GRANTS = {
    Role.VIEWER: {Role.VIEWER, Role.OPERATOR, Role.APPROVER},
    Role.OPERATOR: {Role.OPERATOR},
    Role.APPROVER: {Role.APPROVER},
}


@dataclass(frozen=True)
class Refusal:
    """Why a user may not do something, and who can."""

    text: str


class GroupLookupError(Exception):
    """Slack could not tell us a user group's members."""


class Policy:
    def __init__(
        self,
        settings: Settings,
        group_members: GroupMembers,
        cache_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries = {
            Role.VIEWER: settings.bot_viewers,
            Role.OPERATOR: settings.bot_operators,
            Role.APPROVER: settings.bot_approvers,
        }
        self._group_members = group_members
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    async def check(
        self, user_id: str, needed: Role, action: str, *, fresh: bool = False
    ) -> Refusal | None:
        """None when `user_id` may do `action` (which needs `needed`), else why not. `fresh`:
        groups are looked up from Slack now, not from the cache."""
        granting = sorted(GRANTS[needed])
        if not any(self._entries[r] for r in granting):
            return Refusal(
                f"Nobody may {action} yet: no {needed.value} is configured. An admin must set "
                f"{SETTING[needed]} (Slack user ids U… or user-group ids S…) and restart the bot."
            )
        failures: list[str] = []
        members = self._fresh() if fresh else self._members
        for role in granting:
            try:
                if await self._has(user_id, role, members):
                    return None
            except GroupLookupError as exc:
                failures.append(str(exc))
        if failures:
            return Refusal(
                f"Could not check your {needed.value} role ({'; '.join(failures)}); "
                "try again in a minute."
            )
        return Refusal(
            f"You need the {needed.value} role to {action}. {self.who(needed)} "
            f"An admin can add you to {SETTING[needed]}."
        )

    async def require(
        self, user_id: str, needed: Role, action: str, *, fresh: bool = False
    ) -> None:
        """Raise Refused (saying who may instead) unless `user_id` may do `action`."""
        refusal = await self.check(user_id, needed, action, fresh=fresh)
        if refusal is not None:
            raise Refused(refusal.text)

    async def lacking(self, holders: Sequence[tuple[str, Role]]) -> list[tuple[str, Role]]:
        """Of `holders` (user, role), those whose user does not hold that role now, with every
        group looked up fresh from Slack (each once per call). Raises GroupLookupError when a
        group that decides it cannot be read: callers fail closed."""
        members = self._fresh()
        lacking = []
        for user_id, role in holders:
            if not await self._holds(user_id, role, members):
                lacking.append((user_id, role))
        return lacking

    async def roles(self, user_id: str) -> list[Role]:
        """Every role `user_id` holds now (group membership looked up, briefly cached)."""
        return [r for r in Role if await self.check(user_id, r, "") is None]

    def who(self, role: Role) -> str:
        """A sentence naming who holds `role`; safe to send (ids only, nobody is pinged
        in the private messages it is used in)."""
        users = [e for e in self._entries[role] if not e.startswith("S")]
        groups = [e for e in self._entries[role] if e.startswith("S")]
        parts = [f"<@{u}>" for u in users[:10]] + [f"members of user group {g}" for g in groups]
        return f"{role.value.capitalize()}s: {', '.join(parts)}." if parts else ""

    async def _holds(self, user_id: str, needed: Role, members: GroupMembers) -> bool:
        for role in sorted(GRANTS[needed]):
            if await self._has(user_id, role, members):
                return True
        return False

    async def _has(self, user_id: str, role: Role, members: GroupMembers) -> bool:
        entries = self._entries[role]
        if user_id in entries:
            return True
        for group in (e for e in entries if e.startswith("S")):
            if user_id in await members(group):
                return True
        return False

    def _fresh(self) -> GroupMembers:
        """Group members from Slack now, each group once for the caller's check; the cache
        takes the answer too, so a removal seen here holds for every later check."""
        seen: dict[str, frozenset[str]] = {}

        async def members(group_id: str) -> frozenset[str]:
            if group_id not in seen:
                seen[group_id] = await self._group_members(group_id)
                self._cache[group_id] = (self._clock(), seen[group_id])
            return seen[group_id]

        return members

    async def _members(self, group_id: str) -> frozenset[str]:
        now = self._clock()
        cached = self._cache.get(group_id)
        if cached and now - cached[0] < self._cache_seconds:
            return cached[1]
        members = await self._group_members(group_id)
        self._cache[group_id] = (now, members)
        return members
