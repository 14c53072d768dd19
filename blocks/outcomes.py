"""Every sentence that tells what happened: outcome lines on cards and in their threads, the
stamps on them ("… by @user at …"), decision lines of approval requests, and the private notes
an action sends back to the person who asked. Composed from the services' records
(`bot.services.outcomes`), never from Slack payloads.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from blocks.approvals import refusal_line, what
from blocks.safety import Kind, clamp, safe
from bot.cloudflare.models import ReleaseResult
from bot.roles import SETTING, Role
from bot.services.approvals.jobstate import JOB_CEILING, JobReport, ceiling_is_setting
from bot.services.approvals.models import ApprovalEvent, ApprovalRequest, ExecutionReport
from bot.services.outcomes import (
    ActionResult,
    Approved,
    Blocked,
    CardOutcome,
    JobActed,
    Moved,
    NotQuarantined,
    Reclassified,
    Released,
    Requested,
    RequestEnded,
    SubmissionDecided,
    Unblocked,
)

LINE_CHARS = 600
# Recipients a release outcome names (per list), and characters each (with a literal's two
# backticks): three full lists fit.
RECIPIENTS_NAMED, RECIPIENT_CHARS = 3, 52
PICKED_NAMED = 10  # ids a note about ticked search hits names (a page holds 10)


def stamp(user_id: str, what_happened: str, at: datetime | None = None) -> str:
    """`<what> by <@user> at <time>`: who, what, when (user ids come from Slack)."""
    when = (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    who = "the bot" if user_id == "bot" else f"<@{user_id}>"
    return f"{what_happened} by {who} at {when}"


def release_summary(result: ReleaseResult) -> str:
    """What a release did, naming the recipients it reached (or did not): the copies of one
    message differ only by recipient, so "delivered to 1" would not say which copy."""
    delivered, failed, undelivered = (
        _whom(result.delivered), _whom(result.failed), _whom(result.undelivered)
    )  # fmt: skip
    match result.outcome:
        case "delivered":
            text = f"✅ Released: delivered to {delivered}"
        case "partial":
            parts = [f"delivered to {delivered}"]
            parts += [f"failed for {failed}"] if result.failed else []
            parts += [f"undelivered for {undelivered}"] if result.undelivered else []
            text = "⚠️ Released in part: " + "; ".join(parts)
        case "failed":
            text = f"❌ Release failed for {failed}"
            text += f"; undelivered for {undelivered}" if result.undelivered else ""
        case "undelivered":
            text = f"⚠️ Release undelivered for {undelivered}"
        case _:
            text = "❔ Release sent; Cloudflare reported no outcome for this message"
    return clamp(text, LINE_CHARS)


def _whom(addresses: Sequence[str]) -> str:
    """The first few recipients (the tenant's mailboxes, as they are), then how many more."""
    shown = [
        safe(a, RECIPIENT_CHARS, kind=Kind.LITERAL) or "?" for a in addresses[:RECIPIENTS_NAMED]
    ]
    more = len(addresses) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _what_happened(outcome: CardOutcome) -> str:
    match outcome:
        case Released(result=result):
            return release_summary(result)
        case Moved(folder=folder, done=done, failed=failed):
            if not failed:
                return f"📁 Moved to {safe(folder, 60)}"
            return f"⚠️ Move to {safe(folder, 60)}: {done} done, {failed} failed"
        case Reclassified(disposition=disposition, reason=reason):
            why = f" (reason: {safe(reason, 300)})" if reason else ""
            return f"🏷️ Reclassification as {safe(disposition, 30)} requested{why}"
        case Blocked(pattern=pattern, pattern_type=kind, comment=comment):
            note = f" (comment: {safe(comment, 300)})" if comment else ""
            return f"⛔ Blocked {kind.lower()} {safe(pattern, 300)}{note}"
        case Unblocked(pattern=pattern, pattern_type=kind):
            return f"🔓 Unblocked {kind.lower()} {safe(pattern, 300)}"
        case NotQuarantined():
            return "Checked: not in quarantine"
        case Approved():
            return _approved(outcome)
        case JobActed():
            return _job_acted(outcome)
        case SubmissionDecided(requested=requested, outcome=said, verdict=verdict):
            decided = safe(said, 60) or "decided"
            now = f" (verdict now {safe(verdict, 30)})" if verdict else ""
            return (
                f"🧾 Cloudflare reviewed the reclassification as {safe(requested, 30)}: "
                f"{decided}{now}; it was asked"
            )
        case Requested(request_id=request_id, action=action, pattern=pattern):
            request = safe(request_id, 42, kind=Kind.LITERAL)
            return f"⏳ {_asked(action, pattern)}: asked for approval ({request})"
        case RequestEnded():
            return _request_ended(outcome)
    raise AssertionError(f"no wording for {outcome!r}")  # pragma: no cover


def _asked(action: str, pattern: str | None) -> str:
    """What a request on a message asks for, as its card names it ("Allow policy for …")."""
    asked = {
        "release": "Release",
        "move": "Move",
        "allow": "Allow policy",
        "trust": "Trusted domain",
    }
    named = f" for {safe(pattern, 300)}" if pattern else ""
    return f"{asked.get(action, safe(action, 20))}{named}"


def _request_ended(outcome: RequestEnded) -> str:
    """The line that closes a card's "asked for approval": the stamp after it says who ended
    the request (the bot, for an expiry or a refusal)."""
    why = f" (reason: {safe(outcome.reason, 300)})" if outcome.reason else ""
    mark, ended = {
        "rejected": ("✖️", f"rejected{why}"),
        "cancelled": ("✖️", "cancelled"),
        "expired": ("⌛", "expired unapproved; closed"),
        "refused": ("⛔", f"refused{why}"),
    }[outcome.how]
    request = safe(outcome.request_id, 42, kind=Kind.LITERAL)
    asked = _asked(outcome.action, outcome.pattern)
    return f"{mark} {asked}: not done, approval request {request} {ended}"


def _approved(outcome: Approved) -> str:
    verb = {
        "release": "Released", "allow": "Allow policy created", "trust": "Trusted domain added",
    }.get(outcome.action) or f"Moved to {safe(outcome.folder, 60)}"  # fmt: skip
    how = {
        "done": f"✅ {verb}",
        "failed": f"❌ {verb}: failed",
        "undelivered": f"⚠️ {verb}: undelivered",
        "skipped": f"↪️ {verb}: nothing to do (already done or gone)",
    }[outcome.result]
    request = safe(outcome.request_id, 42, kind=Kind.LITERAL)
    return f"{how} through approval request {request}, asked by <@{outcome.requester}>, approved"


def _job_acted(outcome: JobActed) -> str:
    """What a request's bulk job did to one message; the stamp after it names the approver."""
    folder = safe(outcome.folder, 60)
    done, asked = (
        ("Released", "Release") if outcome.action == "release"
        else (f"Moved to {folder}", f"Move to {folder}")
    )  # fmt: skip
    why = f" ({safe(outcome.reason, 200)})" if outcome.reason else ""
    now = "this card shows the message as it is now"
    how = {
        "done": f"✅ {done} by",
        "failed": f"❌ {asked} failed{why} in",
        "unsure": f"❔ {asked} unsure (the job failed on more messages than it lists; {now}):",
        "stopped": f"⏹️ {asked} not finished (the job was {safe(outcome.job, 20)} before it "
        f"ended; {now}):",
    }[outcome.result]
    request = safe(outcome.request_id, 42, kind=Kind.LITERAL)
    job = f"the bulk job of approval request {request}"
    return f"{how} {job}, asked by <@{outcome.requester}>, approved"


def outcome_line(outcome: CardOutcome) -> str:
    """One line of a card's history (and its thread)."""
    return stamp(outcome.actor, _what_happened(outcome), outcome.at)


def outcome_lines(outcomes: Sequence[CardOutcome]) -> list[str]:
    return [outcome_line(o) for o in outcomes]


INVITE = "Invite me with `/invite @Email Security`"


def where(channel: str) -> str:
    """A conversation as a person reads it: a channel link, or what a DM is."""
    if re.fullmatch(r"[CG][A-Z0-9]{2,30}", channel):
        return f"<#{channel}>"
    return "this direct message" if channel.startswith("D") else "this conversation"


def not_here(channel: str | None) -> str:
    """Why nothing can be posted in `channel`, and what to do about it."""
    if channel is not None and channel.startswith("D"):
        return "I can't post in a direct message I'm not part of; use a channel I'm in."
    place = "this channel" if channel is None else where(channel)
    return f"I can't post in {place}: I'm not a member. {INVITE}, or use a channel I'm in."


def held_alerts(channel: str, why: str) -> str:
    """The DM to approvers when alerts for `channel` are held (`why`: Slack's refusal)."""
    reasons = {
        "not_in_channel": "I'm not a member of it",
        "is_archived": "it is archived",
    }
    reason = reasons.get(
        why, "Slack finds no such channel I can see (a private channel I'm not in, or a wrong "
        "id in ALERT_CHANNEL or ALERT_ROUTES)",
    )  # fmt: skip
    return (
        f"⚠️ Alerts for {where(channel)} are held: I can't post there, {reason}. {INVITE} in "
        "that channel: the held alerts are posted within a poll interval, none is lost."
    )


def action_notes(result: ActionResult, *, listed: bool = False) -> list[str]:
    """What the person who asked is told privately (the cards show the rest; what no card
    shows, because the bot may not post where it was asked, is told here instead, unless
    `listed` already says what became of every message)."""
    notes = [
        f"{safe(each.message_id, 122, kind=Kind.LITERAL)} is not in quarantine: nothing to release."
        for each in result.outcomes
        if isinstance(each.outcome, NotQuarantined)
    ]
    if result.unshown and not listed:
        notes += [
            f"{safe(each.message_id, 122, kind=Kind.LITERAL)}: {_what_happened(each.outcome)}"
            for each in result.unshown
        ]
    if result.unshown:
        notes.append(f"No card shows this: {not_here(result.unshown_in)}")
    if result.requested is not None:
        made = result.requested
        notes.append(f"Asked for approval: {what(made)} ({made.rule}). {result.approvers}".strip())
    if result.unaudited:
        notes.append("Done, but not recorded in the audit trail: the bot's Redis is unreachable.")
    return notes


def picked_notes(result: ActionResult) -> list[str]:
    """What the person who acted on ticked search hits is told privately: what became of each
    id (the cards posted in the channel say it too) or the one request that covers them all."""
    lines = [
        f"{safe(each.message_id, 120, kind=Kind.LITERAL)}: {_what_happened(each.outcome)}"
        for each in result.outcomes
        if not isinstance(each.outcome, NotQuarantined)
    ]
    notes = action_notes(result, listed=True)
    if result.requested is not None:
        made = result.requested
        ids = ", ".join(safe(i, 120, kind=Kind.LITERAL) for i in made.ids[:PICKED_NAMED])
        more = f" and {len(made.ids) - PICKED_NAMED} more" if len(made.ids) > PICKED_NAMED else ""
        notes.append(f"Request {safe(made.id, 40, kind=Kind.LITERAL)} covers {ids}{more}.")
    return lines + notes


def decision_line(request: ApprovalRequest, event: ApprovalEvent, actor: str) -> str | None:
    """The request thread's line for `event` (None: nothing to say in the thread)."""
    lines = {
        "approved": f"👍 Approved by <@{actor}>; more approvals needed.",
        "executing": f"👍 Approved by <@{actor}>: running now.",
        "rejected": f"🚫 Rejected by <@{actor}>.",
        "cancelled": f"↩️ Cancelled by <@{actor}>.",
        "expired": "⌛ This request expired without enough approvals; nothing was done.",
        "withdrawn": f"↘️ <@{actor}>'s approval no longer counts: <@{actor}> is no longer an "
        f"approver ({SETTING[Role.APPROVER]}); another approver is needed.",
    }
    if event == "refused":
        return refusal_line(request)
    return lines.get(event)


def finished_line(request: ApprovalRequest, totals: ExecutionReport) -> str:
    if isinstance(totals, JobReport) and totals.job.phase != "refused":
        job = totals.job
        over = (  # BOT_BULK_JOB_CEILING named: it is the admin's to raise
            f" of {job.ceiling:,} ({JOB_CEILING})" if ceiling_is_setting(request) else ""
        )
        stopped = (
            f" Cancelled by the bot: it found more than the ceiling{over}." if job.over_ceiling
            else f" Cancelled by <@{job.cancelled_by}>." if job.cancelled_by else ""
        )  # fmt: skip
        status = safe(job.status or "?", 30).lower()  # the API's word
        return (
            f"{what(request)}: bulk job {status}. {job.successful:,} done, "
            f"{job.failed:,} failed.{stopped}"
        )
    if totals.notes:  # one step (a block, an allow, a trust): what it did, its error if any
        error = f" Error: {safe(totals.errors[0], 300)}" if totals.errors else ""
        return f"{what(request)}: finished: {safe(', '.join(totals.notes), 300)}.{error}"
    if totals.errors and request.action in ("allow", "trust"):
        return f"{what(request)}: failed: {safe(totals.errors[0], 300)}. Nothing was changed."
    return (
        f"{what(request)}: finished. {len(totals.failed)} failed, "
        f"{totals.skipped} skipped (already done or gone)."
    )
