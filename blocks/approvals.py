"""Approval requests as Slack sees them: the request card in each state, the list behind
`/email approvals`, and the modals for a rejection reason and for acting on a whole search.

Pure functions. Summaries of messages are attacker-written and go through `safe`; user ids come
from Slack and are mentioned as `<@U…>`; the rest is our own text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

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
from blocks.allowlist import change_summary, change_what
from blocks.bulkjob import job_buttons, job_lines, job_title, query_section
from blocks.ids import ActionId, BlockPrefix, CallbackId, InputId
from blocks.modals import ModalContext
from blocks.parts import mrkdwn, plain, safe_or, when
from blocks.safety import Kind, clamp, safe, text_width
from bot.services.approvals.changes import SETTINGS_CHANGES
from bot.services.approvals.jobstate import JobReport, ceiling_is_setting, ceiling_of
from bot.services.approvals.models import (
    ApprovalRequest,
    ApprovalState,
    ExecutionReport,
    MessageSummary,
)

SUMMARY_SHOWN = 10
SECTION_CHARS = 2900
FAILED_SHOWN = 20
_TITLES = {
    ApprovalState.PENDING: "⏳ Approval needed",
    ApprovalState.EXECUTING: "⚙️ Approved, running",
    ApprovalState.DONE: "✅ Done",
    ApprovalState.REJECTED: "🚫 Rejected",
    ApprovalState.CANCELLED: "↩️ Cancelled",
    ApprovalState.EXPIRED: "⌛ Expired",
    ApprovalState.REFUSED: "⛔ Refused",
}
# A user mention as the bot writes it (escaped by `safe`): the one markup a refusal keeps.
_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]{2,20})&gt;")


def what(request: ApprovalRequest) -> str:
    """`Release 250 messages` / `Move 3 messages to JunkEmail`: our words."""
    if request.action in SETTINGS_CHANGES:
        return change_what(request)
    if request.action == "block":
        kind = request.params.get("pattern_type", "?").lower()
        return f"Block {safe(kind, 10)} {safe_or(request.params.get('pattern'), 200)}"
    ceiling = ceiling_of(request)
    count = len(request.ids) if ceiling is None else ceiling
    amount = f"{count} {'message' if count == 1 else 'messages'}"
    if ceiling is not None and ceiling_is_setting(request):  # its matches were not counted
        read = request.search.matches if request.search else len(request.ids)
        amount = f"the messages matching a search (more than {read:,} match; at most {count:,})"
    elif ceiling is not None:  # approved as a query, its matches counted
        amount = f"at most {count:,} {'message' if count == 1 else 'messages'} matching a search"
    if request.action == "move":
        return f"Move {amount} to {request.params.get('folder', '?')}"
    return f"Release {amount} from quarantine"


def approval_card(
    request: ApprovalRequest,
    *,
    approvers: str,
    totals: ExecutionReport | None = None,
) -> list[Block]:
    """The request's card. `approvers` is our sentence naming who may approve; `totals` are the
    execution's so far (computed once, by the executor's `report`)."""
    title = _TITLES[request.state]
    if request.state == ApprovalState.DONE and totals and (totals.failed or totals.errors):
        title = "⚠️ Done with failures"
    if request.state == ApprovalState.DONE and isinstance(totals, JobReport):
        title = job_title(totals) or title
    blocks: list[Block] = [
        HeaderBlock(text=plain(clamp(f"{title}: {what(request)}", 150))),
        SectionBlock(fields=_facts(request)),
        *query_section(request),
        *_summary(request),
    ]
    if isinstance(totals, JobReport):  # a query: its job (refused: its chunks follow)
        blocks += job_lines(request, totals)
    if not isinstance(totals, JobReport) or totals.job.phase == "refused":
        blocks += _state_lines(request, approvers, totals)
    blocks.append(
        ContextBlock(elements=[mrkdwn(f"Request `{request.id}` · digest `{request.digest[:12]}`")])
    )
    if request.state == ApprovalState.PENDING:
        blocks.append(_buttons(request))
    blocks += job_buttons(request, totals if isinstance(totals, JobReport) else None)
    return blocks


def _facts(request: ApprovalRequest) -> list[MarkdownTextObject]:
    approvals = ", ".join(f"<@{a.user}>" for a in request.approvals) or "none yet"
    return [
        parts.field("Requested by", f"<@{request.requester}>"),
        parts.field("Reason", safe_or(request.reason, 500, "(none given)")),
        parts.field("Why approval", clamp(request.rule, 600)),  # a query's says its ceiling
        parts.field("Expires", when(request.expires_at)),
        parts.field("Approvals", f"{len(request.approvals)} of {request.required}: {approvals}"),
    ]


def _summary(request: ApprovalRequest) -> list[Block]:
    """Every message the card has room for, guarded ones first; the rest are in the thread's
    file. Each line: disposition, subject, sender, this copy's recipient and a copyable id."""
    total = len(request.ids)
    if request.action in SETTINGS_CHANGES:
        return change_summary(request)  # what it switches off, the mail it would have let in
    if request.action == "block" and not total:
        return []  # nothing but the pattern, which the header names
    head = f"*Messages* ({total})"
    if ceiling_is_setting(request):  # not all it acts on: the matches were not counted
        head = f"*Its first matches* ({total}; the bulk job acts on every match)"
    if request.guarded:
        named = ", ".join(f"{n} {safe(d, 30)}" for d, n in sorted(request.guarded.items()))
        head += f" · ⚠️ *includes {named}*"
    lines = [head] + [_line(m) for m in request.summary[:SUMMARY_SHOWN]]
    more = total - min(len(request.summary), SUMMARY_SHOWN)
    if more > 0:
        lines.append(f"…and {more} more: every message is in the file in this thread")
    return [SectionBlock(text=mrkdwn(text)) for text in _packed(lines, SECTION_CHARS)]


def _packed(lines: Sequence[str], limit: int) -> list[str]:
    """The lines joined into as few texts of at most `limit` characters as they fit in."""
    texts: list[str] = []
    for line in lines:
        if texts and text_width(texts[-1]) + 1 + text_width(line) <= limit:
            texts[-1] += "\n" + line
        else:
            texts.append(clamp(line, limit))
    return texts


def _line(message: MessageSummary) -> str:
    return (
        f"• {parts.disposition(message.disposition)} "
        f"{safe_or(message.subject, 100, '(no subject)')} — {safe_or(message.sender, 80)} "
        f"→ {safe_or(message.recipient, 82, kind=Kind.LITERAL)} · "
        f"{safe_or(message.id, 122, kind=Kind.LITERAL)}"
    )


def message_list_text(messages: Sequence[MessageSummary]) -> str:
    """Every message of a request for the thread's file, one per line (tab-separated: id,
    disposition, subject, sender, recipient), as the card orders them."""
    rows = ["id\tdisposition\tsubject\tsender\trecipient"]
    for m in messages:
        values = (m.id, m.disposition, m.subject, m.sender, m.recipient)
        rows.append("\t".join(safe(v, 300) or "-" for v in values))
    return "\n".join(rows) + "\n"


def _state_lines(
    request: ApprovalRequest, approvers: str, totals: ExecutionReport | None
) -> list[Block]:
    state = request.state
    if state == ApprovalState.PENDING:
        text = f"Who may approve: {approvers or 'nobody is configured (BOT_APPROVERS)'}"
        return [ContextBlock(elements=[mrkdwn(clamp(text, 2000))])]
    if state == ApprovalState.EXECUTING:
        done = f"{request.chunks_done} of {request.chunks_total} chunks done"
        return [SectionBlock(text=mrkdwn(f"*Progress*: {done}\n{_counts(totals)}"))]
    if state == ApprovalState.DONE:
        return [SectionBlock(text=mrkdwn(clamp(_outcome(totals), 3000)))]
    if state == ApprovalState.REFUSED:
        return [SectionBlock(text=mrkdwn(clamp(refusal_line(request, totals), 3000)))]
    by = f" by <@{request.ended_by}>" if request.ended_by else ""
    at = f" at {when(request.ended_at)}" if request.ended_at else ""
    reason = f": {safe(request.end_reason, 500)}" if request.end_reason else ""
    return [SectionBlock(text=mrkdwn(f"{_TITLES[state]}{by}{at}{reason}. Nothing was done."))]


def refusal(request: ApprovalRequest) -> str:
    """Why the bot refused the request ("Refused at execution: <@U…> is no longer an approver
    (BOT_APPROVERS)"). The bot wrote it, yet it is read back from Redis: escaped like any
    stored text, only user mentions are given back."""
    return _MENTION.sub(r"<@\1>", safe(request.end_reason or "Refused", 1500))


def refusal_line(request: ApprovalRequest, totals: ExecutionReport | None = None) -> str:
    """The refused card's (and thread's) line: why, when, and what it means for the messages.
    A request refused while pending did nothing; one refused when its run started (or
    resumed) sends nothing more, and keeps what chunks stored before it did (`totals`)."""
    at = f" ({when(request.ended_at)})" if request.ended_at else ""
    if request.executing_at is None:
        return f"⛔ {refusal(request)}{at}. Nothing was done."
    if not request.chunks_done:
        return f"⛔ {refusal(request)}{at}. Stopped before sending anything more."
    done = f" Before that: {_counts(totals)}" if totals is not None else ""
    return f"⛔ {refusal(request)}{at}. Stopped; the rest is not sent.{done}"


def _counts(totals: ExecutionReport | None) -> str:
    if totals is None:
        return "Sent 0 so far"
    return (
        f"Sent {totals.acted} · delivered {totals.delivered} · failed {len(totals.failed)} · "
        f"undelivered {len(totals.undelivered)} · skipped {totals.skipped} (already done or gone)"
    )


def _outcome(totals: ExecutionReport | None) -> str:
    lines = [f"*Result*: {_counts(totals)}"]
    if totals is not None and totals.notes:  # a block: what its one step did
        lines = [f"*Result*: {safe(', '.join(totals.notes), 300)}"]
    if totals is None:
        return lines[0]
    for label, found in (("Failed", totals.failed), ("Undelivered", totals.undelivered)):
        if found:
            shown = ", ".join(safe(i, 102, kind=Kind.LITERAL) for i in found[:FAILED_SHOWN])
            extra = f" and {len(found) - FAILED_SHOWN} more" if len(found) > FAILED_SHOWN else ""
            lines.append(f"*{label}*: {shown}{extra}")
    if totals.errors:
        lines.append("*Errors*: " + "; ".join(safe(e, 200) for e in totals.errors[:3]))
    return "\n".join(lines)


def _buttons(request: ApprovalRequest) -> ActionsBlock:
    confirm = ConfirmObject(
        title=plain("Approve this request?"),
        text=mrkdwn(clamp(f"{what(request)}. This runs at once.", 300)),
        confirm=plain("Approve"),
        deny=plain("Back"),
    )
    return ActionsBlock(
        block_id=f"{BlockPrefix.APPROVAL}-{request.id}",
        elements=[
            parts.button("Approve", ActionId.APPROVE, request.id, style="primary", confirm=confirm),
            parts.button("Reject", ActionId.REJECT, request.id, style="danger"),
            parts.button("Cancel request", ActionId.CANCEL, request.id),
        ],
    )


ListName = Literal["waiting", "mine"]
Where = Literal["command", "home"]
LIST_TITLES: dict[ListName, str] = {
    "waiting": "Waiting for your approval",
    "mine": "Your pending requests",
}
# Requests per page, two blocks each: both lists of `/email approvals` with their headers and
# footers take 44 blocks (a message allows 50), the App Home about 55 (it allows 100).
LIST_PAGE = 10
_PAGE_VALUE = re.compile(r"^(command|home):(waiting|mine):(\d{1,6})$")


@dataclass(frozen=True)
class ListPage:
    """One page of one approvals list on one surface: what a "Next page" button carries."""

    where: Where
    name: ListName
    start: int = 0

    def dump(self) -> str:
        return f"{self.where}:{self.name}:{self.start}"

    @classmethod
    def load(cls, value: str) -> ListPage:
        """The page a button's value names; ValueError for anything else."""
        match = _PAGE_VALUE.match(value)
        if match is None:
            raise ValueError(f"not a page of an approvals list: {value[:40]!r}")
        where: Where = "home" if match[1] == "home" else "command"
        name: ListName = "waiting" if match[2] == "waiting" else "mine"
        return cls(where, name, int(match[3]))


def approvals_list(requests: Sequence[ApprovalRequest], page: ListPage) -> list[Block]:
    """One page of pending requests, each with its buttons (clicks act on the request's own
    card), and a "Next page" button while more follow (on the last page, "First page")."""
    title = LIST_TITLES[page.name]
    if not requests:
        return [SectionBlock(text=mrkdwn(f"*{title}*: none."))]
    total = len(requests)
    # The list may have shrunk since the button was drawn: then its last page.
    start = min(page.start, (total - 1) // LIST_PAGE * LIST_PAGE)
    shown = requests[start : start + LIST_PAGE]
    end = start + len(shown)
    head = f"*{title}*" if total <= LIST_PAGE else f"*{title}* · {start + 1}-{end} of {total}"
    blocks: list[Block] = [SectionBlock(text=mrkdwn(head))]
    for request in shown:
        line = (
            f"*{what(request)}* · by <@{request.requester}> · "
            f"{len(request.approvals)}/{request.required} approvals · expires "
            f"{when(request.expires_at)}\n{safe_or(request.reason, 200, '(no reason given)')}"
        )
        blocks.append(SectionBlock(text=mrkdwn(line)))
        if request.state == ApprovalState.PENDING:
            blocks.append(_buttons(request))
    if end < total:
        more = f"{total - end} more on the next pages."
        following = replace(page, start=end)
        blocks.append(_page_footer(more, "Next page", following))
    elif start > 0:
        blocks.append(_page_footer(f"That is all {total}.", "First page", replace(page, start=0)))
    return blocks


def _page_footer(text: str, label: str, target: ListPage) -> SectionBlock:
    button = parts.button(label, ActionId.APPROVALS_PAGE, target.dump())
    return SectionBlock(text=mrkdwn(text), accessory=button)


def reject_modal(ctx: ModalContext) -> View:
    """Why reject: `ctx.request_id` is the request."""
    reason = PlainTextInputElement(action_id=InputId.REASON, multiline=True, max_length=500)
    return View(
        type="modal",
        callback_id=CallbackId.REJECT_MODAL,
        private_metadata=ctx.dump(),
        title=plain("Reject request"),
        submit=plain("Reject"),
        close=plain("Back"),
        blocks=[
            InputBlock(
                block_id=InputId.REASON,
                label=plain("Why?"),
                element=reason,
                hint=plain("The requester sees this on the request's card."),
            )
        ],
    )


def bulk_modal(ctx: ModalContext, *, description: str) -> View:
    """Act on every message a search matches (`ctx.search_key`, `ctx.action`): a reason, and
    the folder for a move."""
    action = ctx.action
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
                block_id=InputId.FOLDER,
                label=plain("Destination folder"),
                element=StaticSelectElement(
                    action_id=InputId.FOLDER,
                    placeholder=plain("Choose a folder"),
                    options=parts.folder_options(),
                ),
            )
        )
    blocks.append(
        InputBlock(
            block_id=InputId.REASON,
            label=plain("Reason"),
            element=PlainTextInputElement(action_id=InputId.REASON, multiline=True, max_length=500),
        )
    )
    return View(
        type="modal",
        callback_id=CallbackId.BULK_MODAL,
        private_metadata=ctx.dump(),
        title=plain("Release all" if action == "release" else "Move all"),
        submit=plain("Request approval"),
        close=plain("Back"),
        blocks=blocks,
    )
