"""The actions (release, move, reclassify, block) as one flow each, whether they come from a
command, a card's button or a modal: role, fresh state, approval rule, act, outcome.

Two clicks on the same action for the same messages (a double click, two people at once) do
not both act: while one runs, the other is told so (`_exclusive`). One after the other, the
second one re-checks the message first (a release of a message no longer quarantined is
refused)."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator, Sequence

from blocks import safe
from bot.app import Services
from bot.cloudflare.models import (
    Destination,
    MessageDetails,
    MoveResult,
    PatternType,
    ReclassifyDisposition,
    ReleaseResult,
)
from bot.services.actions import block_pattern
from bot.services.lookup import Ambiguous
from bot.services.policy import Role
from bot.store import StoreUnavailable
from handlers import approvals, flows
from handlers.flows import Card
from handlers.replies import NOTICE_LIMIT, Reply, not_found

RUNNING_SECONDS = 120  # how long a claim on an action in progress lasts if its process dies


async def _messages(
    services: Services, reply: Reply, ids: Sequence[str]
) -> list[MessageDetails] | None:
    """Current state of every id (fresh, so a stale card cannot mislead); None after telling
    the user what is wrong with the ids."""
    found = await services.lookup.messages(ids)
    missing = [i for i, f in zip(ids, found, strict=True) if f is None]
    if missing:
        await reply.private(not_found(", ".join(missing[:10])))
        return None
    ambiguous = [f for f in found if isinstance(f, Ambiguous)]
    if ambiguous:
        await flows.show_chooser(reply, ambiguous[0])
        return None
    return [f for f in found if isinstance(f, MessageDetails)]


async def _audit(
    services: Services, reply: Reply, action: str, ids: Sequence[str], outcome: str
) -> None:
    """Record a direct action; it is done already, so a Redis failure is said, not raised."""
    try:
        await services.audit.record(actor=reply.user_id, action=action, ids=ids, outcome=outcome)
    except StoreUnavailable:
        await reply.private(
            f"Done, but not recorded in the audit trail: the bot's Redis is unreachable ({action})."
        )


@contextlib.asynccontextmanager
async def _exclusive(
    services: Services, reply: Reply, action: str, ids: Sequence[str]
) -> AsyncIterator[bool]:
    """Yields True while this request alone runs `action` on `ids`; False (after telling the
    user) when the same action on the same messages is already under way. Redis down: True
    (the action needs no record; the re-check before a release still applies)."""
    digest = hashlib.sha256("\n".join([action, *sorted(ids)]).encode()).hexdigest()[:32]
    key = f"action:{digest}"
    try:
        alone = await services.once.first(key, RUNNING_SECONDS)
    except StoreUnavailable:
        alone, key = True, ""
    if not alone:
        await reply.private(
            f"That {action} is already under way (another click a moment ago); "
            "its outcome will show on the card."
        )
        yield False
        return
    try:
        yield True
    finally:
        if key:
            with contextlib.suppress(StoreUnavailable):
                await services.once.forget(key)


async def _conclude(
    services: Services, reply: Reply, card: Card | None, message: MessageDetails, line: str
) -> None:
    """Show the outcome: on the card it came from, else on a new card."""
    if card is not None:
        await flows.record_outcome(services, reply, card, message.id, line)
        return
    found = await flows.investigate(services, reply, message.id)
    if found is not None:
        await flows.post_card(services, reply, found, outcomes=[line])


async def release(services: Services, reply: Reply, ids: Sequence[str], card: Card | None) -> None:
    if not await flows.allowed(services, reply, Role.OPERATOR, "release messages"):
        return
    messages = await _messages(services, reply, ids)
    if messages is None:
        return
    held = [m for m in messages if m.is_quarantined]
    for message in messages:
        if not message.is_quarantined:
            await reply.private(
                safe(f"`{message.id}` is not in quarantine: nothing to release.", NOTICE_LIMIT)
            )
            if card is not None:  # the card was stale: show the current state
                await flows.record_outcome(
                    services,
                    reply,
                    card,
                    message.id,
                    flows.stamp(reply.user_id, "Checked: not in quarantine"),
                )
    if not held:
        return
    need = services.actions.approval_needed("release", held)
    if need is not None:
        await approvals.request(services, reply, "release", held, {}, need)
        return
    async with _exclusive(services, reply, "release", [m.id for m in held]) as alone:
        if not alone:
            return
        results = await services.actions.release([m.id for m in held])
    await _audit(
        services, reply, "release", [m.id for m in held], ", ".join(r.outcome for r in results)
    )
    for message, result in zip(held, results, strict=True):
        await _conclude(
            services, reply, card, message, flows.stamp(reply.user_id, release_summary(result))
        )


def release_summary(result: ReleaseResult) -> str:
    parts = {
        "delivered": f"✅ Released: delivered to {len(result.delivered)}",
        "partial": f"⚠️ Released in part: delivered to {len(result.delivered)}, "
        f"failed for {len(result.failed)}, undelivered for {len(result.undelivered)}",
        "failed": f"❌ Release failed for {len(result.failed)} recipients",
        "undelivered": f"⚠️ Release undelivered for {len(result.undelivered)} recipients",
        "unknown": "❔ Release sent; Cloudflare reported no outcome for this message",
    }
    text = parts[result.outcome]
    if result.failed:
        text += f" (failed: {', '.join(result.failed[:5])})"
    return safe(text, 600)


async def move(
    services: Services, reply: Reply, ids: Sequence[str], folder: Destination, card: Card | None
) -> None:
    if not await flows.allowed(services, reply, Role.OPERATOR, "move messages"):
        return
    messages = await _messages(services, reply, ids)
    if messages is None:
        return
    need = services.actions.approval_needed("move", messages)
    if need is not None:
        await approvals.request(services, reply, "move", messages, {"folder": folder}, need)
        return
    async with _exclusive(services, reply, f"move to {folder}", [m.id for m in messages]) as alone:
        if not alone:
            return
        results = await services.actions.move([m.id for m in messages], folder)
    line = flows.stamp(reply.user_id, move_summary(results, folder))
    await _audit(
        services,
        reply,
        f"move to {folder}",
        [m.id for m in messages],
        move_summary(results, folder),
    )
    for message in messages:
        await _conclude(services, reply, card, message, line)


def move_summary(results: Sequence[MoveResult], folder: str) -> str:
    failed = [r for r in results if not r.success]
    if not failed:
        return f"📁 Moved to {folder}"
    return safe(f"⚠️ Move to {folder}: {len(results) - len(failed)} done, {len(failed)} failed", 600)


async def reclassify(
    services: Services,
    reply: Reply,
    message_id: str,
    disposition: ReclassifyDisposition,
    reason: str | None,
    card: Card | None,
) -> None:
    if not await flows.allowed(services, reply, Role.OPERATOR, "reclassify messages"):
        return
    message = await flows.one_message(services, reply, message_id)
    if message is None:
        return
    async with _exclusive(services, reply, "reclassification", [message.id]) as alone:
        if not alone:
            return
        await services.actions.reclassify(message.id, disposition)
    await _audit(services, reply, f"reclassify as {disposition}", [message.id], "requested")
    why = f" (reason: {safe(reason, 300)})" if reason else ""
    line = flows.stamp(reply.user_id, f"🏷️ Reclassification as {disposition} requested{why}")
    await _conclude(services, reply, card, message, line)


async def block(
    services: Services,
    reply: Reply,
    pattern: str,
    pattern_type: PatternType,
    comment: str | None,
    card: Card | None,
    message: MessageDetails | None = None,
) -> None:
    if not await flows.allowed(services, reply, Role.OPERATOR, "block senders"):
        return
    async with _exclusive(services, reply, "block", [pattern_type, pattern.lower()]) as alone:
        if not alone:
            return
        blocked = await services.actions.block(pattern, pattern_type, comment, reply.user_id)
    await _audit(services, reply, f"block {pattern_type.lower()} {blocked.pattern}", [], "blocked")
    note = f" (comment: {safe(comment, 300)})" if comment else ""
    line = flows.stamp(
        reply.user_id, f"⛔ Blocked {pattern_type.lower()} {safe(blocked.pattern, 300)}{note}"
    )
    if message is not None:
        await _conclude(services, reply, card, message, line)
    else:
        await reply.private(line)


async def block_from_card(
    services: Services, reply: Reply, message_id: str, pattern_type: PatternType,
    comment: str | None, card: Card | None,
) -> None:  # fmt: skip
    message = await flows.one_message(services, reply, message_id)
    if message is None:
        return
    pattern = block_pattern(message, pattern_type)
    if pattern is None:
        await reply.private("This message has no sender address to block.")
        return
    await block(services, reply, pattern, pattern_type, comment, card, message)
