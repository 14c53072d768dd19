"""Slack listeners: parse the request, call one service, render, reply.

`register` is the one table of what listens to what. Every listener but the slash command (which
may answer "busy" in its ack) and the Home event goes through `context.acked`: ack at once, a
slot of the work gate, rate-limit notices; whatever it raises is answered by
`context.answer_error`, Bolt's error handler.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from blocks.ids import ActionId, CallbackId
from bot.services.registry import Services
from bot.store import Once
from handlers import (
    alerts,
    allowing,
    allowlist,
    approvals,
    blocklist,
    cards,
    home,
    phishguard,
    search,
    submissions,
    vip,
)
from handlers.commands import on_command
from handlers.context import Check, Listening, Slackside, Work, acked, answer_error
from handlers.retries import SkipRepeats
from handlers.workspace import OneWorkspace, Workspace

ACTIONS: dict[ActionId, Work] = {
    ActionId.OPEN: cards.on_open,
    ActionId.SEARCH_MORE: search.on_more,
    ActionId.HIT_OPEN: search.on_open,
    ActionId.SHARE: search.on_share,
    ActionId.RELEASE_SELECTED: search.on_release_selected,
    ActionId.MOVE_SELECTED: search.on_move_selected,
    ActionId.PREVIEW: cards.evidence("preview"),
    ActionId.RAW: cards.evidence("raw"),
    ActionId.TRACE: cards.evidence("trace"),
    ActionId.RELEASE: cards.on_release,
    ActionId.MOVE: cards.on_move_menu,
    ActionId.RECLASSIFY: cards.on_reclassify_menu,
    ActionId.BLOCK: cards.on_block_button,
    ActionId.APPROVE: approvals.on_approve,
    ActionId.REJECT: approvals.on_reject,
    ActionId.CANCEL: approvals.on_cancel,
    ActionId.JOB_CANCEL: approvals.on_job_cancel,
    ActionId.APPROVALS_PAGE: approvals.on_page,
    ActionId.RELEASE_ALL: approvals.on_all_matching,
    ActionId.MOVE_ALL: approvals.on_all_matching,
    ActionId.DIGEST_LIST: alerts.on_digest_list,
    ActionId.UNBLOCK: blocklist.on_unblock,
    ActionId.BLOCKED_MORE: blocklist.on_more,
    ActionId.VIP_REMOVE: vip.on_remove,
    ActionId.VIP_MORE: vip.on_more,
    ActionId.VIP_ADD: vip.on_add,
    ActionId.SUBMISSIONS_MORE: submissions.on_more,
    ActionId.PHISHGUARD_MORE: phishguard.on_more,
    ActionId.ALLOW: allowing.on_allow_button,
    ActionId.FALSE_POSITIVE: allowing.on_false_positive_button,
    ActionId.DISALLOW: allowlist.on_remove("allowed"),
    ActionId.ALLOWED_MORE: allowlist.on_more("allowed"),
    ActionId.UNTRUST: allowlist.on_remove("trusted"),
    ActionId.TRUSTED_MORE: allowlist.on_more("trusted"),
}
VIEWS: dict[CallbackId, tuple[Work, Check | None]] = {
    CallbackId.MOVE_MODAL: (cards.on_move_submit, None),
    CallbackId.RELEASE_MODAL: (cards.on_release_submit, None),
    CallbackId.RECLASSIFY_MODAL: (cards.on_reclassify_submit, None),
    CallbackId.BLOCK_MODAL: (cards.on_block_submit, None),
    CallbackId.ALLOW_MODAL: (allowing.on_allow_submit, allowing.allow_errors),
    CallbackId.FALSE_POSITIVE_MODAL: (allowing.on_false_positive_submit, allowing.allow_errors),
    CallbackId.REJECT_MODAL: (approvals.on_reject_submit, None),
    CallbackId.BULK_MODAL: (approvals.on_all_matching_submit, approvals.bulk_errors),
}


def register(
    app: AsyncApp, services: Services, slack: Slackside, once: Once, workspace: Workspace
) -> None:
    app.use(OneWorkspace(workspace))  # another workspace's request does nothing, first
    app.use(SkipRepeats(once))  # a repeated delivery does nothing
    app.use(Listening(services, slack))
    app.error(answer_error)
    app.command(slack.command)(on_command)
    for action_id, work in ACTIONS.items():
        app.action(action_id.value)(acked(work))
    app.action(ActionId.HIT_PICK.value)(search.on_tick)
    for callback_id, (work, check) in VIEWS.items():
        app.view(callback_id.value)(acked(work, check))
    app.shortcut(CallbackId.INVESTIGATE_SHORTCUT.value)(acked(home.on_shortcut))
    app.event("app_home_opened")(home.on_home_opened)
