"""Modals for the actions that need input: move (folder), reclassify (disposition, reason) and
block (address or domain). Every modal of the bot carries a `ModalContext` in
`private_metadata`, so its submission finds what it acts on (the message and its card, the
approval request, the saved search) without looking anywhere else. Inputs use the same id as
block_id and action_id: a handler reads `view["state"]["values"][ID][ID]`."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    InputBlock,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from blocks import parts
from blocks.ids import CallbackId, InputId
from blocks.limits import MAX_PRIVATE_METADATA
from blocks.parts import MISSING, mrkdwn, plain, safe_or
from blocks.safety import Kind, clamp, safe
from bot.cloudflare.models import MessageDetails
from bot.commands import SEARCH_PAGE
from bot.services.outcomes import RECENT_DAYS, BlockChoice, BlockPreview

REASON_CHARS = 500
COMMENT_CHARS = 500


class ModalContext(BaseModel):
    """What a modal acts on and where it came from: the one metadata type of every modal.
    Empty `channel_id`/`message_ts` mean no card (e.g. a command); `request_id` is set on an
    approval request's modals, `search_key` and `action` on those acting on a whole search,
    `message_ids` on those acting on the ticked hits of a search page (then `message_id` is
    empty), `pattern` and `pattern_type` on the confirm modal of a block asked for by command."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message_id: str = Field(default="", max_length=255)
    message_ids: tuple[str, ...] = Field(default=(), max_length=SEARCH_PAGE)
    channel_id: str = Field(default="", max_length=64)
    message_ts: str = Field(default="", max_length=64)
    thread_ts: str | None = Field(default=None, max_length=64)
    request_id: str = Field(default="", max_length=64)
    search_key: str = Field(default="", max_length=64)
    action: str = Field(default="", max_length=16)
    pattern: str = Field(default="", max_length=320)  # a block asked for by command
    pattern_type: str = Field(default="", max_length=16)

    @property
    def targets(self) -> tuple[str, ...]:
        """The messages the modal acts on: the ticked hits, else its one message."""
        return self.message_ids or ((self.message_id,) if self.message_id else ())

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


def move_modal(ctx: ModalContext, message: MessageDetails | None, folder: str | None) -> View:
    """Pick a folder; `folder` (a menu choice on the card) is preselected when it is valid.
    `message` None: still being looked up (the modal is updated once it is), or, with
    `ctx.message_ids`, the ticked hits of a search page, named by their ids."""
    select = _select(InputId.FOLDER, "Choose a folder", parts.folder_options(), folder)
    several = bool(ctx.message_ids)
    return _modal(
        CallbackId.MOVE_MODAL,
        ctx,
        title="Move messages" if several else "Move message",
        submit="Move",
        blocks=[
            _picked(ctx.message_ids) if several else _about(message, ctx.message_id),
            InputBlock(
                block_id=InputId.FOLDER,
                label=plain("Destination folder"),
                element=select,
                hint=plain(
                    f"{'Each' if several else 'The'} message is moved in every recipient's mailbox."
                ),
            ),
            _reason_input(
                optional=True, hint="Shown to the approver when the move needs approval."
            ),
        ],
    )


def release_modal(ctx: ModalContext, messages: Sequence[MessageDetails], rule: str) -> View:
    """Why release: asked when the release needs a second person's approval (`rule` says
    which rules), so the approver reads the requester's reason. `messages`: the card's one
    message, or the ticked hits of a search page (`ctx.message_ids`)."""
    need = f"Releasing this needs a second person's approval: {clamp(rule, 600)}."
    about = _picked([m.id for m in messages]) if ctx.message_ids else _about(messages[0], "")
    return _modal(
        CallbackId.RELEASE_MODAL,
        ctx,
        title="Request a release",
        submit="Ask for approval",
        blocks=[
            about,
            SectionBlock(text=mrkdwn(need)),
            _reason_input(optional=False, hint="The approver sees this on the request's card."),
        ],
    )


def _reason_input(*, optional: bool, hint: str | None = None) -> InputBlock:
    element = PlainTextInputElement(
        action_id=InputId.REASON, multiline=True, max_length=REASON_CHARS
    )
    return InputBlock(
        block_id=InputId.REASON, label=plain("Reason"), element=element, optional=optional,
        hint=plain(hint) if hint else None,
    )  # fmt: skip


def _select(
    action_id: str, placeholder: str, options: list[Option], chosen: str | None
) -> StaticSelectElement:
    """A menu with `chosen` preselected when it is one of its options."""
    return StaticSelectElement(
        action_id=action_id, placeholder=plain(placeholder), options=options,
        initial_option=_initial(options, chosen),
    )  # fmt: skip


def reclassify_modal(
    ctx: ModalContext, message: MessageDetails | None, disposition: str | None
) -> View:
    options = parts.disposition_options()
    select = _select(InputId.DISPOSITION, "Choose a disposition", options, disposition)
    return _modal(
        CallbackId.RECLASSIFY_MODAL,
        ctx,
        title="Reclassify message",
        submit="Reclassify",
        blocks=[
            _about(message, ctx.message_id),
            InputBlock(block_id=InputId.DISPOSITION, label=plain("Disposition"), element=select),
            _reason_input(optional=True),
        ],
    )


def block_modal(ctx: ModalContext, sender: str, preview: BlockPreview | None = None) -> View:
    """Confirm a block of the sender's address (EMAIL) or its whole domain (DOMAIN), showing
    both. With `preview` (bot.services.blocking), the choices are its own, each with how many
    messages it matched in the last 30 days and the rule that makes it need approval, and the
    header From is shown apart when it is not the envelope sender the patterns come from.
    Without a preview and with an empty `sender` it is a "looking up" placeholder without a
    submit button, to be replaced by `views.update`. A sender without `@` is taken as a domain
    (only DOMAIN is offered); one ending in `@` offers only EMAIL."""
    found = preview.choices if preview is not None else _choices(sender.strip())
    if not found:
        text = "Looking up the sender…" if not sender else "This message has no usable sender."
        if preview is not None:
            text = "This message has no usable sender."
        waiting = SectionBlock(text=mrkdwn(text))
        return _modal(
            CallbackId.BLOCK_MODAL, ctx, title="Block sender", submit=None, blocks=[waiting]
        )
    labels = {"EMAIL": ("This address", "Address"), "DOMAIN": ("The whole domain", "Domain")}
    choices = [_pattern_option(c.pattern_type, labels[c.pattern_type][0], c.pattern) for c in found]
    shown = [_choice_line(labels[c.pattern_type][1], c, counted=preview is not None) for c in found]
    about = (
        "Block future mail from (the envelope sender):" if preview else "Block future mail from:"
    )
    blocks: list[Block] = [SectionBlock(text=mrkdwn(clamp(about + "\n" + "\n".join(shown), 3000)))]
    if preview is not None and preview.header_from:
        forged = f"Header From (can be forged): `{safe_or(preview.header_from, 300)}`"
        blocks.append(ContextBlock(elements=[mrkdwn(forged)]))
    risky = any(c.risk for c in found)
    return _modal(
        CallbackId.BLOCK_MODAL,
        ctx,
        title="Block sender",
        submit="Ask for approval" if risky and len(found) == 1 else "Block",
        blocks=[
            *blocks,
            InputBlock(
                block_id=InputId.PATTERN_TYPE,
                label=plain("What to block"),
                element=RadioButtonsElement(
                    action_id=InputId.PATTERN_TYPE, options=choices, initial_option=choices[0]
                ),
            ),
            InputBlock(
                block_id=InputId.COMMENT,
                label=plain("Comment"),
                element=PlainTextInputElement(
                    action_id=InputId.COMMENT, multiline=True, max_length=COMMENT_CHARS
                ),
                optional=True,
                hint=plain("Shown with the block, and to the approver when it needs approval."),
            ),
        ],
    )


def _choices(sender: str) -> list[BlockChoice]:
    """The patterns of a bare sender string (no counts, no rules)."""
    address, _, domain = sender.rpartition("@")
    found = [BlockChoice("EMAIL", sender, 0, False, None)] if address else []
    return found + ([BlockChoice("DOMAIN", domain, 0, False, None)] if domain else [])


def _choice_line(label: str, choice: BlockChoice, *, counted: bool) -> str:
    line = f"• {label}: `{safe_or(choice.pattern, 300)}`"
    if counted:
        count = f"more than {choice.matched:,}" if choice.more else f"{choice.matched:,}"
        noun = "message" if choice.matched == 1 and not choice.more else "messages"
        line += f": {count} {noun} in the last {RECENT_DAYS} days"
    if choice.risk:
        line += f"\n    ⚠️ needs a second person's approval: {safe(choice.risk, 300)}"
    return line


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


def _about(message: MessageDetails | None, message_id: str) -> SectionBlock:
    """Which message the modal acts on: subject, sender, this copy's recipient and its id."""
    if message is None:
        return SectionBlock(
            text=mrkdwn(f"Looking up {safe_or(message_id, 122, kind=Kind.LITERAL)}…")
        )
    to = ", ".join(safe(r, 122, kind=Kind.LITERAL) for r in message.recipients[:3])
    lines = [
        f"*Message:* {safe_or(message.subject, 300, '(no subject)')}",
        f"*From:* {safe_or(message.sender, 200)}",
        f"*To:* {to or MISSING}",
        f"*Id:* {safe_or(message.id, 122, kind=Kind.LITERAL)}",
    ]
    return SectionBlock(text=mrkdwn("\n".join(lines)))


def _picked(ids: Sequence[str]) -> SectionBlock:
    """The ticked hits a modal acts on, by their (copyable) ids."""
    lines = [f"*{len(ids)} selected message{'' if len(ids) == 1 else 's'}:*"]
    lines += [f"• {safe_or(i, 150, kind=Kind.LITERAL)}" for i in ids[:SEARCH_PAGE]]
    return SectionBlock(text=mrkdwn("\n".join(lines)))


def _initial(options: list[Option], value: str | None) -> Option | None:
    """The option whose value is `value`; None (nothing preselected) for anything else."""
    return next((o for o in options if value is not None and o.value == value), None)


def _pattern_option(value: str, label: str, pattern: str) -> Option:
    """A radio option showing exactly what would be blocked (safe, within 75 characters)."""
    return Option(value=value, text=plain(label), description=plain(safe_or(pattern, 75)))
