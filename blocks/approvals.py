"""Approval requests as Slack sees them: the request card in each state, the list behind
`/email approvals`, and the modals for a rejection reason and for acting on a whole search.

Pure functions. Summaries of messages are attacker-written and go through `safe`; user ids come
from Slack and are mentioned as `<@U…>`; the rest is our own text.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from blocks import parts
from blocks.actions import (
    APPROVE,
    BULK_MODAL,
    CANCEL,
    FOLDER_INPUT,
    REASON_INPUT,
    REJECT,
    REJECT_MODAL,
)
from blocks.parts import mrkdwn, plain, safe_or, when
from blocks.safety import clamp, safe
from bot.services.approvals import (
    ApprovalRequest,
    ApprovalState,
    ChunkResult,
    MessageSummary,
)

SUMMARY_SHOWN = 10
FAILED_SHOWN = 20
_TITLES = {
    ApprovalState.PENDING: "⏳ Approval needed",
    ApprovalState.EXECUTING: "⚙️ Approved, running",
    ApprovalState.DONE: "✅ Done",
    ApprovalState.REJECTED: "🚫 Rejected",
    ApprovalState.CANCELLED: "↩️ Cancelled",
    ApprovalState.EXPIRED: "⌛ Expired",
}


def what(request: ApprovalRequest) -> str:
    """`Release 250 messages` / `Move 3 messages to JunkEmail`: our words."""
    count = len(request.ids)
    noun = "message" if count == 1 else "messages"
    if request.action == "move":
        return f"Move {count} {noun} to {request.params.get('folder', '?')}"
    return f"Release {count} {noun} from quarantine"


def approval_card(
    request: ApprovalRequest,
    *,
    approvers: str,
    results: Sequence[ChunkResult] = (),
) -> list[Block]:
    """The request's card. `approvers` is our sentence naming who may approve."""
    title = _TITLES[request.state]
    if request.state == ApprovalState.DONE and any(r.failed or r.error for r in results):
        title = "⚠️ Done with failures"
    blocks: list[Block] = [
        HeaderBlock(text=plain(clamp(f"{title}: {what(request)}", 150))),
        SectionBlock(fields=_facts(request)),
        SectionBlock(text=mrkdwn(_summary(request.summary, len(request.ids)))),
    ]
    blocks += _state_lines(request, approvers, results)
    blocks.append(
        ContextBlock(elements=[mrkdwn(f"Request `{request.id}` · digest `{request.digest[:12]}`")])
    )
    if request.state == ApprovalState.PENDING:
        blocks.append(_buttons(request))
    return blocks


def _facts(request: ApprovalRequest) -> list[MarkdownTextObject]:
    approvals = ", ".join(f"<@{a.user}>" for a in request.approvals) or "none yet"
    return [
        parts.field("Requested by", f"<@{request.requester}>"),
        parts.field("Reason", safe_or(request.reason, 500, "(none given)")),
        parts.field("Why approval", clamp(request.rule, 300)),
        parts.field("Expires", when(request.expires_at)),
        parts.field("Approvals", f"{len(request.approvals)} of {request.required}: {approvals}"),
    ]


def _summary(summary: Sequence[MessageSummary], total: int) -> str:
    lines = [
        f"• {parts.disposition(m.disposition)} {safe_or(m.subject, 120, '(no subject)')} — "
        f"{safe_or(m.sender, 120)}"
        for m in summary[:SUMMARY_SHOWN]
    ]
    more = total - len(lines)
    if more > 0:
        lines.append(f"…and {more} more (every id is in the thread)")
    return "*Messages*\n" + "\n".join(lines)


def _state_lines(
    request: ApprovalRequest, approvers: str, results: Sequence[ChunkResult]
) -> list[Block]:
    state = request.state
    if state == ApprovalState.PENDING:
        text = f"Who may approve: {approvers or 'nobody is configured (BOT_APPROVERS)'}"
        return [ContextBlock(elements=[mrkdwn(clamp(text, 2000))])]
    if state == ApprovalState.EXECUTING:
        done = f"{request.chunks_done} of {request.chunks_total} chunks done"
        return [SectionBlock(text=mrkdwn(f"*Progress*: {done}\n{_counts(results)}"))]
    if state == ApprovalState.DONE:
        return [SectionBlock(text=mrkdwn(clamp(_outcome(request, results), 3000)))]
    by = f" by <@{request.ended_by}>" if request.ended_by else ""
    at = f" at {when(request.ended_at)}" if request.ended_at else ""
    reason = f": {safe(request.end_reason, 500)}" if request.end_reason else ""
    return [SectionBlock(text=mrkdwn(f"{_TITLES[state]}{by}{at}{reason}. Nothing was done."))]


def _counts(results: Sequence[ChunkResult]) -> str:
    skipped = sum(len(r.skipped) for r in results)
    delivered = sum(len(r.delivered) for r in results)
    failed = sum(len(r.failed) for r in results)
    undelivered = sum(len(r.undelivered) for r in results)
    acted = sum(len(r.acted) for r in results)
    return (
        f"Sent {acted} · delivered {delivered} · failed {failed} · undelivered {undelivered} · "
        f"skipped {skipped} (already done or gone)"
    )


def _outcome(request: ApprovalRequest, results: Sequence[ChunkResult]) -> str:
    lines = [f"*Result*: {_counts(results)}"]
    for label, found in (
        ("Failed", [i for r in results for i in r.failed]),
        ("Undelivered", [i for r in results for i in r.undelivered]),
    ):
        if found:
            shown = ", ".join(f"`{safe(i, 100)}`" for i in found[:FAILED_SHOWN])
            extra = f" and {len(found) - FAILED_SHOWN} more" if len(found) > FAILED_SHOWN else ""
            lines.append(f"*{label}*: {shown}{extra}")
    errors = sorted({r.error for r in results if r.error})
    if errors:
        lines.append("*Errors*: " + "; ".join(safe(e, 200) for e in errors[:3]))
    return "\n".join(lines)


def _buttons(request: ApprovalRequest) -> ActionsBlock:
    confirm = ConfirmObject(
        title=plain("Approve this request?"),
        text=mrkdwn(clamp(f"{what(request)}. This runs at once.", 300)),
        confirm=plain("Approve"),
        deny=plain("Back"),
    )
    return ActionsBlock(
        block_id=f"approval-{request.id}",
        elements=[
            parts.button("Approve", APPROVE, request.id, style="primary", confirm=confirm),
            parts.button("Reject", REJECT, request.id, style="danger"),
            parts.button("Cancel request", CANCEL, request.id),
        ],
    )


def id_list_text(request: ApprovalRequest) -> str:
    """Every id of the request, for the thread or a file (ids are ours to print: checked)."""
    return "\n".join(safe(i, 200) for i in request.ids)


def approvals_list(requests: Sequence[ApprovalRequest], *, title: str) -> list[Block]:
    """Pending requests, each with its buttons (clicks act on the request's own card)."""
    if not requests:
        return [SectionBlock(text=mrkdwn(f"*{title}*: none."))]
    blocks: list[Block] = [SectionBlock(text=mrkdwn(f"*{title}*"))]
    for request in requests[:15]:
        line = (
            f"*{what(request)}* · by <@{request.requester}> · "
            f"{len(request.approvals)}/{request.required} approvals · expires "
            f"{when(request.expires_at)}\n{safe_or(request.reason, 200, '(no reason given)')}"
        )
        blocks.append(SectionBlock(text=mrkdwn(line)))
        if request.state == ApprovalState.PENDING:
            blocks.append(_buttons(request))
    return blocks


def reject_modal(request_id: str) -> View:
    reason = PlainTextInputElement(action_id=REASON_INPUT, multiline=True, max_length=500)
    return View(
        type="modal",
        callback_id=REJECT_MODAL,
        private_metadata=request_id,
        title=plain("Reject request"),
        submit=plain("Reject"),
        close=plain("Back"),
        blocks=[
            InputBlock(
                block_id=REASON_INPUT,
                label=plain("Why?"),
                element=reason,
                hint=plain("The requester sees this on the request's card."),
            )
        ],
    )


def bulk_modal(metadata: str, *, action: str, description: str) -> View:
    """Act on every message a search matches: a reason, and the folder for a move.
    `metadata` is our JSON (search key, action, channel)."""
    blocks: list[Block] = [
        SectionBlock(
            text=mrkdwn(
                f"{'Release' if action == 'release' else 'Move'} every message matching "
                f"{safe_or(description, 200, 'the search')}. This asks an approver first."
            )
        )
    ]
    if action == "move":
        blocks.append(
            InputBlock(
                block_id=FOLDER_INPUT,
                label=plain("Destination folder"),
                element=StaticSelectElement(
                    action_id=FOLDER_INPUT,
                    placeholder=plain("Choose a folder"),
                    options=parts.folder_options(),
                ),
            )
        )
    blocks.append(
        InputBlock(
            block_id=REASON_INPUT,
            label=plain("Reason"),
            element=PlainTextInputElement(action_id=REASON_INPUT, multiline=True, max_length=500),
        )
    )
    return View(
        type="modal",
        callback_id=BULK_MODAL,
        private_metadata=metadata,
        title=plain("Release all" if action == "release" else "Move all"),
        submit=plain("Request approval"),
        close=plain("Back"),
        blocks=blocks,
    )
