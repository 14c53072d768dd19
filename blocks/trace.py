"""The delivery trace of a message: inbound and outbound log lines in preformatted text.

Trace lines quote the sender's hosts, addresses and HELO strings, so each goes through `safe`
(preformatted text is still parsed for `<…>` and auto-linked). Lines are packed into sections
of at most `CHUNK_CHARS`; the whole trace gets `TRACE_BUDGET` characters, so a long trace is
cut (and says so) rather than rejected by Slack."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ContextBlock, SectionBlock

from blocks import parts
from blocks.parts import mrkdwn, safe_or
from blocks.safety import Kind, text_width
from bot.cloudflare.models import Trace, TraceLine, TraceSection

LINE_CHARS = 400
CHUNK_CHARS = 2_900  # a section allows 3000; the code fence takes 8
TRACE_BUDGET = 10_000
FENCE = "```"


def trace_blocks(message_id: str, trace: Trace) -> list[Block]:
    inbound = _lines(trace.inbound.lines or [])
    outbound = _lines(trace.outbound.lines or [])
    in_budget, out_budget = _share(_need(inbound), _need(outbound), TRACE_BUDGET)
    head = f"*Delivery trace* of {safe_or(message_id, 120, kind=Kind.LITERAL)}"
    return [
        SectionBlock(text=mrkdwn(head)),
        *_direction("Inbound", trace.inbound, inbound, in_budget),
        *_direction("Outbound", trace.outbound, outbound, out_budget),
    ]


def _lines(lines: Sequence[TraceLine]) -> list[str]:
    """`lineno  time  message`, safe; backticks swapped so a line cannot close the fence."""
    out = []
    for line in lines:
        number = "" if line.lineno is None else f"{line.lineno:>4}"
        text = safe_or(line.message, LINE_CHARS, "").replace("`", "\u02cb")
        out.append(" ".join(part for part in (number, parts.when(line.logged_at), text) if part))
    return out


def _need(lines: Sequence[str]) -> int:
    return sum(text_width(line) + 1 for line in lines)


def _share(need_in: int, need_out: int, budget: int) -> tuple[int, int]:
    """Split `budget`: each side gets what it needs if both fit, else what the other leaves
    of its half (a short outbound trace leaves the rest to inbound)."""
    half = budget // 2
    if need_in + need_out <= budget:
        return need_in, need_out
    if need_out < half:
        return budget - need_out, need_out
    if need_in < half:
        return need_in, budget - need_in
    return half, half


def _direction(label: str, section: TraceSection, lines: list[str], budget: int) -> list[Block]:
    pending = " · ⏳ pending" if section.pending else ""
    title = f"*{label}* ({len(lines)} line{'' if len(lines) == 1 else 's'}){pending}"
    if not lines:
        return [SectionBlock(text=mrkdwn(f"*{label}*: No trace lines{pending}"))]
    chunks, used = _chunks(lines, budget)
    blocks: list[Block] = [SectionBlock(text=mrkdwn(title))]
    blocks += [SectionBlock(text=mrkdwn(f"{FENCE}\n{chunk}\n{FENCE}")) for chunk in chunks]
    if used < len(lines):
        note = f"{len(lines) - used} more {label.lower()} line(s) not shown."
        blocks.append(ContextBlock(elements=[mrkdwn(note)]))
    return blocks


def _chunks(lines: list[str], budget: int) -> tuple[list[str], int]:
    """Pack lines into sections of at most CHUNK_CHARS within `budget`; also how many fit."""
    chunks: list[list[str]] = [[]]
    size = spent = used = 0
    for line in lines:
        width = text_width(line) + 1
        if spent + width > budget:
            break
        if size + width > CHUNK_CHARS:
            chunks.append([])
            size = 0
        chunks[-1].append(line)
        size += width
        spent += width
        used += 1
    return ["\n".join(chunk) for chunk in chunks if chunk], used
