"""Usage of the slash command, and short notices we compose ourselves."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, SectionBlock

from blocks.parts import MISSING, mrkdwn, plain
from blocks.safety import clamp, escape
from bot.cloudflare.models import DESTINATIONS, RECLASSIFY_DISPOSITIONS

# (usage after the command, what it does). Our own text: only escaped, for the `<…>`.
VERBS: tuple[tuple[str, str], ...] = (
    (
        "lookup <id>",
        "the message's card: verdict, evidence and actions (investigate or postfix id)",
    ),
    (
        'search <terms> [from:… to:… subject:"…" disposition:… since:7d]',
        "find messages; filters narrow the words",
    ),
    ("preview <id>", "a rendered image of the message, in the card's thread"),
    ("raw <id>", "the raw message (.eml), in the card's thread"),
    ("trace <id>", "the delivery trace"),
    ("release <id…>", "deliver quarantined messages to their recipients"),
    ("move <id…> <folder>", f"move in the recipients' mailboxes: {', '.join(DESTINATIONS)}"),
    ("reclassify <id> <disposition>", f"report a verdict: {', '.join(RECLASSIFY_DISPOSITIONS)}"),
    ("block <sender|domain>", "block future mail from an address or a whole domain"),
    ("approvals", "requests waiting for your approval, and your own"),
    ("audit [id]", "who did what, recently or to one message"),
    ("help", "this list"),
)
ROLES = (
    "*Viewer*: lookup, search, trace",
    "*Operator*: also preview, raw, and the actions (release, move, reclassify, block)",
    "*Approver*: approves actions that need a second person (bulk actions, releases of "
    "guarded dispositions); never their own request",
)
NOTICE_CHARS = 3_000


def help_blocks(command: str) -> list[Block]:
    """Every verb with its usage, and who may use what. `command` is ours (e.g. `/email`)."""
    verbs = "\n".join(
        f"`{escape(command)} {escape(usage)}`: {escape(what)}" for usage, what in VERBS
    )
    roles = "\n".join(f"• {line}" for line in ROLES)
    return [
        HeaderBlock(text=plain("Email Security commands")),
        SectionBlock(text=mrkdwn(verbs)),
        SectionBlock(text=mrkdwn(f"*Roles*\n{roles}")),
        ContextBlock(
            elements=[
                mrkdwn("An id is an investigate id or a bare postfix id; `id…` takes several.")
            ]
        ),
    ]


def notice(text: str) -> list[Block]:
    """A short private message we composed (error, refusal, "approval required"). Any text from
    an email or the API inside it must already have gone through `safe`: this only clamps."""
    return [SectionBlock(text=mrkdwn(clamp(text, NOTICE_CHARS).strip() or MISSING))]
