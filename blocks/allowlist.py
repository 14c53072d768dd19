"""Allow policies and trusted domains as Slack shows them: the request's card part (what it
would allow and the mail it would have let through in 30 days), the modal that asks for an allow
policy, the lists (a page at a time, Remove on each) and what a Remove said.

A pattern and a comment may come from an attacker (an allow asked from a card copies the
envelope sender), so they go through `safe` as attacker text; entry ids as literals.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    InputBlock,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from blocks import parts
from blocks.blocklist import TYPE_LABELS
from blocks.ids import ActionId, CallbackId, InputId
from blocks.modals import ModalContext
from blocks.parts import mrkdwn, page_heading, plain, safe_or, when
from blocks.safety import Kind, clamp, safe
from bot.cloudflare.settings_models import AllowPolicy, TrustedDomain
from bot.services.approvals.changes import ALLOW_KINDS, allow_kind, exposure, flag
from bot.services.approvals.models import ApprovalRequest
from bot.services.outcomes import RECENT_DAYS

PATTERN_CHARS = 300
COMMENT_CHARS = 300
COMMENT_INPUT = 500
KIND_LABELS = {"trusted": "Trusted sender", "acceptable": "Acceptable sender",
               "exempt": "Exempt recipient"}  # fmt: skip
# The API's flags in our words (an entry read from the list).
FLAG_WORDS = (
    ("is_trusted_sender", "trusted sender"),
    ("is_acceptable_sender", "acceptable sender"),
    ("is_exempt_recipient", "exempt recipient"),
)


# -- the approval request ------------------------------------------------------------------------


def change_what(request: ApprovalRequest) -> str:
    """`Allow domain partner[.]example as a trusted sender` / `Trust domain acme[.]example`."""
    pattern = safe_or(request.params.get("pattern"), 200)
    if request.action == "trust":
        return f"Trust domain {pattern}"
    kind = request.params.get("kind", "")
    label = KIND_LABELS.get(kind, "?").lower()
    type_ = TYPE_LABELS.get(request.params.get("pattern_type", ""), "?")
    if kind == "exempt":
        return f"Exempt recipient {type_} {pattern} from scanning"
    return (
        f"Allow {type_} {pattern} as an {label}"
        if kind == "acceptable"
        else (f"Allow {type_} {pattern} as a {label}")
    )


def change_summary(request: ApprovalRequest) -> list[Block]:
    """What the change switches off, and the mail it would have let through in the last 30
    days (counted when it was asked), by disposition, most first."""
    params = request.params
    if request.action == "trust":
        checks = [name for name in ("recent", "similarity") if flag(params, name)]
        off = {"recent": "new-domain", "similarity": "lookalike"}
        what = "Switches off the " + " and ".join(off[c] for c in checks) + " checks for it"
    else:
        verify = "on" if flag(params, "verify_sender") else "*off*: spoofed mail passes too"
        what = f"*{ALLOW_KINDS[allow_kind(params)]}* · verify sender {verify}"
    counted = exposure(params)
    direction = "to it" if params.get("kind") == "exempt" else "from it"
    total = f"more than {counted.total:,}" if counted.more else f"{counted.total:,}"
    noun = "message" if counted.total == 1 and not counted.more else "messages"
    lines = [what, f"*Mail {direction} in the last {RECENT_DAYS} days*: {total} {noun}"]
    lines += [f"• {parts.disposition(name)}: {n:,}" for name, n in counted.counts.items()]
    for summary in request.summary[:1]:  # asked from a card: its message
        lines.append(
            f"Asked from {safe_or(summary.subject, 100, '(no subject)')} · "
            f"{safe_or(summary.id, 122, kind=Kind.LITERAL)}"
        )
    return [SectionBlock(text=mrkdwn(clamp("\n".join(lines), 2900)))]


# -- the modal -----------------------------------------------------------------------------------


def kind_options() -> list[Option]:
    return [
        Option(value=kind, text=plain(KIND_LABELS[kind]), description=plain(clamp(text, 75)))
        for kind, text in ALLOW_KINDS.items()
    ]


def verify_options() -> list[Option]:
    return [
        Option(value="yes", text=plain("Verify the sender (SPF, DKIM or DMARC must pass)")),
        Option(value="no", text=plain("Don't verify: spoofed mail passes too")),
    ]


def allow_modal(
    ctx: ModalContext,
    patterns: Sequence[tuple[str, str]] | None,
    *,
    header_from: str | None = None,
    comment: str = "",
) -> View:
    """Ask for an allow policy of one of `patterns` ((type, pattern): a card's envelope sender
    and its domain, or the one a command named); None: still looking the message up (no
    submit). The kind, "verify sender" (on by default) and a comment."""
    if not patterns:
        text = "Looking up the sender…" if patterns is None else "This message has no sender."
        return _view(ctx, None, [SectionBlock(text=mrkdwn(text))])
    labels = {"EMAIL": "This address", "DOMAIN": "The whole domain"}
    choices = [
        Option(value=kind, text=plain(labels.get(kind, kind)), description=plain(safe_or(p, 75)))
        for kind, p in patterns
    ]
    about = (
        "An allow policy switches protection off for what it matches, so an approver approves "
        f"it first; the request shows the mail it would have let through in {RECENT_DAYS} days."
    )
    blocks: list[Block] = [SectionBlock(text=mrkdwn(about))]
    if header_from:
        forged = f"Header From (can be forged, not used): `{safe_or(header_from, 300)}`"
        blocks.append(ContextBlock(elements=[mrkdwn(forged)]))
    kinds, verify = kind_options(), verify_options()
    blocks += [
        radio(InputId.PATTERN_TYPE, "What to allow", choices, choices[0]),
        radio(InputId.ALLOW_KIND, "Kind of policy", kinds, None),
        radio(InputId.VERIFY_SENDER, "Verify sender", verify, verify[0]),
        InputBlock(
            block_id=InputId.COMMENT,
            label=plain("Comment"),
            element=PlainTextInputElement(
                action_id=InputId.COMMENT,
                multiline=True,
                max_length=COMMENT_INPUT,
                initial_value=comment[:COMMENT_INPUT] or None,
            ),
            hint=plain("Why: the approver reads it; it is kept with the policy."),
        ),
    ]
    return _view(ctx, "Ask for approval", blocks)


def _view(ctx: ModalContext, submit: str | None, blocks: list[Block]) -> View:
    return View(
        type="modal", callback_id=CallbackId.ALLOW_MODAL, title=plain("Allow sender"),
        submit=plain(submit) if submit else None, close=plain("Cancel"),
        private_metadata=ctx.dump(), blocks=blocks,
    )  # fmt: skip


def radio(
    block_id: str,
    label: str,
    options: list[Option],
    initial: Option | None,
    *,
    optional: bool = False,
) -> InputBlock:
    """A radio-button input (this modal's and "False positive…"'s)."""
    element = RadioButtonsElement(action_id=block_id, options=options, initial_option=initial)
    return InputBlock(block_id=block_id, label=plain(label), element=element, optional=optional)


# -- the lists -----------------------------------------------------------------------------------


def _remove_button(action_id: ActionId, entry_id: str, key: str, what: str) -> ButtonElement:
    confirm = ConfirmObject(
        title=plain(f"Remove this {what}?"),
        text=plain(
            f"Mail it matches is checked like any other mail again once the {what} is gone."
        ),
        confirm=plain("Remove"),
        deny=plain("Cancel"),
        style="danger",
    )
    value = f"{entry_id} {key}"
    if len(value) > 2000:
        raise ValueError("the entry id and page key must fit a button value")
    return parts.button("Remove", action_id, value, style="danger", confirm=confirm)


def _stamp(entry: AllowPolicy | TrustedDomain) -> str:
    lines = [safe(entry.comments, COMMENT_CHARS)] if entry.comments else []
    lines.append(f"added {when(entry.created_at)} · id {safe_or(entry.id, 60, kind=Kind.LITERAL)}")
    return "\n".join(lines)


def _allow_text(entry: AllowPolicy) -> str:
    kinds = [words for name, words in FLAG_WORDS if getattr(entry, name)] or ["no kind set"]
    type_ = TYPE_LABELS.get(entry.pattern_type, safe(entry.pattern_type.lower(), 20))
    verify = "verify sender" if entry.verify_sender else "sender not verified"
    regex = ", regex" if entry.is_regex else ""
    pattern = safe_or(entry.pattern, PATTERN_CHARS)
    head = f"*{pattern}* ({type_}{regex}) · {', '.join(kinds)} · {verify}"
    return f"{head}\n{_stamp(entry)}"


def _trusted_text(entry: TrustedDomain) -> str:
    checks = [
        w for on, w in ((entry.is_recent, "new-domain"), (entry.is_similarity, "lookalike")) if on
    ]
    off = f"{' and '.join(checks)} checks off" if checks else "no check switched off"
    regex = " (regex)" if entry.is_regex else ""
    return f"*{safe_or(entry.pattern, PATTERN_CHARS)}*{regex} · {off}\n{_stamp(entry)}"


def settings_list(
    listing: str,
    entries: Sequence[AllowPolicy] | Sequence[TrustedDomain],
    *,
    text: str,
    shown_before: int,
    total: int | None,
    key: str,
    more: str | None,
) -> list[Block]:
    """One page of allow policies (`listing` "allowed") or trusted domains ("trusted"), each
    with Remove (which redraws this page, `key`), and More while `more` names a next page."""
    noun = "allow policies" if listing == "allowed" else "trusted domains"
    what = f" matching {safe_or(text, 100)}" if text else ""
    if not entries:
        return [SectionBlock(text=mrkdwn(f"No {noun}{what}."))]
    blocks: list[Block] = [
        page_heading(noun, noun.capitalize(), total, what, shown_before, len(entries))
    ]
    for entry in entries:
        if isinstance(entry, AllowPolicy):
            line, button = (
                _allow_text(entry),
                _remove_button(ActionId.DISALLOW, entry.id, key, "allow policy"),
            )
        else:
            line, button = (
                _trusted_text(entry),
                _remove_button(ActionId.UNTRUST, entry.id, key, "trusted domain"),
            )
        blocks.append(SectionBlock(text=mrkdwn(clamp(line, 2900)), accessory=button))
    if more is not None:
        action = ActionId.ALLOWED_MORE if listing == "allowed" else ActionId.TRUSTED_MORE
        blocks.append(ActionsBlock(elements=[parts.button("More", action, more)]))
    return blocks


def removed_text(what: str, pattern: str, entry_id: str, *, unaudited: bool = False) -> str:
    """What a Remove (or `disallow`, `untrust`) deleted, said to the person who asked."""
    line = (
        f"Removed the {what} {safe_or(pattern, PATTERN_CHARS)} (id "
        f"{safe_or(entry_id, 60, kind=Kind.LITERAL)}): mail it matched is checked like any "
        "other mail again."
    )
    if unaudited:
        line += parts.UNAUDITED
    return line
