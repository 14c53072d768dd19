"""Roles from configuration, fail closed, groups checked through Slack and cached briefly."""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.roles import Role
from bot.services.policy import GroupLookupError, Policy


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def settings(**values: object) -> Settings:
    return Settings.model_validate(values)


async def test_nobody_configured_means_nobody_with_the_setting_named() -> None:
    policy = Policy(settings(), _no_groups)
    refusal = await policy.check("U1", Role.OPERATOR, "release messages")
    assert refusal is not None
    assert "BOT_OPERATORS" in refusal.text and "Nobody may release messages" in refusal.text


async def test_roles_and_their_reach() -> None:
    policy = Policy(
        settings(bot_viewers="UVIEW", bot_operators="UOPS", bot_approvers="UAPP"), _no_groups
    )
    assert await policy.check("UVIEW", Role.VIEWER, "look up") is None
    assert await policy.check("UOPS", Role.VIEWER, "look up") is None, "operators may look up"
    assert await policy.check("UAPP", Role.VIEWER, "look up") is None, "approvers may look up"
    refusal = await policy.check("UVIEW", Role.OPERATOR, "release messages")
    assert refusal is not None
    assert "operator role" in refusal.text and "<@UOPS>" in refusal.text
    assert await policy.check("UAPP", Role.OPERATOR, "release") is not None
    assert await policy.check("USTRANGER", Role.VIEWER, "look up") is not None


async def test_groups_are_cached_briefly() -> None:
    members = {"SOPS": frozenset({"U1"})}
    asked: list[str] = []

    async def lookup(group: str) -> frozenset[str]:
        asked.append(group)
        return members[group]

    clock = Clock()
    policy = Policy(settings(bot_operators="SOPS"), lookup, cache_seconds=60, clock=clock)
    assert await policy.check("U1", Role.OPERATOR, "act") is None
    members["SOPS"] = frozenset()
    assert await policy.check("U1", Role.OPERATOR, "act") is None, "within the cache window"
    clock.now = 61
    assert await policy.check("U1", Role.OPERATOR, "act") is not None, "removal takes effect"
    assert asked == ["SOPS", "SOPS"]


async def test_group_lookup_failure_refuses_and_says_why() -> None:
    async def broken(group: str) -> frozenset[str]:
        raise GroupLookupError(f"user group {group}: ratelimited")

    policy = Policy(settings(bot_operators="SOPS"), broken)
    refusal = await policy.check("U1", Role.OPERATOR, "act")
    assert refusal is not None and "ratelimited" in refusal.text


async def _no_groups(group: str) -> frozenset[str]:
    pytest.fail(f"no group should be looked up, asked for {group}")
