"""`/email <verb> …`: parse, one service call, render, reply. Acknowledged at once with nothing
(or, when the bot is full, with the "busy" answer itself: no extra call while overloaded)."""

from __future__ import annotations

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock
from slack_sdk.web.async_client import AsyncWebClient

from blocks import help_blocks, search_results
from blocks.approvals import ListPage, approvals_list
from blocks.audit import audit_blocks, trail_check_blocks, trail_check_text
from blocks.modals import ModalContext, block_modal
from blocks.outcomes import action_notes, outcome_line, picked_notes
from bot.cloudflare.models import PatternType
from bot.commands import (
    AllowCommand,
    AllowlistCommand,
    BlockCommand,
    BlocklistCommand,
    MessageCommand,
    MoveCommand,
    ReclassifyCommand,
    ReleaseCommand,
    SearchCommand,
    SimpleCommand,
    TrustCommand,
    parse,
)
from bot.observability import set_outcome
from bot.report_commands import PhishGuardCommand, SubmissionsCommand, VipCommand
from bot.roles import Role
from bot.services.messages import SearchPage
from bot.services.outcomes import ActionResult
from bot.services.ports import Origin
from bot.services.registry import Services
from handlers import allowlist
from handlers.blocklist import show_blocked, show_domains, unblock
from handlers.context import Body, Request, Slackside, answering
from handlers.phishguard import show_reports
from handlers.replies import BUSY, Reply, rate_limit_notices, slack_error
from handlers.submissions import show_submissions
from handlers.vip import confirm_add, show_vips


async def on_command(
    ack: AsyncAck,
    body: Body,
    client: AsyncWebClient,
    services: Services,
    slack: Slackside,
    reply: Reply,
) -> None:
    async with slack.gate.slot() as admitted:
        if not admitted:
            set_outcome("busy")
            await ack(response_type="ephemeral", text=BUSY)
            return
        await ack()
        async with rate_limit_notices(reply):
            request = Request(body, services, slack, reply, client)
            await answering(dispatch(request, str(body.get("text", ""))), reply)


async def dispatch(request: Request, text: str) -> None:
    command = parse(text)
    services, reply, actor = request.services, request.reply, request.actor
    channel = reply.channel_id or ""
    origin = Origin(channel=reply.channel_id)
    match command:
        case MessageCommand(verb="lookup", message_id=message_id):
            await services.messages.lookup_card(actor, message_id, channel)
        case MessageCommand(verb="preview" | "raw" | "trace" as verb, message_id=message_id):
            await services.messages.evidence(actor, verb, message_id, None, channel)
        case SearchCommand():
            await show_page(reply, await services.messages.search(actor, command))
        case ReleaseCommand(message_ids=ids, reason=reason):
            await tell(reply, await services.actions.release(actor, ids, origin, reason))
        case MoveCommand(message_ids=ids, folder=folder, reason=reason):
            await tell(reply, await services.actions.move(actor, ids, folder, origin, reason))
        case ReclassifyCommand(message_id=message_id, disposition=disposition):
            await tell(
                reply, await services.actions.reclassify(actor, message_id, disposition, origin)
            )
        case BlockCommand(pattern=pattern, pattern_type=pattern_type):
            await confirm_block(request, pattern, pattern_type)
        case BlocklistCommand(verb="blocked", arg=text):
            await show_blocked(reply, await services.blocklist.blocked(actor, text))
        case BlocklistCommand(verb="unblock", arg=target):
            await unblock(request, target)
        case BlocklistCommand(verb="domains"):
            await show_domains(request)
        case VipCommand(action="list", text=text):
            await show_vips(reply, await services.vip.listing(actor, text))
        case VipCommand(action="add", email=email, name=name):
            await confirm_add(request, email, name)
        case SubmissionsCommand(since=since, status=status):
            await show_submissions(reply, await services.submissions.listing(actor, since, status))
        case PhishGuardCommand(since=since):
            await show_reports(request, since)
        case AllowCommand(pattern=pattern, pattern_type=pattern_type, reason=reason):
            await allowlist.open_allow_modal(request, pattern, pattern_type, reason)
        case TrustCommand(domain=domain, recent=recent, similarity=similar, reason=reason):
            asked = services.allowlist.request_trust(actor, domain, recent, similar, reason, origin)
            await tell(reply, await asked)
        case AllowlistCommand(verb="allowed" | "trusted" as listing, arg=text):
            await allowlist.show_list(request, listing, text)
        case AllowlistCommand(verb="disallow", arg=target):
            await allowlist.removed_by_command(request, "allowed", target)
        case AllowlistCommand(verb="untrust", arg=target):
            await allowlist.removed_by_command(request, "trusted", target)
        case SimpleCommand(verb="approvals"):
            seen = await services.approvals.pending_for(actor)
            blocks = []
            if Role.APPROVER in seen.roles:
                blocks += approvals_list(seen.waiting, ListPage("command", "waiting"))
            blocks += approvals_list(seen.mine, ListPage("command", "mine"))
            await reply.private_blocks(blocks, f"{len(seen.waiting) + len(seen.mine)} pending")
        case SimpleCommand(verb="audit", args=("verify",)):
            check = await services.approvals.check_trail(actor)
            await reply.private_blocks(trail_check_blocks(check), trail_check_text(check))
        case SimpleCommand(verb="audit", args=args):
            subject = args[0] if args else None
            entries = await services.approvals.trail(actor, subject)
            await reply.private_blocks(audit_blocks(entries, subject), f"{len(entries)} entries")
        case _:
            await reply.private_blocks(help_blocks(reply.command), f"{reply.command} help")


async def confirm_block(request: Request, pattern: str, pattern_type: PatternType) -> None:
    """A block by command confirms in the card's modal (what, how many recent matches, and
    whether it needs approval); its submission blocks (handlers/cards.py on_block_submit)."""
    actions, actor = request.services.actions, request.actor
    await actions.may_block(actor)
    ctx = ModalContext(
        channel_id=request.reply.channel_id or "", pattern=pattern.strip().lower(),
        pattern_type=pattern_type,
    )  # fmt: skip
    opened = await request.client.views_open(
        trigger_id=request.body["trigger_id"], view=block_modal(ctx, "")
    )
    preview = await actions.block_preview(actor, pattern=pattern, pattern_type=pattern_type)
    await request.client.views_update(
        view_id=opened["view"]["id"], view=block_modal(ctx, "", preview)
    )


async def announce(request: Request, result: ActionResult) -> None:
    """Say a block made without a card in its channel, as a card's thread would; privately
    when it cannot be posted there (or when it became an approval request: its card says
    it)."""
    lines = [outcome_line(o.outcome) for o in result.outcomes]
    channel = request.reply.channel_id
    if lines and channel:
        try:
            await request.client.chat_postMessage(
                channel=channel, text="\n".join(lines), unfurl_links=False, unfurl_media=False,
                blocks=[SectionBlock(text=MarkdownTextObject(text=t)) for t in lines],
            )  # fmt: skip
            lines = []
        except SlackApiError as exc:
            note = "I could not post it in the channel"
            lines.append(f"{note} ({slack_error(str(exc.response.get('error', '')))}).")
    notes = lines + action_notes(result)
    if notes:
        await request.reply.private("\n".join(notes))


async def tell(
    reply: Reply, result: ActionResult, *, everything: bool = False, picked: bool = False
) -> None:
    """Say privately what the cards do not show (with `everything`, the outcome lines too:
    a block asked for by command has no card; with `picked`, what became of each ticked
    search hit, by its id)."""
    notes = picked_notes(result) if picked else action_notes(result)
    if everything:
        notes = [outcome_line(o.outcome) for o in result.outcomes] + notes
    if notes:
        await reply.private("\n".join(notes))


async def show_page(reply: Reply, page: SearchPage) -> None:
    blocks = search_results(
        page.messages, description=page.description, more_key=page.more_key,
        shown_before=page.shown_before, bulk_key=page.bulk_key, has_more=page.has_more,
    )  # fmt: skip
    await reply.private_blocks(blocks, f"Search results: {len(page.messages)} messages")
    if page.unsaved:
        await reply.private(
            "Paging and “Release/Move all” need the bot's Redis, which is unreachable now."
        )
