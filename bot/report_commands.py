"""The arguments of `/email vip`, `/email submissions` and `/email phishguard` (issue 16,
items 3 and 4), kept apart from `bot.commands` so that the parser there stays one screen per
verb family. A problem raises `ArgsError`; `bot.commands.parse` turns it into a UsageError
with the verb's usage."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

DURATION = re.compile(r"^(\d{1,4})([mhdw])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
EMAIL = re.compile(r"^[^@\s<>]{1,64}@(?P<domain>[^@\s<>]{1,253})$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
MAX_VIP_FILTER = 200  # characters of `vip <text>`
MAX_NAME = 100  # characters of a VIP's name (a person's name; the API takes 1024)
DEFAULT_SINCE = timedelta(days=7)
MAX_SINCE = timedelta(days=90)  # submissions and reports older than this are not listed
# The statuses a submission goes through (pending, then completed; a user's report may be
# escalated to the team first).
SUBMISSION_STATUSES = ("pending", "escalated", "completed")


class ArgsError(Exception):
    """What was wrong with the words after the verb."""


@dataclass(frozen=True)
class VipCommand:
    """`vip [text]` (list, filtered by `text`) or `vip add <email> <name…>`."""

    action: Literal["list", "add"]
    text: str = ""
    email: str = ""
    name: str = ""


@dataclass(frozen=True)
class SubmissionsCommand:
    since: timedelta = DEFAULT_SINCE
    status: str | None = None


@dataclass(frozen=True)
class PhishGuardCommand:
    since: timedelta = DEFAULT_SINCE


def vip(args: list[str]) -> VipCommand:
    if args and args[0].lower() == "add":
        if len(args) < 3:
            raise ArgsError("vip add takes an email address and the person's name")
        address = args[1].strip().strip("<>").lower()
        match = EMAIL.match(address)
        if match is None or DOMAIN.match(match["domain"]) is None:
            raise ArgsError(f"`{args[1][:80]}` is not an email address")
        name = " ".join(args[2:]).strip()
        if len(name) > MAX_NAME:
            raise ArgsError(f"the name is {len(name)} characters; at most {MAX_NAME}")
        return VipCommand("add", email=address, name=name)
    text = " ".join(args).strip()
    if len(text) > MAX_VIP_FILTER:
        raise ArgsError(f"the text is {len(text)} characters; at most {MAX_VIP_FILTER}")
    return VipCommand("list", text=text)


def _options(args: list[str], allowed: tuple[str, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    for word in args:
        key, sep, value = word.partition(":")
        key = key.lower()
        if not sep or key not in allowed:
            takes = " and ".join(f"`{name}:`" for name in allowed)
            raise ArgsError(f"`{word[:40]}` is not understood; this takes {takes}")
        if not value:
            raise ArgsError(f"`{key}:` needs a value")
        if key in found:
            raise ArgsError(f"give `{key}:` once")
        found[key] = value
    return found


def since(value: str | None) -> timedelta:
    if value is None:
        return DEFAULT_SINCE
    match = DURATION.match(value.lower())
    if not match:
        raise ArgsError("`since:` takes a duration such as 30m, 24h, 7d or 2w")
    span = timedelta(**{UNITS[match[2]]: int(match[1])})
    if not timedelta(0) < span <= MAX_SINCE:
        raise ArgsError(f"`since:` goes back at most {MAX_SINCE.days} days")
    return span


def submissions(args: list[str]) -> SubmissionsCommand:
    found = _options(args, ("since", "status"))
    status = found.get("status")
    if status is not None and status.lower() not in SUBMISSION_STATUSES:
        raise ArgsError(f"`status:` is one of {', '.join(SUBMISSION_STATUSES)}")
    return SubmissionsCommand(since(found.get("since")), status.lower() if status else None)


def phishguard(args: list[str]) -> PhishGuardCommand:
    return PhishGuardCommand(since(_options(args, ("since",)).get("since")))
