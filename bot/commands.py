"""Parsing of `/email <verb> …` text into typed commands (`bot.command_types`); bad input raises
`UsageError` with a short explanation and the right usage, to be sent back privately. The verbs
themselves are `bot.verbs`; their names are exported here too, where callers first looked."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from datetime import timedelta
from functools import partial

from bot import report_commands
from bot.cloudflare.ids import parse_message_id
from bot.cloudflare.models import (
    DESTINATIONS,
    RECLASSIFY_DISPOSITIONS,
    Destination,
    PatternType,
)
from bot.command_types import (
    MAX_FILTER,
    MAX_IDS,
    MAX_PATTERN,
    MAX_REASON,
    SEARCH_DISPOSITIONS,
    SEARCH_PAGE,
    AllowCommand,
    AllowlistCommand,
    BlockCommand,
    BlocklistCommand,
    Command,
    MessageCommand,
    MoveCommand,
    ReclassifyCommand,
    ReleaseCommand,
    SearchCommand,
    SimpleCommand,
    TrustCommand,
    UsageError,
)
from bot.refang import refang
from bot.report_commands import ArgsError
from bot.verbs import USAGE, VERBS, Verb, role_for

__all__ = [
    "MAX_FILTER",
    "MAX_IDS",
    "MAX_PATTERN",
    "MAX_REASON",
    "SEARCH_DISPOSITIONS",
    "SEARCH_PAGE",
    "USAGE",
    "VERBS",
    "AllowCommand",
    "AllowlistCommand",
    "BlockCommand",
    "BlocklistCommand",
    "Command",
    "MessageCommand",
    "MoveCommand",
    "ReclassifyCommand",
    "ReleaseCommand",
    "SearchCommand",
    "SimpleCommand",
    "TrustCommand",
    "UsageError",
    "Verb",
    "parse",
    "role_for",
]

FOLDER_ALIASES: dict[str, Destination] = {
    **{d.lower(): d for d in DESTINATIONS},
    "junk": "JunkEmail",
    "deleted": "DeletedItems",
    "trash": "DeletedItems",
    "purges": "RecoverableItemsPurges",
    "deletions": "RecoverableItemsDeletions",
}
DURATION = re.compile(r"^(\d{1,4})([mhdw])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
EMAIL = re.compile(r"^[^@\s<>]{1,64}@(?P<domain>[^@\s<>]{1,253})$")
# An approval request's id: `secrets.token_urlsafe(9)` (ApprovalStore.create), 12 characters of
# letters, digits, `-` and `_`.
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{12}$")


def parse(text: str) -> Command:
    """The command `text` asks for; what was pasted defanged (`evil[.]example`) is read as
    what it stands for."""
    try:
        words = [refang(word) for word in shlex.split(text)]
    except ValueError:
        raise UsageError("a quote is not closed") from None
    if not words:
        return SimpleCommand("help")
    verb, args = words[0].lower(), words[1:]
    if verb not in USAGE or " " in verb:
        raise UsageError(f"`{verb[:30]}` is not a command")
    if verb in ("lookup", "preview", "raw", "trace"):
        return MessageCommand(verb, _one_id(args, verb))  # type: ignore[arg-type]
    parsers: dict[str, Callable[[list[str]], Command]] = {
        "search": _search,
        "release": _release,
        "move": _move,
        "reclassify": _reclassify,
        "block": _block,
        **{v: partial(_blocklist, v) for v in ("blocked", "unblock", "domains")},
        "allow": _allow,
        "trust": _trust,
        **{v: partial(_allowlist, v) for v in ("allowed", "trusted", "disallow", "untrust")},
    }
    if verb in parsers:
        return parsers[verb](args)
    reports: dict[str, Callable[[list[str]], Command]] = {
        "vip": report_commands.vip,
        "submissions": report_commands.submissions,
        "phishguard": report_commands.phishguard,
    }
    if verb in reports:
        try:
            return reports[verb](args)
        except ArgsError as problem:
            adding = verb == "vip" and bool(args) and args[0].lower() == "add"
            raise UsageError(str(problem), "vip add" if adding else verb) from None
    if verb == "help" or verb == "approvals":
        return SimpleCommand(verb)  # type: ignore[arg-type]
    if [a.lower() for a in args] == ["verify"]:
        return SimpleCommand("audit", ("verify",))
    if len(args) > 1:
        raise UsageError("audit takes at most one id, or `verify`", "audit")
    return SimpleCommand("audit", tuple(_audit_subject(a) for a in args))


def _audit_subject(word: str) -> str:
    """A message id or an approval request id (the service tells which)."""
    if REQUEST_ID.match(word.strip()):
        return word.strip()
    if parse_message_id(word) is None:
        raise UsageError(
            f"`{word[:80]}` is neither a message id nor an approval request id: ids look like "
            "`4Njp3P0STMz2c02Q`, `4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678` or, for a "
            "request, `q07qad8FV_oK`",
            "audit",
        )
    return word.strip()


def _message_id(word: str, verb: str) -> str:
    if parse_message_id(word) is None:
        raise UsageError(
            f"`{word[:80]}` is not a message id: ids look like `4Njp3P0STMz2c02Q` or "
            "`4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678`",
            verb,
        )
    return word.strip()


def _one_id(args: list[str], verb: str) -> str:
    if len(args) != 1:
        raise UsageError(f"{verb} takes exactly one message id", verb)
    return _message_id(args[0], verb)


def _ids(args: list[str], verb: str) -> tuple[str, ...]:
    if not args:
        raise UsageError(f"{verb} needs at least one message id", verb)
    ids = tuple(dict.fromkeys(_message_id(a, verb) for a in args))
    if len(ids) > MAX_IDS:
        raise UsageError(
            f"too many ids ({len(ids)}; at most {MAX_IDS} per command): use "
            "`search` and its “Release all” / “Move all” for more",
            verb,
        )
    return ids


def _reason(args: list[str], verb: str) -> tuple[list[str], str]:
    """The words without `reason:"…"`, and the reason (shlex keeps a quoted one whole)."""
    reasons = [a.partition(":")[2] for a in args if a.lower().startswith("reason:")]
    if len(reasons) > 1:
        raise UsageError("give one reason", verb)
    reason = reasons[0].strip() if reasons else ""
    if reasons and not reason:
        raise UsageError('`reason:` needs a text, in quotes: reason:"why"', verb)
    if len(reason) > MAX_REASON:
        raise UsageError(f"the reason is {len(reason)} characters; at most {MAX_REASON}", verb)
    return [a for a in args if not a.lower().startswith("reason:")], reason


def _release(args: list[str]) -> ReleaseCommand:
    words, reason = _reason(args, "release")
    return ReleaseCommand(_ids(words, "release"), reason)


def _move(args: list[str]) -> MoveCommand:
    args, reason = _reason(args, "move")
    if len(args) < 2:
        raise UsageError("move needs message ids and a folder", "move")
    folder = FOLDER_ALIASES.get(args[-1].lower())
    if folder is None:
        raise UsageError(
            f"`{args[-1][:40]}` is not a folder; use one of {', '.join(DESTINATIONS)}", "move"
        )
    return MoveCommand(_ids(args[:-1], "move"), folder, reason)


def _reclassify(args: list[str]) -> ReclassifyCommand:
    if len(args) != 2:
        raise UsageError("reclassify takes a message id and a disposition", "reclassify")
    disposition = next((d for d in RECLASSIFY_DISPOSITIONS if d == args[1].upper()), None)
    if disposition is None:
        raise UsageError(
            f"`{args[1][:40]}` is not a disposition; use one of "
            f"{', '.join(RECLASSIFY_DISPOSITIONS)}",
            "reclassify",
        )
    return ReclassifyCommand(_message_id(args[0], "reclassify"), disposition)


def _sender(word: str, verb: str) -> tuple[str, PatternType]:
    """An address (EMAIL) or a domain (DOMAIN), in lower case."""
    value = word.strip().lower().strip("<>")
    if (match := EMAIL.match(value)) and DOMAIN.match(match["domain"]):
        return value, "EMAIL"
    if DOMAIN.match(value):
        return value, "DOMAIN"
    raise UsageError(f"`{word[:80]}` is neither an email address nor a domain", verb)


def _block(args: list[str]) -> BlockCommand:
    if len(args) != 1:
        raise UsageError("block takes one sender address or domain", "block")
    return BlockCommand(*_sender(args[0], "block"))


def _allow(args: list[str]) -> AllowCommand:
    words, reason = _reason(args, "allow")
    if len(words) != 1:
        raise UsageError("allow takes one sender address or domain", "allow")
    return AllowCommand(*_sender(words[0], "allow"), reason)


def _trust(args: list[str]) -> TrustCommand:
    words, reason = _reason(args, "trust")
    if not words:
        raise UsageError("trust needs a domain", "trust")
    domain = words[0].strip().lower()
    if not DOMAIN.match(domain):
        raise UsageError(f"`{words[0][:80]}` is not a domain", "trust")
    checks = {w.lower() for w in words[1:]}
    if not checks <= {"recent", "similarity"}:
        raise UsageError("after the domain: `recent`, `similarity` or nothing (both)", "trust")
    both = not checks
    return TrustCommand(domain, both or "recent" in checks, both or "similarity" in checks, reason)


def _allowlist(verb: str, args: list[str]) -> AllowlistCommand:
    """allowed|trusted [text] (at most MAX_FILTER characters); disallow|untrust <one target>."""
    text = " ".join(args).strip()
    if verb in ("disallow", "untrust") and (len(args) != 1 or len(text) > MAX_PATTERN):
        what = "pattern or allow policy id" if verb == "disallow" else "domain or its id"
        raise UsageError(f"{verb} takes one {what}", verb)
    if len(text) > MAX_FILTER:
        raise UsageError(f"the text is {len(text)} characters; at most {MAX_FILTER}", verb)
    return AllowlistCommand(verb, text)  # type: ignore[arg-type]


def _blocklist(verb: str, args: list[str]) -> BlocklistCommand:
    """blocked [text] (at most MAX_FILTER characters), unblock <one pattern or id>, domains."""
    text = " ".join(args).strip()
    if verb == "domains" and args:
        raise UsageError("domains takes nothing after it", verb)
    if verb == "unblock" and (len(args) != 1 or not text or len(text) > MAX_PATTERN):
        raise UsageError("unblock takes one pattern or blocked-sender id", verb)
    if verb == "blocked" and len(text) > MAX_FILTER:
        raise UsageError(f"the text is {len(text)} characters; at most {MAX_FILTER}", verb)
    return BlocklistCommand(verb, text)  # type: ignore[arg-type]


def _search(args: list[str]) -> SearchCommand:
    if not args:
        raise UsageError("search needs terms or filters", "search")
    fields: dict[str, object] = {}
    terms: list[str] = []
    for word in args:
        key, sep, value = word.partition(":")
        key = key.lower()
        if not sep or key not in ("from", "to", "subject", "disposition", "since"):
            terms.append(word)
            continue
        if not value:
            raise UsageError(f"`{key}:` needs a value", "search")
        fields[key] = _search_value(key, value)
    return SearchCommand(
        terms=" ".join(terms) or None,
        sender=_str(fields.get("from")),
        recipient=_str(fields.get("to")),
        subject=_str(fields.get("subject")),
        disposition=fields.get("disposition"),  # type: ignore[arg-type]
        since=fields.get("since"),  # type: ignore[arg-type]
        description=" ".join(args)[:200],
    )


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _search_value(key: str, value: str) -> object:
    if key == "disposition":
        upper = value.upper()
        if upper not in SEARCH_DISPOSITIONS:
            raise UsageError(
                f"search can filter on {', '.join(SEARCH_DISPOSITIONS)} "
                "(the API has no MALICIOUS-BEC filter; search MALICIOUS)",
                "search",
            )
        return upper
    if key == "since":
        match = DURATION.match(value.lower())
        if not match:
            raise UsageError("`since:` takes a duration such as 30m, 24h, 7d or 2w", "search")
        amount = int(match[1])
        return timedelta(**{UNITS[match[2]]: amount})
    return value
