"""The audit trail as `/email audit [id]` shows it (newest first, one line per entry), and what
`/email audit verify` found of its hash chain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from slack_sdk.models.blocks import Block, ContextBlock, SectionBlock

from blocks.parts import mrkdwn, safe_or, when
from blocks.safety import Kind, clamp, safe
from bot.services.audit_chain import Break, Problem, TrailCheck
from bot.services.audit_entry import AuditEntry

LINES_PER_BLOCK = 10


def audit_blocks(entries: Sequence[AuditEntry], subject: str | None) -> list[Block]:
    about = f" for {safe(subject, 122, kind=Kind.LITERAL)}" if subject else ""
    if not entries:
        return [SectionBlock(text=mrkdwn(f"No audit entries{about}."))]
    lines = [_line(entry) for entry in entries]
    blocks: list[Block] = [SectionBlock(text=mrkdwn(f"*Audit trail{about}*, newest first"))]
    for start in range(0, len(lines), LINES_PER_BLOCK):
        chunk = "\n".join(lines[start : start + LINES_PER_BLOCK])
        blocks.append(SectionBlock(text=mrkdwn(clamp(chunk, 3000))))
    blocks.append(ContextBlock(elements=[mrkdwn("Kept in Redis; ids listed up to 100 per entry.")]))
    return blocks


def _line(entry: AuditEntry) -> str:
    actor = f"<@{entry.actor}>" if entry.actor.startswith(("U", "W")) else safe(entry.actor, 40)
    count = max(entry.count, len(entry.ids))
    one = count == 1 and entry.ids
    ids = safe_or(entry.ids[0], 82, kind=Kind.LITERAL) if one else f"{count} messages"
    request = (
        f" · request {safe(entry.request_id, 42, kind=Kind.LITERAL)}" if entry.request_id else ""
    )
    detail = f" · {safe_or(_detail(entry.detail), 200)}" if entry.detail else ""
    return (
        f"{when(entry.at)} · {actor} · {safe(entry.action, 60)} · {ids} · "
        f"{safe(entry.outcome, 60)}{request}{detail}"
    )


def _detail(detail: object) -> str:
    if isinstance(detail, dict):
        return ", ".join(f"{k} {v}" for k, v in detail.items())
    return str(detail)


# Why an entry broke the chain (bot.services.audit_chain), as the person checking reads it.
_PROBLEMS: dict[Problem, str] = {
    "changed": "its content does not match its seal: it was changed after it was written, or "
    "written by someone without the bot's key.",
    "unlinked": "it does not follow the entry before it{before}: entries between them were "
    "deleted, or one of them was added or changed in Redis.",
    "unsealed": "it carries no seal, after sealed entries: the bot did not write it.",
    "foreign_key": "it is sealed with another key than this bot's, after entries sealed with "
    "this bot's key: someone else wrote it, or a replica whose integrity key differs "
    "(BOT_INTEGRITY_KEY, or the Slack secret it is derived from).",
    "head_removed": "the entries before it are missing although the stream is below its cap: "
    "they were deleted, not trimmed.",
}


def trail_check_text(check: TrailCheck) -> str:
    """The one-line summary (the notification text) of a check."""
    if check.broken is None:
        return f"Audit trail intact: {check.checked} entries checked"
    return f"Audit trail broken at entry {safe(check.broken.entry_id, 42, kind=Kind.LITERAL)}"


def trail_check_blocks(check: TrailCheck) -> list[Block]:
    lines = [_verdict(check)] if check.broken is None else [_broken(check, check.broken)]
    if check.oldest is not None:
        start = f"The check started at the oldest entry, {_entry_ref(check.oldest)}"
        if check.trimmed:
            start += ": the entries before it were trimmed by the stream's cap"
        lines.append(start + ".")
    if check.unverifiable:
        lines.append(
            f"{check.unverifiable} of the oldest entries were written before the chain began or "
            "under a previous integrity key: their order was checked, their content could not be."
        )
    blocks: list[Block] = [SectionBlock(text=mrkdwn(clamp("\n".join(lines), 3000)))]
    if check.broken is None and check.newest is not None:
        seal = safe(check.newest_hash[:16], 18, kind=Kind.LITERAL)
        blocks.append(ContextBlock(elements=[mrkdwn(
            f"Newest entry {_entry_ref(check.newest)}, seal {seal}: "
            "note it. The chain shows what was changed or removed before it, not whether "
            "newer entries were removed; a later check should still reach it."
        )]))  # fmt: skip
    return blocks


def _verdict(check: TrailCheck) -> str:
    if check.checked == 0:
        return "*Audit trail intact: 0 entries checked* (the trail is empty)."
    return f"✅ *Audit trail intact: {check.checked} entries checked*, every seal and link holds."


def _broken(check: TrailCheck, broken: Break) -> str:
    before = f" ({_entry_ref(broken.before)})" if broken.before else ""
    reason = _PROBLEMS[broken.problem].format(before=before)
    return (
        f"🚨 *Audit trail broken at entry {_entry_ref(broken.entry_id)}*: {reason}\n"
        f"The {check.checked} entries before it passed. Compare the stream (`XRANGE audit`) "
        "with an exported copy to see what changed."
    )


def _entry_ref(entry_id: str) -> str:
    """`<id>` (its time): a stream id starts with the milliseconds it was added at."""
    ms = entry_id.partition("-")[0]
    try:
        moment = datetime.fromtimestamp(int(ms) / 1000, UTC) if ms.isdigit() else None
    except (OverflowError, OSError, ValueError):  # an id a forger chose far in the future
        moment = None
    return f"{safe(entry_id, 42, kind=Kind.LITERAL)} ({when(moment)})"
