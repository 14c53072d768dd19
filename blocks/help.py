"""Usage of the slash command, and short notices we compose ourselves."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, SectionBlock

from blocks.parts import MISSING, mrkdwn, plain
from blocks.safety import clamp, escape
from bot.commands import VERBS
from bot.roles import Role

APPROVER_LINE = (
    "*Approver*: approves actions that need a second person (bulk actions, releases of "
    "guarded dispositions, every allow policy and trusted domain); never their own request"
)
NOTICE_CHARS = 3_000


def help_blocks(command: str) -> list[Block]:
    """Every verb with its usage, and who may use what. `command` is ours (e.g. `/email`)."""
    verbs = "\n".join(
        f"`{escape(command)} {escape(verb.usage)}`: {escape(verb.summary)}"
        for verb in VERBS.values()
    )
    roles = "\n".join(f"• {line}" for line in (*_role_lines(), APPROVER_LINE))
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


def _role_lines() -> list[str]:
    """Who may use which verb, from the verb table (an operator also sees what viewers see)."""
    viewer = [name for name, verb in VERBS.items() if verb.role == Role.VIEWER]
    operator = [name for name, verb in VERBS.items() if verb.role == Role.OPERATOR]
    return [
        f"*Viewer*: {', '.join(viewer)}",
        f"*Operator*: also {', '.join(operator)}",
    ]


def notice(text: str) -> list[Block]:
    """A short private message we composed (error, refusal, "approval required"). Any text from
    an email or the API inside it must already have gone through `safe`: this only clamps."""
    return [SectionBlock(text=mrkdwn(clamp(text, NOTICE_CHARS).strip() or MISSING))]
