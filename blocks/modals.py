"""Modals for the actions that need input: move (folder), reclassify (disposition, reason) and
block (address or domain). Each carries a `ModalContext` in `private_metadata` so the
submission finds the message and the card it came from. Inputs use the same id as block_id and
action_id: a handler reads `view["state"]["values"][ID][ID]`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from slack_sdk.models.blocks import (
    Block,
    InputBlock,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from blocks import parts
from blocks.actions import (
    BLOCK_MODAL,
    COMMENT_INPUT,
    DISPOSITION_INPUT,
    FOLDER_INPUT,
    MOVE_MODAL,
    PATTERN_TYPE_INPUT,
    REASON_INPUT,
    RECLASSIFY_MODAL,
)
from blocks.limits import MAX_PRIVATE_METADATA
from blocks.parts import mrkdwn, plain, safe_or

REASON_CHARS = 500
COMMENT_CHARS = 500


class ModalContext(BaseModel):
    """Where a modal came from. Empty `channel_id`/`message_ts` mean no card (e.g. a command)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message_id: str = Field(max_length=255)
    channel_id: str = Field(max_length=64)
    message_ts: str = Field(max_length=64)
    thread_ts: str | None = Field(default=None, max_length=64)
    response_url: str | None = Field(default=None, max_length=2000)

    def dump(self) -> str:
        """JSON for `private_metadata` (Slack allows 3000 characters)."""
        text = self.model_dump_json(exclude_none=True)
        if len(text) > MAX_PRIVATE_METADATA:
            raise ValueError(
                f"modal context is {len(text)} characters, over {MAX_PRIVATE_METADATA}"
            )
        return text

    @classmethod
    def load(cls, text: str) -> ModalContext:
        """Parse `dump`'s output; raises pydantic's ValidationError on anything else."""
        return cls.model_validate_json(text)


def move_modal(ctx: ModalContext, subject: str | None, folder: str | None) -> View:
    """Pick a folder; `folder` (a menu choice on the card) is preselected when it is valid."""
    options = parts.folder_options()
    select = StaticSelectElement(
        action_id=FOLDER_INPUT,
        placeholder=plain("Choose a folder"),
        options=options,
        initial_option=_initial(options, folder),
    )
    return _modal(
        MOVE_MODAL,
        ctx,
        title="Move message",
        submit="Move",
        blocks=[
            _about(subject),
            InputBlock(
                block_id=FOLDER_INPUT,
                label=plain("Destination folder"),
                element=select,
                hint=plain("The message is moved in every recipient's mailbox."),
            ),
        ],
    )


def reclassify_modal(ctx: ModalContext, subject: str | None, disposition: str | None) -> View:
    options = parts.disposition_options()
    select = StaticSelectElement(
        action_id=DISPOSITION_INPUT,
        placeholder=plain("Choose a disposition"),
        options=options,
        initial_option=_initial(options, disposition),
    )
    reason = PlainTextInputElement(action_id=REASON_INPUT, multiline=True, max_length=REASON_CHARS)
    return _modal(
        RECLASSIFY_MODAL,
        ctx,
        title="Reclassify message",
        submit="Reclassify",
        blocks=[
            _about(subject),
            InputBlock(block_id=DISPOSITION_INPUT, label=plain("Disposition"), element=select),
            InputBlock(block_id=REASON_INPUT, label=plain("Reason"), element=reason, optional=True),
        ],
    )


def block_modal(ctx: ModalContext, sender: str) -> View:
    """Block the sender's address (EMAIL) or its whole domain (DOMAIN), showing both. With an
    empty `sender` it is a "looking up" placeholder without a submit button, to be replaced by
    `views.update`. A sender without `@` is taken as a domain (only DOMAIN is offered); one
    ending in `@` offers only EMAIL."""
    sender = sender.strip()
    address, _, domain = sender.rpartition("@")
    choices, shown = [], []
    if address:
        choices.append(_pattern_option("EMAIL", "This address", sender))
        shown.append(f"• Address: `{safe_or(sender, 300)}`")
    if domain:
        choices.append(_pattern_option("DOMAIN", "The whole domain", domain))
        shown.append(f"• Domain: `{safe_or(domain, 300)}`")
    if not choices:
        text = "Looking up the sender…" if not sender else "This message has no usable sender."
        waiting = SectionBlock(text=mrkdwn(text))
        return _modal(BLOCK_MODAL, ctx, title="Block sender", submit=None, blocks=[waiting])
    return _modal(
        BLOCK_MODAL,
        ctx,
        title="Block sender",
        submit="Block",
        blocks=[
            SectionBlock(text=mrkdwn("Block future mail from:\n" + "\n".join(shown))),
            InputBlock(
                block_id=PATTERN_TYPE_INPUT,
                label=plain("What to block"),
                element=RadioButtonsElement(
                    action_id=PATTERN_TYPE_INPUT, options=choices, initial_option=choices[0]
                ),
            ),
            InputBlock(
                block_id=COMMENT_INPUT,
                label=plain("Comment"),
                element=PlainTextInputElement(
                    action_id=COMMENT_INPUT, multiline=True, max_length=COMMENT_CHARS
                ),
                optional=True,
            ),
        ],
    )


def _modal(
    callback_id: str, ctx: ModalContext, *, title: str, submit: str | None, blocks: list[Block]
) -> View:
    return View(
        type="modal",
        callback_id=callback_id,
        title=plain(title),
        submit=plain(submit) if submit else None,
        close=plain("Cancel"),
        private_metadata=ctx.dump(),
        blocks=blocks,
    )


def _about(subject: str | None) -> SectionBlock:
    return SectionBlock(text=mrkdwn(f"*Message:* {safe_or(subject, 300, '(no subject)')}"))


def _initial(options: list[Option], value: str | None) -> Option | None:
    """The option whose value is `value`; None (nothing preselected) for anything else."""
    return next((o for o in options if value is not None and o.value == value), None)


def _pattern_option(value: str, label: str, pattern: str) -> Option:
    """A radio option showing exactly what would be blocked (safe, within 75 characters)."""
    return Option(value=value, text=plain(label), description=plain(safe_or(pattern, 75)))
