"""Which of a channel's posts are alerts, and how the console lists them.

The alert poller posts a campaign's root (its first block the campaign headline) with the
campaign's other messages in the root's thread, PhishGuard reports (their text starts
"PhishGuard report: ") and digests ("Alert digest: "). In the local stack they share the
console's channel with everything else, and they arrive every few seconds: printed in full they
would bury what the person is doing. So the console announces a new alert in one line, lists
them with `alerts`, and shows one with its thread on request; a thread the person opened or
clicked in is shown in full.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from blocks.alerts import DIGEST_PREFIX, HEADLINE_BLOCK, REPORT_PREFIX
from bot.local.columns import SCREEN_COLUMNS, clip
from bot.local.console_screen import clock
from bot.local.render import mrkdwn, text_of

JsonObject = dict[str, Any]
Key = tuple[str, str]  # (channel, ts)
BOLD = re.compile(r"\*([^*\n]+)\*")
LISTED = 10  # alerts `alerts` lists, newest first


def key_of(message: JsonObject) -> Key:
    return (str(message["channel"]), str(message["ts"]))


def thread_of(message: JsonObject) -> Key:
    """The thread a message belongs to: its root's key (its own for a root)."""
    return (str(message["channel"]), str(message["thread_ts"] or message["ts"]))


def is_reply(message: JsonObject) -> bool:
    return bool(message["thread_ts"]) and message["thread_ts"] != message["ts"]


def is_alert_root(message: JsonObject, channel: str) -> bool:
    if message["channel"] != channel or not message.get("bot_id") or message["ephemeral"]:
        return False
    if is_reply(message):
        return False
    headline = any(
        isinstance(b, dict) and b.get("block_id") == HEADLINE_BLOCK for b in message["blocks"]
    )
    return headline or str(message["text"]).startswith((REPORT_PREFIX, DIGEST_PREFIX))


def alert_posts(messages: Mapping[Key, JsonObject], channel: str) -> set[Key]:
    """The alert roots in `channel` and every post in their threads."""
    roots = {k for k, m in messages.items() if is_alert_root(m, channel)}
    return roots | {k for k, m in messages.items() if is_reply(m) and thread_of(m) in roots}


def replies(messages: Iterable[JsonObject]) -> Counter[Key]:
    return Counter(thread_of(m) for m in messages if is_reply(m) and not m["ephemeral"])


def summary(message: JsonObject) -> str:
    """An alert in a few words: the first two bold phrases of its blocks (the headline, e.g.
    "Campaign: 6 messages", then the subject), else its notification text."""
    found: list[str] = []
    for text in _texts(message["blocks"]):
        for phrase in BOLD.findall(text):
            if phrase not in found:
                found.append(phrase)
    if not found:
        return text_of(str(message["text"]))
    return " · ".join(mrkdwn(phrase) for phrase in found[:2])


def _texts(blocks: list[JsonObject]) -> Iterable[str]:
    for block in blocks:
        if not isinstance(block, dict):
            continue
        text = block.get("text")
        if isinstance(text, dict):
            yield str(text.get("text", ""))
        for element in block.get("elements") or []:
            if isinstance(element, dict) and isinstance(element.get("text"), str):
                yield element["text"]


def notice(message: JsonObject) -> str:
    """The one line that announces a new alert."""
    return clip(f"🚨 {clock(message['ts'])} new alert: {summary(message)}", SCREEN_COLUMNS)


def listing(roots: list[JsonObject], counts: Counter[Key], channel: str) -> list[str]:
    """`alerts`: the newest roots first, each with its number, time, replies and summary."""
    if not roots:
        return [f"══ no alerts in #{channel} yet ══"]
    lines = [f"══ alerts in #{channel}: the latest {len(roots)} ══"]
    for number, message in enumerate(roots, 1):
        count = counts[key_of(message)]
        said = counted(count, "reply") if count else "no replies"
        line = f"{number:>2}) {clock(message['ts'])} · {said} · {summary(message)}"
        lines.append(clip(line, SCREEN_COLUMNS))
    lines.append("(alert N shows one with its thread, buttons numbered)")
    return lines


def counted(number: int, noun: str) -> str:
    """`1 reply`, `2 replies`, `3 alerts`."""
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{number} {noun if number == 1 else plural}"
