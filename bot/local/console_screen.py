"""What the console prints, and what its numbers point at.

Buttons and menus are numbered across the session's output; a number keeps pointing at the
version of the message or view it was printed with (clicking it clicks that version, as a
stale Slack client would). `reset_numbers` starts again from 1. Every line is folded to fit
an 80-column terminal (`bot.local.columns.fit`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.local.columns import fit
from bot.local.render import Clickable, Renderer, mrkdwn, render, text_of

JsonObject = dict[str, Any]


@dataclass
class Target:
    clickable: Clickable
    message: JsonObject | None = None  # the stand-in message (hook shape) it sits on
    view: JsonObject | None = None  # or the modal / Home tab


class Screen:
    def __init__(self, out: Callable[[str], None] | None = None) -> None:
        self.out = out
        self.transcript: list[str] = []
        self.targets: dict[int, Target] = {}
        self.next_number = 1

    def say(self, text: str) -> None:
        text = "\n".join(folded for line in text.split("\n") for folded in fit(line))
        self.transcript.append(text)
        if self.out is not None:
            self.out(text)

    def note(self, text: str) -> None:
        """Kept in the transcript, not printed: what the person typed (the terminal shows it
        already), so that a test's screen reads like the session."""
        self.transcript.append(text)

    def text(self) -> str:
        return "\n".join(self.transcript)

    def mark(self) -> int:
        return len(self.transcript)

    def since(self, mark: int) -> str:
        return "\n".join(self.transcript[mark:])

    def reset_numbers(self) -> None:
        self.targets.clear()
        self.next_number = 1

    def _number(self, clickables: list[Clickable], **where: Any) -> None:
        for clickable in clickables:
            self.targets[clickable.number] = Target(clickable, **where)
        self.next_number += len(clickables)

    def message(self, message: JsonObject, me: str, *, updated: bool = False) -> None:
        """A stand-in message (hook shape) as seen by user `me`."""
        body, clickables = render(message["blocks"], self.next_number)
        if not message["blocks"]:
            body = mrkdwn(message["text"])
        self._number(clickables, message=message)
        lines = body.splitlines()
        for attachment in message.get("attachments") or []:
            lines += ["▌ " + line for line in self._attachment(message, attachment)]
        for file in message["files"] or []:
            lines.append(f"[file: {text_of(file.get('title') or file.get('name'))}]")
        self.say("\n".join([_title(message, me, updated), *("  " + line for line in lines)]))

    def _attachment(self, message: JsonObject, attachment: JsonObject) -> list[str]:
        body, clickables = render(attachment.get("blocks") or [], self.next_number)
        self._number(clickables, message=message)
        text = body or mrkdwn(str(attachment.get("text") or attachment.get("fallback") or ""))
        return text.splitlines()

    def view(
        self,
        view: JsonObject,
        what: str,
        values: dict[str, Any],
        errors: JsonObject | None = None,
    ) -> None:
        """A modal or Home tab, its inputs showing `values` (and `errors` from the bot)."""
        renderer = Renderer(self.next_number, values)
        renderer.blocks(view.get("blocks") or [])
        self._number(renderer.clickables, view=view)
        title = text_of(view.get("title"))
        lines = [f"── {what}: {title} ──" if title else f"── {what} ──"]
        lines += ["  " + line for text in renderer.lines for line in text.split("\n")]
        for item in renderer.inputs:
            if errors and item.block_id in errors:
                error = mrkdwn(str(errors[item.block_id]))
                lines.append(f"  ⚠ {{{item.number}}} {item.label}: {error}")
        if view.get("type") == "modal":
            submit = text_of(view.get("submit")) or "—"
            close = text_of(view.get("close")) or "Cancel"
            lines.append(f"  (set N VALUE · submit = {submit} · cancel = {close})")
        self.say("\n".join(lines))


def _title(message: JsonObject, me: str, updated: bool) -> str:
    if message.get("bot_id"):
        author = "bot"
    else:
        author = "you" if message["user"] == me else str(message["user"])
    ts = message["ts"]
    # Kept short, so that a reply's or a private answer's title fits in 80 columns.
    parts = [author, f"#{message['channel']}", f"{clock(ts)} ts {ts}"]
    if message["thread_ts"] and message["thread_ts"] != ts:
        parts.append(f"in thread {message['thread_ts']}")
    if message["ephemeral"]:
        parts.append("only visible to you")
    if updated:
        parts.append("updated")
    return "── " + " · ".join(parts)


def clock(ts: str) -> str:
    try:
        return datetime.fromtimestamp(float(ts)).strftime("%H:%M:%S")
    except (ValueError, OverflowError, OSError):
        return "?"
