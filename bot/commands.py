"""Parsing of `/email <verb> …` text into typed commands; bad input raises `UsageError` with a
short explanation and the right usage, to be sent back privately."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Literal

from bot import report_commands
from bot.cloudflare.dispositions import SEARCHABLE
from bot.cloudflare.filters import SearchDisposition
from bot.cloudflare.ids import parse_message_id
from bot.cloudflare.models import (
    DESTINATIONS,
    RECLASSIFY_DISPOSITIONS,
    Destination,
    PatternType,
    ReclassifyDisposition,
)
from bot.refang import refang
from bot.report_commands import ArgsError, PhishGuardCommand, SubmissionsCommand, VipCommand
from bot.roles import Role

SEARCH_PAGE = 10  # hits a search page asks the API for and shows
MAX_REASON = 500  # characters, as in the modals
MAX_FILTER = 200  # characters of `blocked <text>`
MAX_PATTERN = 1024  # characters of a blocked-sender pattern, as the API takes
BLOCKED_PAGE = 10  # blocked senders a page shows (with More), as a search page
MAX_IDS = 100  # per command; more than that goes through search ("Release all N matching")
SEARCH_DISPOSITIONS = tuple(d.value for d in SEARCHABLE)


@dataclass(frozen=True)
class Verb:
    """One verb of the slash command: its usage, what it does, and the role it needs (None:
    anyone). The parser, `help`, the services' role checks and the metrics read this table."""

    usage: str
    summary: str
    role: Role | None


VERBS: dict[str, Verb] = {
    "lookup": Verb(
        "lookup <id>",
        "the message's card: verdict, evidence and actions (investigate or postfix id)",
        Role.VIEWER,
    ),
    "search": Verb(
        'search <terms> [from:… to:… subject:"…" disposition:… since:7d]',
        "find messages, privately: how many match and each hit's id, recipient and state; "
        "tick hits to release or move them at once; *Open* shows a card only you see",
        Role.VIEWER,
    ),
    "preview": Verb(
        "preview <id>", "a rendered image of the message, in the card's thread", Role.OPERATOR
    ),
    "raw": Verb("raw <id>", "the raw message (.eml), in the card's thread", Role.OPERATOR),
    "trace": Verb("trace <id>", "the delivery trace", Role.VIEWER),
    "release": Verb(
        'release <id…> [reason:"…"]',
        "deliver quarantined messages to their recipients",
        Role.OPERATOR,
    ),
    "move": Verb(
        'move <id…> <folder> [reason:"…"]',
        f"move in the recipients' mailboxes: {', '.join(DESTINATIONS)}",
        Role.OPERATOR,
    ),
    "reclassify": Verb(
        "reclassify <id> <disposition>",
        f"report a verdict: {', '.join(RECLASSIFY_DISPOSITIONS)}",
        Role.OPERATOR,
    ),
    "block": Verb(
        "block <sender|domain>",
        "block future mail from an address or a whole domain",
        Role.OPERATOR,
    ),
    "blocked": Verb(
        "blocked [text]",
        "the blocked senders (those matching `text`), each with an Unblock button",
        Role.VIEWER,
    ),
    "unblock": Verb(
        "unblock <pattern|id>", "remove a sender from the blocked senders", Role.OPERATOR
    ),
    "domains": Verb(
        "domains",
        "the protected domains: status, delivery mode and last activity (read-only)",
        Role.VIEWER,
    ),
    "vip": Verb(
        "vip [text]",
        "the VIP list (impersonation registry): the people whose names impostors use",
        Role.VIEWER,
    ),
    "vip add": Verb(
        "vip add <email> <name…>",
        "protect a person's name and address; *Remove* on an entry of `vip` takes one off",
        Role.OPERATOR,
    ),
    "submissions": Verb(
        "submissions [since:7d] [status:pending|escalated|completed]",
        "reclassification requests: the verdict asked for, the original, status and outcome",
        Role.VIEWER,
    ),
    "phishguard": Verb(
        "phishguard [since:7d]",
        "PhishGuard reports, each with the messages it names (*Open* shows one's card)",
        Role.VIEWER,
    ),
    "allow": Verb(
        'allow <sender|domain> [reason:"…"]',
        "ask for an allow policy (trusted or acceptable sender, exempt recipient): an approver "
        "approves it, with the mail it would have let through in 30 days",
        Role.OPERATOR,
    ),
    "allowed": Verb(
        "allowed [text]",
        "the allow policies (those matching `text`), each with Remove",
        Role.VIEWER,
    ),
    "disallow": Verb("disallow <pattern|id>", "remove an allow policy", Role.OPERATOR),
    "trust": Verb(
        'trust <domain> [recent|similarity] [reason:"…"]',
        "ask for a trusted domain (both checks off unless you name one): an approver approves it",
        Role.OPERATOR,
    ),
    "trusted": Verb(
        "trusted [text]",
        "the trusted domains (those matching `text`), each with Remove",
        Role.VIEWER,
    ),
    "untrust": Verb("untrust <domain|id>", "remove a trusted domain", Role.OPERATOR),
    "approvals": Verb("approvals", "requests waiting for your approval, and your own", Role.VIEWER),
    "audit": Verb(
        "audit [id|verify]",
        "who did what, recently, to one message or in one request; `verify` checks that the "
        "trail's hash chain is unbroken",
        Role.VIEWER,
    ),
    "help": Verb("help", "this list", None),
}
USAGE = {name: verb.usage for name, verb in VERBS.items()}


def role_for(verb: str) -> Role:
    """The role `verb` needs (the services check it)."""
    role = VERBS[verb].role
    assert role is not None, f"{verb} needs no role"
    return role


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


class UsageError(Exception):
    """What was wrong with the input, and the usage of the verb (or of all verbs)."""

    def __init__(self, problem: str, verb: str | None = None) -> None:
        self.problem = problem
        self.verb = verb
        super().__init__(problem)


@dataclass(frozen=True)
class MessageCommand:
    """lookup / preview / raw / trace of one message."""

    verb: Literal["lookup", "preview", "raw", "trace"]
    message_id: str


@dataclass(frozen=True)
class SearchCommand:
    terms: str | None = None
    sender: str | None = None
    recipient: str | None = None
    subject: str | None = None
    disposition: SearchDisposition | None = None
    since: timedelta | None = None
    description: str = ""

    def filters(self, now: datetime) -> dict[str, object]:
        """Keyword filters for EmailSecurityClient.search."""
        found: dict[str, object] = {"detections_only": False}
        pairs = {
            "query": self.terms,
            "sender": self.sender,
            "recipient": self.recipient,
            "subject": self.subject,
            "final_disposition": self.disposition,
        }
        found.update({k: v for k, v in pairs.items() if v})
        if self.since:
            found["start"] = now - self.since
        return found


@dataclass(frozen=True)
class ReleaseCommand:
    message_ids: tuple[str, ...]
    reason: str = ""  # for the approver, when the release needs one


@dataclass(frozen=True)
class MoveCommand:
    message_ids: tuple[str, ...]
    folder: Destination
    reason: str = ""


@dataclass(frozen=True)
class ReclassifyCommand:
    message_id: str
    disposition: ReclassifyDisposition


@dataclass(frozen=True)
class BlockCommand:
    pattern: str
    pattern_type: PatternType


@dataclass(frozen=True)
class BlocklistCommand:
    """blocked [text] / unblock <pattern|id> / domains: `arg` is the text, the pattern or id."""

    verb: Literal["blocked", "unblock", "domains"]
    arg: str = ""


@dataclass(frozen=True)
class AllowCommand:
    pattern: str
    pattern_type: PatternType
    reason: str = ""


@dataclass(frozen=True)
class TrustCommand:
    domain: str
    recent: bool = True
    similarity: bool = True
    reason: str = ""


@dataclass(frozen=True)
class AllowlistCommand:
    """allowed|trusted [text] / disallow|untrust <pattern|id>: `arg` is the text or target."""

    verb: Literal["allowed", "trusted", "disallow", "untrust"]
    arg: str = ""


@dataclass(frozen=True)
class SimpleCommand:
    verb: Literal["help", "approvals", "audit"]
    args: tuple[str, ...] = field(default_factory=tuple)


Command = (
    MessageCommand
    | SearchCommand
    | ReleaseCommand
    | MoveCommand
    | ReclassifyCommand
    | BlockCommand
    | BlocklistCommand
    | VipCommand
    | SubmissionsCommand
    | PhishGuardCommand
    | AllowCommand
    | TrustCommand
    | AllowlistCommand
    | SimpleCommand
)


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
