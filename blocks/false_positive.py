"""The "False positive…" modal: which message, the steps it takes (release if quarantined,
reclassify as NONE, and, if asked, an allow policy for its envelope sender), a reason the steps
share, and the allow policy's choices."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    Block,
    InputBlock,
    Option,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from blocks.allowlist import kind_options, radio, verify_options
from blocks.ids import CallbackId, InputId
from blocks.modals import ModalContext
from blocks.parts import mrkdwn, plain, safe_or
from blocks.safety import Kind
from bot.cloudflare.models import MessageDetails

REASON_CHARS = 500


def false_positive_modal(
    ctx: ModalContext, message: MessageDetails | None, patterns: Sequence[tuple[str, str]] = ()
) -> View:
    """`message` None: still being looked up (no submit yet). `patterns`: its envelope
    sender's address and domain ((type, pattern)), offered for an allow policy."""
    if message is None:
        looking = f"Looking up {safe_or(ctx.message_id, 122, kind=Kind.LITERAL)}…"
        return _view(ctx, None, [SectionBlock(text=mrkdwn(looking))])
    release = (
        "Release it from quarantine (a guarded verdict or a bulk release asks an approver first)"
        if message.is_quarantined
        else "Not in quarantine: nothing to release"
    )
    verify = verify_options()
    steps = [
        f"*{safe_or(message.subject, 200, '(no subject)')}* · {safe_or(message.sender, 150)}",
        f"1. {release}",
        "2. Reclassify it as NONE (clean), reported to Cloudflare",
        "3. If you choose, ask for an allow policy for its sender (an approver approves it)",
    ]
    asks = [Option(value="no", text=plain("No allow policy"))] + [
        Option(
            value=kind,
            text=plain("Allow this address" if kind == "EMAIL" else "Allow the whole domain"),
            description=plain(safe_or(pattern, 75)),
        )
        for kind, pattern in patterns
    ]
    blocks: list[Block] = [
        SectionBlock(text=mrkdwn("\n".join(steps))),
        InputBlock(
            block_id=InputId.REASON,
            label=plain("Why is it a false positive?"),
            element=PlainTextInputElement(
                action_id=InputId.REASON, multiline=True, max_length=REASON_CHARS
            ),
            hint=plain("Kept with each step; the approver reads it."),
        ),
        radio(InputId.ASK_ALLOW, "Allow policy for its sender", asks, asks[0]),
        radio(InputId.ALLOW_KIND, "Kind (if asked)", kind_options(), None, optional=True),
        radio(InputId.VERIFY_SENDER, "Verify sender (if asked)", verify, verify[0]),
    ]
    return _view(ctx, "Submit", blocks)


def _view(ctx: ModalContext, submit: str | None, blocks: list[Block]) -> View:
    return View(
        type="modal", callback_id=CallbackId.FALSE_POSITIVE_MODAL, title=plain("False positive"),
        submit=plain(submit) if submit else None, close=plain("Cancel"),
        private_metadata=ctx.dump(), blocks=blocks,
    )  # fmt: skip
