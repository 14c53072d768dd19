"""Approve / Reject / Cancel on approval cards, lists and the App Home; the pages of those
lists; "Release / Move all matching…" on search results and their modal. Each: parse, one
service call, reply."""

from __future__ import annotations

import dataclasses

from blocks.approvals import ListPage, approvals_list, bulk_modal, reject_modal
from blocks.ids import ActionId, InputId
from blocks.modals import ModalContext
from bot.cloudflare.models import DESTINATIONS, Destination
from bot.errors import InvalidInput
from bot.services.ports import Origin
from handlers.commands import tell
from handlers.context import Request
from handlers.replies import chosen, field

FOLDERS: dict[str, Destination] = {d: d for d in DESTINATIONS}


async def on_approve(request: Request) -> None:
    await request.services.approvals.approve(request.actor, request.value)


async def on_cancel(request: Request) -> None:
    await request.services.approvals.cancel(request.actor, request.value)


async def on_job_cancel(request: Request) -> None:
    """Cancel job, on a running bulk job's card: the requester or an approver."""
    await request.services.approvals.cancel_job(request.actor, request.value)
    await request.reply.private("Cancelling the bulk job; its card shows when it has stopped.")


async def on_page(request: Request) -> None:
    """ "Next page" of an approvals list: on the App Home, the Home redrawn at that page; in a
    private answer, that page as a new private answer."""
    try:
        page = ListPage.load(request.value)
    except ValueError:
        raise InvalidInput("That button does not name a page of approval requests.") from None
    if page.where == "home":
        await request.slack.home.publish(request.actor, page)
        return
    seen = await request.services.approvals.pending_for(request.actor)
    requests = seen.waiting if page.name == "waiting" else seen.mine
    await request.reply.private_blocks(approvals_list(requests, page), f"{len(requests)} pending")


async def on_reject(request: Request) -> None:
    """The reason first (a trigger id lives 3 s); the role is checked when it is submitted."""
    view = reject_modal(ModalContext(request_id=request.value))
    await request.client.views_open(trigger_id=request.body["trigger_id"], view=view)


async def on_reject_submit(request: Request) -> None:
    view = request.body["view"]
    ctx = ModalContext.load(view.get("private_metadata") or "{}")
    reason = field(view["state"]["values"], InputId.REASON).get("value") or ""
    await request.services.approvals.reject(request.actor, ctx.request_id, reason)


async def on_all_matching(request: Request) -> None:
    """Release / Move all matching…: the modal that asks for a reason (and a folder)."""
    action = "move" if request.body["actions"][0]["action_id"] == ActionId.MOVE_ALL else "release"
    ctx = ModalContext(
        search_key=request.value, action=action, channel_id=request.reply.channel_id or ""
    )
    description = await request.services.messages.saved_description(request.value)
    view = bulk_modal(ctx, description=description or "the search")
    await request.client.views_open(trigger_id=request.body["trigger_id"], view=view)


def bulk_errors(request: Request) -> dict[str, str] | None:
    """Checked before the ack, so the modal stays open and says what is missing."""
    view = request.body["view"]
    ctx = ModalContext.load(view.get("private_metadata") or "{}")
    folder = chosen(view["state"]["values"], InputId.FOLDER)
    if ctx.action == "move" and folder not in DESTINATIONS:
        return {InputId.FOLDER: "Choose a folder."}
    return None


async def on_all_matching_submit(request: Request) -> None:
    view = request.body["view"]
    ctx = ModalContext.load(view.get("private_metadata") or "{}")
    values = view["state"]["values"]
    folder = FOLDERS.get(chosen(values, InputId.FOLDER) or "")
    if ctx.action == "move" and folder is None:
        raise InvalidInput("Choose a folder.")
    reason = field(values, InputId.REASON).get("value") or ""
    reply = dataclasses.replace(request.reply, channel_id=ctx.channel_id or None)
    origin = Origin(channel=ctx.channel_id or None)
    queries = request.services.queries
    if ctx.action == "move":
        result = await queries.all_matching(
            request.actor, ctx.search_key, "move", origin, folder, reason
        )
    else:
        result = await queries.all_matching(
            request.actor, ctx.search_key, "release", origin, None, reason
        )
    await tell(reply, result)
