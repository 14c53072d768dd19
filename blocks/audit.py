"""The audit trail as `/email audit [id]` shows it: newest first, one line per entry."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ContextBlock, SectionBlock

from blocks.parts import mrkdwn, safe_or, when
from blocks.safety import clamp, safe
from bot.services.audit_entry import AuditEntry

LINES_PER_BLOCK = 10


def audit_blocks(entries: Sequence[AuditEntry], subject: str | None) -> list[Block]:
    about = f" for `{safe(subject, 120)}`" if subject else ""
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
    ids = f"`{safe(entry.ids[0], 80)}`" if count == 1 and entry.ids else f"{count} messages"
    request = f" · request `{safe(entry.request_id, 40)}`" if entry.request_id else ""
    detail = f" · {safe_or(_detail(entry.detail), 200)}" if entry.detail else ""
    return (
        f"{when(entry.at)} · {actor} · {safe(entry.action, 60)} · {ids} · "
        f"{safe(entry.outcome, 60)}{request}{detail}"
    )


def _detail(detail: object) -> str:
    if isinstance(detail, dict):
        return ", ".join(f"{k} {v}" for k, v in detail.items())
    return str(detail)
