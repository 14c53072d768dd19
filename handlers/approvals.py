"""Approval requests in Slack: creating them (from commands, cards and search), Approve /
Reject / Cancel, the executor's progress on the card, the sweeper, `/email approvals`."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks import actions as ids
from blocks.approvals import (
    approval_card,
    approvals_list,
    bulk_modal,
    id_list_text,
    reject_modal,
    what,
)
from blocks.safety import clamp
from bot.app import Services
from bot.cloudflare.models import DESTINATIONS, MessageDetails
from bot.observability import set_outcome
from bot.services.actions import ApprovalNeeded
from bot.services.approvals import (
    ActionName,
    ApprovalRequest,
    ApprovalState,
    MessageSummary,
    Outcome,
)
from bot.services.executor import Executor
from bot.services.policy import Role
from handlers import flows, home
from handlers.replies import Reply, answering, field

log = logging.getLogger("bot.handlers")
THREAD_IDS_INLINE = 50  # more ids than this go into the thread as a file
BULK_LIMIT = 10_000  # messages one search-wide request may cover
Body = dict[str, Any]


async def request(
    services: Services,
    reply: Reply,
    action: ActionName,
    messages: Sequence[MessageDetails],
    params: dict[str, str],
    need: ApprovalNeeded,
    reason: str = "",
) -> None:
    """Make an approval request and post its card where the action was asked for."""
    summary = [
        MessageSummary(id=m.id, subject=m.subject, sender=m.from_ or m.envelope_from,
                       disposition=m.final_disposition)
        for m in messages[:20]
    ]  # fmt: skip
    made = await services.approvals.create(
        action=action, params=params, ids=[m.id for m in messages], requester=reply.user_id,
        reason=reason, rule=need.reason, summary=summary,
        ttl_seconds=services.settings.bot_approval_ttl,
        required=services.settings.bot_required_approvals, channel=reply.channel_id,
    )  # fmt: skip
    await services.audit.record(
        actor=reply.user_id, action=f"request {action}", ids=made.ids, outcome="pending",
        request_id=made.id, digest=made.digest, detail=need.reason,
    )  # fmt: skip
    ts = await reply.post(_card(services, made), f"Approval needed: {what(made)}")
    assert reply.channel_id is not None
    await services.approvals.attach_card(made.id, reply.channel_id, ts)
    if len(made.ids) > len(made.summary):
        await _post_ids(reply.client, made, reply.channel_id, ts)
    await reply.private(
        f"Asked for approval: {what(made)} ({need.reason}). {services.policy.who(Role.APPROVER)}"
    )
    await homes(services, reply.client, made)


async def homes(services: Services, client: AsyncWebClient, made: ApprovalRequest) -> None:
    """Redraw the Home tabs this request shows on: its requester's and the approvers' (those
    named by user id; group members see it when they next open their Home)."""
    users = {made.requester, *(a.user for a in made.approvals)}
    users |= {u for u in services.settings.bot_approvers if not u.startswith("S")}
    for user in sorted(users):
        await home.publish(services, client, user)


def _card(services: Services, made: ApprovalRequest, results: Sequence[Any] = ()) -> list[Any]:
    return approval_card(made, approvers=services.policy.who(Role.APPROVER), results=results)


async def _post_ids(client: AsyncWebClient, made: ApprovalRequest, channel: str, ts: str) -> None:
    text = id_list_text(made)
    if len(made.ids) <= THREAD_IDS_INLINE:
        await client.chat_postMessage(
            channel=channel, thread_ts=ts, text=f"Every message of request {made.id}:\n{text}",
            unfurl_links=False, unfurl_media=False,
        )  # fmt: skip
        return
    await client.files_upload_v2(
        channel=channel, thread_ts=ts, content=text, filename=f"request-{made.id}-ids.txt",
        title=f"{len(made.ids)} message ids", initial_comment="Every message of this request.",
    )  # fmt: skip


async def refresh(services: Services, client: AsyncWebClient, made: ApprovalRequest) -> None:
    """Show the request's current state on its card (and never fail the caller for it)."""
    if not made.channel or not made.message_ts:
        return
    results = await services.approvals.chunks(made.id) if made.chunks_done else []
    try:
        await client.chat_update(
            channel=made.channel, ts=made.message_ts, blocks=_card(services, made, results),
            text=f"{made.state.value}: {what(made)}",
        )  # fmt: skip
    except SlackApiError as exc:
        log.warning("could not update approval card %s: %s", made.id, exc.response.get("error"))


async def _say(client: AsyncWebClient, made: ApprovalRequest, text: str) -> None:
    if made.channel and made.message_ts:
        await client.chat_postMessage(
            channel=made.channel, thread_ts=made.message_ts, text=clamp(text, 3000),
            unfurl_links=False, unfurl_media=False,
        )  # fmt: skip


async def execute(services: Services, client: AsyncWebClient, request_id: str) -> None:
    """Run (or resume) an approved request, showing progress on its card."""

    async def progress(made: ApprovalRequest) -> None:
        await refresh(services, client, made)

    executor = Executor(
        services.approvals, services.email, lease_seconds=10,
        # One owner per run: the sweeper and a click in this process must not share a lease.
        owner=f"{services.instance_id}:{secrets.token_hex(4)}",
        on_progress=progress, audit=services.audit, stop=services.stopping,
    )  # fmt: skip
    done = await executor.run(request_id)
    if done is None:
        return  # another replica holds it
    # The executor's last progress call already drew the finished card.
    results = await services.approvals.chunks(done.id)
    failed = sum(len(r.failed) for r in results)
    skipped = sum(len(r.skipped) for r in results)
    await _say(
        client, done,
        f"{what(done)}: finished. {failed} failed, {skipped} skipped (already done or gone).",
    )  # fmt: skip
    await homes(services, client, done)


async def sweep(services: Services, client: AsyncWebClient) -> None:
    """Expire what is overdue (cards updated) and resume executions nobody holds."""
    for made in await services.approvals.expire_due():
        await services.audit.record(
            actor="bot", action=f"expire {made.action}", ids=made.ids, outcome="expired",
            request_id=made.id, digest=made.digest,
        )  # fmt: skip
        await refresh(services, client, made)
        await _say(
            client, made, "⌛ This request expired without enough approvals; nothing was done."
        )
    for request_id in await services.approvals.stalled():
        await execute(services, client, request_id)


def register(app: AsyncApp, services: Services) -> None:
    async def start(ack: AsyncAck, body: Body, client: AsyncWebClient) -> tuple[Reply, str]:
        await ack()
        return Reply.to(services, client, body), str(body["actions"][0].get("value", ""))

    @app.action(ids.APPROVE)
    async def on_approve(ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        reply, request_id = await start(ack, body, client)
        async with answering(reply, "approving the request"):
            if not await flows.allowed(services, reply, Role.APPROVER, "approve requests"):
                return
            decision = await services.approvals.approve(request_id, reply.user_id)
            await _decided(services, reply, decision, "approve")
            if decision.outcome == Outcome.EXECUTE:
                await execute(services, client, request_id)

    @app.action(ids.REJECT)
    async def on_reject(ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        await ack()
        # trigger_id lives 3 s: the modal first, the role check when it is submitted.
        await client.views_open(
            trigger_id=body["trigger_id"], view=reject_modal(str(body["actions"][0]["value"]))
        )

    @app.view(ids.REJECT_MODAL)
    async def on_reject_reason(ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        await ack()
        request_id = str(body["view"].get("private_metadata") or "")
        reason = (field(body["view"]["state"]["values"], ids.REASON_INPUT) or {}).get("value") or ""
        made = await services.approvals.get(request_id)
        reply = Reply(client, body["user"]["id"], made.channel if made else None, None)
        async with answering(reply, "rejecting the request"):
            if not await flows.allowed(services, reply, Role.APPROVER, "reject requests"):
                return
            await _decided(
                services,
                reply,
                await services.approvals.reject(request_id, reply.user_id, reason),
                "reject",
            )

    @app.action(ids.CANCEL)
    async def on_cancel(ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        reply, request_id = await start(ack, body, client)
        async with answering(reply, "cancelling the request"):
            await _decided(
                services,
                reply,
                await services.approvals.cancel(request_id, reply.user_id),
                "cancel",
            )

    for action_id, action in ((ids.RELEASE_ALL, "release"), (ids.MOVE_ALL, "move")):
        _register_bulk_button(app, services, action_id, action)

    @app.view(ids.BULK_MODAL)
    async def on_bulk(ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        meta = json.loads(body["view"].get("private_metadata") or "{}")
        values = body["view"]["state"]["values"]
        folder = ((field(values, ids.FOLDER_INPUT) or {}).get("selected_option") or {}).get("value")
        reason = (field(values, ids.REASON_INPUT) or {}).get("value") or ""
        if meta.get("action") == "move" and folder not in DESTINATIONS:
            await ack(response_action="errors", errors={ids.FOLDER_INPUT: "Choose a folder."})
            return
        await ack()
        reply = Reply(
            client,
            body["user"]["id"],
            meta.get("channel"),
            None,
            command=services.settings.bot_command,
        )
        async with answering(reply, "asking for approval"):
            action: ActionName = "move" if meta.get("action") == "move" else "release"
            await bulk_request(services, reply, str(meta.get("key", "")), action, folder, reason)


def _register_bulk_button(app: AsyncApp, services: Services, action_id: str, action: str) -> None:
    @app.action(action_id)
    async def on_all(ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        await ack()
        key = str(body["actions"][0].get("value", ""))
        saved = await services.searches.load(key)
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
            "channel_id"
        )
        meta = json.dumps({"key": key, "action": action, "channel": channel})
        description = saved.description if saved else "the search"
        await client.views_open(
            trigger_id=body["trigger_id"],
            view=bulk_modal(meta, action=action, description=description),
        )


async def bulk_request(
    services: Services, reply: Reply, key: str, action: ActionName, folder: str | None, reason: str
) -> None:
    """Every message of a saved search (up to BULK_LIMIT) into one approval request."""
    if not await flows.allowed(services, reply, Role.OPERATOR, f"{action} messages"):
        return
    saved = await services.searches.load(key)
    if saved is None:
        await reply.private("That search has expired (searches are kept an hour); run it again.")
        return
    found = [
        m async for m in services.email.search(limit=BULK_LIMIT, per_page=1000, **saved.filters)
    ]
    if action == "release":
        found = [m for m in found if m.is_quarantined]
    if not found:
        await reply.private("No message of that search needs it (nothing quarantined matches).")
        return
    need = services.actions.approval_needed(action, found) or ApprovalNeeded(
        "every bulk action from a search is approved by a second person"
    )
    params = {"folder": folder} if action == "move" and folder else {}
    await request(services, reply, action, found, params, need, reason)


async def _decided(services: Services, reply: Reply, decision: Any, verb: str) -> None:
    """Answer a click from what the store decided; update the card when state changed."""
    made: ApprovalRequest | None = decision.request
    outcome = decision.outcome
    if made is not None and outcome in (
        Outcome.APPROVED,
        Outcome.EXECUTE,
        Outcome.REJECTED,
        Outcome.CANCELLED,
    ):
        await services.audit.record(
            actor=reply.user_id, action=f"{verb} {made.action}", ids=made.ids,
            outcome=outcome.value, request_id=made.id, digest=made.digest,
            detail=made.end_reason if outcome == Outcome.REJECTED else None,
        )  # fmt: skip
        await refresh(services, reply.client, made)
        line = {
            Outcome.APPROVED: f"👍 Approved by <@{reply.user_id}>; more approvals needed.",
            Outcome.EXECUTE: f"👍 Approved by <@{reply.user_id}>: running now.",
            Outcome.REJECTED: f"🚫 Rejected by <@{reply.user_id}>.",
            Outcome.CANCELLED: f"↩️ Cancelled by <@{reply.user_id}>.",
        }[outcome]
        await _say(reply.client, made, line)
        await homes(services, reply.client, made)
        return
    # A stale card shows the truth again; but while a request executes, its executor alone
    # draws the card (this snapshot may be older than what the executor drew last).
    stale = outcome in (Outcome.EXPIRED, Outcome.NOT_PENDING)
    if made is not None and stale and made.state != ApprovalState.EXECUTING:
        await refresh(services, reply.client, made)
    set_outcome("refused")
    await reply.private(_refusal(services, outcome, made))


REFUSALS = {
    "already_approved": "You have already approved this request; it needs another approver.",
    "not_requester": "Only the requester can cancel a request; approvers can reject it.",
    "expired": "This request has expired; ask again if it is still needed.",
    "tampered": "This request's stored content no longer matches what was asked, so it "
    "was refused. Ask again.",
    "not_found": "This request no longer exists (requests are kept 30 days).",
}


def _refusal(services: Services, outcome: Any, made: ApprovalRequest | None) -> str:
    state = made.state.value if made else "gone"
    if outcome == Outcome.SELF_APPROVAL:
        return "You cannot approve your own request. " + services.policy.who(Role.APPROVER)
    if outcome == Outcome.NOT_PENDING:
        return f"This request is {state} already; nothing more can be done with it."
    return REFUSALS.get(str(outcome.value), f"Could not do that: the request is {state}.")


async def list_for(services: Services, reply: Reply) -> None:
    """`/email approvals`: what waits for me (if I approve) and my own pending requests."""
    pending = await services.approvals.pending()
    mine = [r for r in pending if r.requester == reply.user_id]
    blocks = []
    if await services.policy.check(reply.user_id, Role.APPROVER, "approve") is None:
        waiting = [
            r
            for r in pending
            if r.requester != reply.user_id and reply.user_id not in {a.user for a in r.approvals}
        ]
        blocks += approvals_list(waiting, title="Waiting for your approval")
    blocks += approvals_list(mine, title="Your pending requests")
    await reply.private_blocks(blocks, f"{len(pending)} pending requests")


__all__ = ["ApprovalState", "execute", "list_for", "register", "request", "sweep"]
