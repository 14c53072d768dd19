"""Asking for an allow policy from Slack: a card's "Allow sender…" button opens the modal (role
first, then the modal at once, then its message's envelope sender in it), and the modal's
submission, from a card or from `/email allow`, makes the approval request. "False positive…"
opens its modal the same way; its submission runs its steps (bot/services/false_positive.py)."""

from __future__ import annotations

from blocks.allowlist import allow_modal
from blocks.false_positive import false_positive_modal
from blocks.ids import CallbackId, InputId
from bot.cloudflare.models import PatternType
from bot.errors import InvalidInput
from bot.services.approvals.changes import ALLOW_KINDS, AllowKind
from bot.services.false_positive import AllowAsked
from handlers.cards import PATTERN_TYPES, context_of, keep_post, submitted
from handlers.commands import tell
from handlers.context import Request
from handlers.replies import chosen, field


async def on_allow_button(request: Request) -> None:
    """Role first (a viewer is refused before any modal), then the modal at once (a trigger
    id lives 3 s), then the sender's address and domain in it."""
    service = request.services.allowlist
    await service.may_allow(request.actor)
    ctx = context_of(request)
    opened = await request.client.views_open(
        trigger_id=request.body["trigger_id"], view=allow_modal(ctx, None)
    )
    await keep_post(request)
    found = await service.choices(request.actor, ctx.message_id)
    view = allow_modal(ctx, list(found.patterns), header_from=found.header_from)
    await request.client.views_update(view_id=opened["view"]["id"], view=view)


def allow_choice(values: dict[str, object]) -> tuple[AllowKind, bool]:
    """The kind and "verify sender" of a submitted allow modal (or "False positive…")."""
    kind = chosen(values, InputId.ALLOW_KIND)
    if kind not in ALLOW_KINDS:
        raise InvalidInput("Choose the kind of allow policy.")
    verify = chosen(values, InputId.VERIFY_SENDER) != "no"
    return kind, verify


async def on_allow_submit(request: Request) -> None:
    """A card's modal allows its message's envelope sender (address or domain); a command's
    the pattern it carries. Either way an approval request, whose card says the rest."""
    ctx, origin, request, values = submitted(request)
    pattern_type: PatternType | None = PATTERN_TYPES.get(chosen(values, InputId.PATTERN_TYPE) or "")
    if pattern_type is None:
        raise InvalidInput("Choose whether to allow the address or its whole domain.")
    kind, verify = allow_choice(values)
    comment = (field(values, InputId.COMMENT).get("value") or "").strip()
    service = request.services.allowlist
    if ctx.pattern:
        if pattern_type != ctx.pattern_type:
            raise InvalidInput("That choice is not the pattern the command asked to allow.")
        result = await service.request_allow(
            request.actor, ctx.pattern, pattern_type, kind, verify, comment, origin
        )
    else:
        result = await service.request_allow_for(
            request.actor, ctx.message_id, pattern_type, kind, verify, comment, origin
        )
    await tell(request.reply, result)


async def on_false_positive_button(request: Request) -> None:
    """Role first, then the modal at once, then the message and its sender's patterns in it."""
    await request.services.false_positives.may_report(request.actor)
    ctx = context_of(request)
    opened = await request.client.views_open(
        trigger_id=request.body["trigger_id"], view=false_positive_modal(ctx, None)
    )
    await keep_post(request)
    message, found = await request.services.false_positives.modal(request.actor, ctx.message_id)
    view = false_positive_modal(ctx, message, list(found.patterns))
    await request.client.views_update(view_id=opened["view"]["id"], view=view)


async def on_false_positive_submit(request: Request) -> None:
    """Its steps, each shown on the card; privately, what the card does not show."""
    ctx, origin, request, values = submitted(request)
    reason = (field(values, InputId.REASON).get("value") or "").strip()
    if not reason:
        raise InvalidInput("Say why it is a false positive: each step keeps it.")
    allow: AllowAsked | None = None
    pattern_type = PATTERN_TYPES.get(chosen(values, InputId.ASK_ALLOW) or "")
    if pattern_type is not None:
        kind, verify = allow_choice(values)
        allow = AllowAsked(pattern_type, kind, verify)
    results = await request.services.false_positives.report(
        request.actor, ctx.message_id, origin, reason, allow
    )
    for result in results:
        await tell(request.reply, result)


def allow_errors(request: Request) -> dict[str, str] | None:
    """Checked before the ack (the modal stays open and says what is missing): the allow
    modal's kind; "False positive…"'s reason, and its kind when an allow policy is asked."""
    view = request.body["view"]
    values = view["state"]["values"]
    errors: dict[str, str] = {}
    fp = view.get("callback_id") == CallbackId.FALSE_POSITIVE_MODAL
    if fp and not (field(values, InputId.REASON).get("value") or "").strip():
        errors[InputId.REASON] = "Say why it is a false positive: each step keeps it."
    asks = not fp or chosen(values, InputId.ASK_ALLOW) in PATTERN_TYPES
    if asks and chosen(values, InputId.ALLOW_KIND) not in ALLOW_KINDS:
        errors[InputId.ALLOW_KIND] = "Choose the kind of allow policy."
    return errors or None
