"""The verbs of `/email`: each one's usage, what it does and the role it needs. The one verb
table: the parser (`bot.commands`), `help`, the services' role checks and the metrics read it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.cloudflare.models import DESTINATIONS, RECLASSIFY_DISPOSITIONS
from bot.roles import Role


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
