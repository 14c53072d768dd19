"""`/email <verb> …`: parse, check the role, call a service, render, reply. Acknowledged at
once with nothing (Slack's 3-second rule); every answer comes after."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from blocks import SEARCH_PAGE, help_blocks, search_results
from blocks.audit import audit_blocks
from bot.app import Services
from bot.commands import (
    BlockCommand,
    Command,
    MessageCommand,
    MoveCommand,
    ReclassifyCommand,
    ReleaseCommand,
    SearchCommand,
    SimpleCommand,
    parse,
)
from bot.observability import set_outcome
from bot.services.policy import Role
from bot.store import SavedSearch, StoreUnavailable
from handlers import acts, approvals, flows
from handlers.replies import BUSY, Reply, answering, rate_limit_notices

VIEW_ROLE = {
    "lookup": Role.VIEWER,
    "trace": Role.VIEWER,
    "preview": Role.OPERATOR,
    "raw": Role.OPERATOR,
}


def register(app: AsyncApp, services: Services) -> None:
    @app.command(services.settings.bot_command)
    async def on_command(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        async with services.gate.slot() as admitted:
            if not admitted:  # said in the ack itself: no extra call while overloaded
                set_outcome("busy")
                await ack(response_type="ephemeral", text=BUSY)
                return
            await ack()
            reply = Reply.to(services, client, body)
            async with rate_limit_notices(reply), answering(reply, "running the command"):
                await dispatch(services, reply, parse(str(body.get("text", ""))))


async def dispatch(services: Services, reply: Reply, command: Command) -> None:
    match command:
        case MessageCommand(verb="lookup", message_id=message_id):
            if await flows.allowed(services, reply, Role.VIEWER, "look up messages"):
                await flows.lookup(services, reply, message_id)
        case MessageCommand(verb=verb, message_id=message_id):
            await view_verb(services, reply, verb, message_id)
        case SearchCommand():
            if await flows.allowed(services, reply, Role.VIEWER, "search"):
                await search(services, reply, command)
        case ReleaseCommand(message_ids=ids):
            await acts.release(services, reply, ids, card=None)
        case MoveCommand(message_ids=ids, folder=folder):
            await acts.move(services, reply, ids, folder, card=None)
        case ReclassifyCommand(message_id=message_id, disposition=disposition):
            await acts.reclassify(services, reply, message_id, disposition, None, card=None)
        case BlockCommand(pattern=pattern, pattern_type=pattern_type):
            await acts.block(services, reply, pattern, pattern_type, None, card=None)
        case SimpleCommand(verb="approvals"):
            if await flows.allowed(services, reply, Role.VIEWER, "see approval requests"):
                await approvals.list_for(services, reply)
        case SimpleCommand(verb="audit", args=args):
            if await flows.allowed(services, reply, Role.VIEWER, "read the audit trail"):
                await audit(services, reply, args[0] if args else None)
        case _:
            await reply.private_blocks(help_blocks(reply.command), f"{reply.command} help")


async def view_verb(services: Services, reply: Reply, verb: str, message_id: str) -> None:
    """preview / raw / trace from a command: a card first, so the result has a thread."""
    role = VIEW_ROLE[verb]
    if not await flows.allowed(services, reply, role, f"see a message's {verb}"):
        return
    posted = await flows.lookup(services, reply, message_id)
    if posted is None:
        return
    card, found = posted
    await flows.show(services, reply, verb, found.message, card)


async def search(
    services: Services, reply: Reply, command: SearchCommand | SavedSearch, key: str | None = None
) -> None:
    if isinstance(command, SearchCommand):
        saved = SavedSearch(
            description=command.description, filters=command.filters(datetime.now(UTC)),
            cursor="", shown=0,
        )  # fmt: skip
    else:
        saved = command
    page = await services.email.search_page(
        saved.cursor or None, per_page=SEARCH_PAGE, **saved.filters
    )
    more_key = bulk_key = None
    try:
        if page.next_cursor:
            following = saved.model_copy(
                update={"cursor": page.next_cursor, "shown": saved.shown + len(page.messages)}
            )
            more_key = await services.searches.save(following)
        if page.messages:
            whole = saved.model_copy(update={"cursor": "", "shown": 0})
            bulk_key = await services.searches.save(whole)
    except StoreUnavailable:
        pass  # results still shown; paging and bulk actions need Redis, and we say so below
    blocks = search_results(
        page.messages, description=saved.description, more_key=more_key,
        shown_before=saved.shown, bulk_key=bulk_key,
    )  # fmt: skip
    await reply.private_blocks(blocks, f"Search results: {len(page.messages)} messages")
    if page.messages and bulk_key is None:
        await reply.private(
            "Paging and “Release/Move all” need the bot's Redis, which is unreachable now."
        )


async def audit(services: Services, reply: Reply, subject: str | None) -> None:
    """`/email audit [id]`: recent entries, for one message or one approval request."""
    if subject is None:
        entries = await services.audit.recent(limit=20)
    elif await services.approvals.get(subject) is not None:
        entries = await services.audit.recent(limit=20, request_id=subject)
    else:
        entries = await services.audit.recent(limit=20, message_id=subject)
    await reply.private_blocks(audit_blocks(entries, subject), f"{len(entries)} audit entries")
